"""Forms of the follow-up pages (publicity, spot checks, recipients, rechecks, changes, deaths, holidays).

As in doudi.web.forms, fields are parsed here and validated by the services, which name the field they refuse.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from doudi.cases.choices import ChangeKind, Program, RecipientStatus
from doudi.cases.selectors import RECIPIENT_STATUS_FILTERS
from doudi.web.forms import BLANK, Choices, DateInput, ServiceForm, set_choices, with_blank

# Programs that create recipients (recurring benefits); one-off programs never appear in the recipient list.
RECURRING_PROGRAMS = [(p.value, p.label) for p in Program if p not in (Program.TEMPORARY_ASSISTANCE, Program.FUNERAL)]
STATUS_FILTER_LABELS = {"live": _("在保（正常、渐退、暂停）"), "all": _("全部状态")}


class MonthInput(forms.DateInput):
    input_type = "month"


class SpotCheckDrawForm(ServiceForm):
    marked = frozenset({"program", "county_code"})
    program = forms.ChoiceField(label=_("救助项目"), choices=with_blank(Program.choices), required=False)
    county_code = forms.ChoiceField(label=_("县级区划"), required=False)

    def __init__(self, *args: Any, counties: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One county (a county approver's own) is preselected; above a county the caller names it.
        set_choices(self, "county_code", counties if len(counties) == 1 else with_blank(counties))


class RecipientFilterForm(forms.Form):
    program = forms.ChoiceField(label=_("救助项目"), required=False)
    status = forms.ChoiceField(label=_("对象状态"), required=False)
    village = forms.ChoiceField(label=_("村（社区）"), required=False)
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args: Any, villages: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "program", [("", _("全部项目")), *RECURRING_PROGRAMS])
        labels = {**STATUS_FILTER_LABELS, **dict(RecipientStatus.choices)}
        set_choices(self, "status", [(code, labels[code]) for code in RECIPIENT_STATUS_FILTERS])
        set_choices(self, "village", [("", _("全部村（社区）")), *villages])


def month_value(value: str) -> str:
    """A month input sends YYYY-MM; the services take a date (the first of the month)."""
    value = (value or "").strip()
    return f"{value}-01" if len(value) == 7 else value


class RecipientStatusForm(ServiceForm):
    marked = frozenset({"to_status", "effective_month", "reason"})
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    to_status = forms.ChoiceField(label=_("变更为"), choices=with_blank(RecipientStatus.choices), required=False)
    effective_month = forms.CharField(
        label=_("生效月份"), required=False, widget=MonthInput, help_text=_("终止时，生效月份起停发")
    )
    reason = forms.CharField(
        label=_("变更原因"), max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean_effective_month(self) -> str:
        return month_value(self.cleaned_data["effective_month"])

    def __init__(self, *args: Any, current: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if current:
            set_choices(self, "to_status", [BLANK, *((c, lbl) for c, lbl in RecipientStatus.choices if c != current)])


class RecheckFilterForm(forms.Form):
    within = forms.IntegerField(
        label=_("未来天数"),
        required=False,
        min_value=0,
        max_value=366,
        widget=forms.NumberInput(attrs={"placeholder": "30"}),
        help_text=_("列出这些天内到期的复查，默认30天"),
    )
    overdue = forms.BooleanField(label=_("只看已逾期"), required=False)


class RecheckOpenForm(ServiceForm):
    """No input: the recheck is named by the URL. Errors (already opened …) show above the list."""


class ChangeReportForm(ServiceForm):
    marked = frozenset({"kind", "reported_on"})
    kind = forms.ChoiceField(label=_("变更事项"), choices=with_blank(ChangeKind.choices), required=False)
    reported_on = forms.CharField(label=_("报告日期"), required=False, widget=DateInput)
    person_id = forms.TypedChoiceField(
        label=_("涉及成员"), coerce=int, empty_value=None, required=False, help_text=_("死亡报告须选择死亡人员")
    )
    death_date = forms.CharField(label=_("死亡日期"), required=False, widget=DateInput, help_text=_("仅死亡报告填写"))
    note = forms.CharField(
        label=_("变更内容"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("如收入变化的金额和原因、成员变动情况、财产变化等"),
    )

    def __init__(self, *args: Any, members: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "person_id", [("", _("不涉及具体成员")), *members])


class HouseholdLookupForm(ServiceForm):
    number = forms.CharField(label=_("户编号"), max_length=20, required=False, help_text=_("18位户编号"))


class DeathRecordForm(ServiceForm):
    marked = frozenset({"death_date"})
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    death_date = forms.CharField(label=_("死亡日期"), required=False, widget=DateInput)


class HolidayForm(ServiceForm):
    marked = frozenset({"date", "day_kind"})
    aliases = {"is_working_day": "day_kind"}
    date = forms.CharField(label=_("日期"), required=False, widget=DateInput)
    day_kind = forms.ChoiceField(
        label=_("调整为"),
        choices=[("holiday", _("休息日（放假）")), ("working", _("工作日（调休上班）"))],
        initial="holiday",
        required=False,
    )
    note = forms.CharField(label=_("说明"), max_length=100, required=False)


class HolidayDeleteForm(ServiceForm):
    date = forms.CharField(required=False, widget=forms.HiddenInput)
