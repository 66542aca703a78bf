"""Payroll page forms: they parse the input; the payments services do the real validation and name the field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from doudi.cases.choices import Program
from doudi.payments.choices import LineStatus
from doudi.web.forms import ServiceForm, set_choices, with_blank


class MonthInput(forms.TextInput):
    input_type = "month"  # browsers send YYYY-MM; older ones show a text box with the placeholder


class PayrollGenerateForm(ServiceForm):
    marked = frozenset({"county_code", "program", "month"})
    county_code = forms.ChoiceField(label=_("县（市、区）"), required=False)
    program = forms.ChoiceField(label=_("救助项目"), required=False, choices=with_blank(Program.choices))
    month = forms.CharField(
        label=_("发放月份"),
        required=False,
        max_length=7,
        widget=MonthInput(attrs={"placeholder": "YYYY-MM"}),
        help_text=_("格式：YYYY-MM，例如 2026-01"),
    )

    def __init__(self, *args: Any, counties: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "county_code", counties if len(counties) == 1 else with_blank(counties))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name, message in (
            ("county_code", _("请选择县（市、区）")),
            ("program", _("请选择救助项目")),
            ("month", _("请填写发放月份")),
        ):
            if name in data and not data[name]:
                self.add_error(name, message)
        return data


class VersionForm(ServiceForm):
    """Approve a payroll or its differences: the version shown, so that of two approvers one wins."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)


class ReissueForm(ServiceForm):
    """Re-issue failed lines: all of them, or the ones named (comma-separated line ids)."""

    line_ids = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean_line_ids(self) -> list[int] | None:
        text = (self.cleaned_data.get("line_ids") or "").strip()
        if not text:
            return None
        try:
            return [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise forms.ValidationError(_("明细编号格式不正确")) from None


class ReturnFileForm(ServiceForm):
    marked = frozenset({"file"})
    file = forms.FileField(
        label=_("银行回盘文件"),
        required=False,
        help_text=_("CSV（UTF-8或GBK）或 Excel（.xlsx）：明细编号、账号、金额、结果各一列，末行为合计行"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,.txt"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data.get("file")
        if not upload:
            raise forms.ValidationError(_("请选择要上传的回盘文件"))
        return upload


class BankAccountForm(ServiceForm):
    marked = frozenset({"bank_code", "bank_name", "account_number", "holder_name"})
    owner = forms.ChoiceField(
        label=_("账户归属"),
        required=False,
        help_text=_("特困供养、残疾人两项补贴等按人发放的项目，可登记在成员本人名下"),
    )
    bank_code = forms.CharField(label=_("银行代码"), required=False, max_length=12)
    bank_name = forms.CharField(label=_("开户银行"), required=False, max_length=60)
    account_number = forms.CharField(
        label=_("账号"), required=False, max_length=40, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )
    holder_name = forms.CharField(label=_("户名"), required=False, max_length=40)
    aliases = {"household_id": "owner", "person_id": "owner"}

    def __init__(self, *args: Any, members: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "owner", [("", _("家庭")), *[(str(pk), name) for pk, name in members]])

    def person_id(self) -> int | None:
        owner = self.cleaned_data.get("owner") or ""
        return int(owner) if owner else None


class LineFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("状态"), required=False, choices=with_blank(LineStatus.choices))
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
