"""Complaint forms. Fields carry length limits (the first line of defence against oversized input); the services
check the content and name the field in their errors. The public form adds a honeypot field and a signed
"form shown at" token (abuse resistance, docs/complaints.md §7)."""

from __future__ import annotations

import time
from typing import Any

from django import forms
from django.conf import settings
from django.core import signing
from django.utils.translation import gettext_lazy as _

from doudi.cases.choices import Program
from doudi.complaints.choices import Action, Channel, Finding, Kind, Status
from doudi.complaints.services import MAX_DESCRIPTION, MAX_REPLY, MAX_SUBJECT, MAX_TEXT
from doudi.core.errors import ApplicationError
from doudi.web.forms import DateInput, ServiceForm, with_blank

Choices = list[tuple[Any, Any]]
TOKEN_SALT = "doudi.complaints.public-form"  # noqa: S105 - a signing salt, not a secret
TOKEN_MAX_AGE = 2 * 3600
HONEYPOT = "website"


def min_fill_seconds() -> int:
    return int(getattr(settings, "DOUDI_COMPLAINT_MIN_FILL_SECONDS", 3))


def form_token(now: float | None = None) -> str:
    return signing.dumps({"t": int(time.time() if now is None else now)}, salt=TOKEN_SALT)


def check_token(token: str, now: float | None = None) -> None:
    """The form must have been shown by us, not more than two hours ago, and at least a few seconds ago (scripts
    post at once; people take longer to type a complaint)."""
    try:
        data = signing.loads(token or "", salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
        shown = int(data["t"])
    except signing.SignatureExpired:
        raise ApplicationError("form_expired", "页面已过期，请刷新页面后重新提交", None) from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise ApplicationError("form_invalid", "提交未通过校验，请刷新页面后重新填写", None, status=400) from None
    age = (time.time() if now is None else now) - shown
    if age > TOKEN_MAX_AGE:
        raise ApplicationError("form_expired", "页面已过期，请刷新页面后重新提交", None)
    if age < min_fill_seconds():
        raise ApplicationError("too_fast", "提交过快，请确认填写内容后再提交", None, status=400)


class ComplaintFields(ServiceForm):
    marked = frozenset({"kind", "region_code", "subject", "description"})
    kind = forms.ChoiceField(label=_("类别"), choices=Kind.choices, required=False, initial=Kind.REPORT)
    program = forms.ChoiceField(
        label=_("涉及的救助项目"), choices=[("", _("不确定或其他")), *Program.choices], required=False
    )
    region_code = forms.ChoiceField(label=_("涉及的乡镇（街道）或村（社区）"), required=False)
    county_matter = forms.BooleanField(
        label=_("涉及乡镇（街道）工作人员或县级部门"),
        required=False,
        help_text=_("勾选后由县级民政部门直接办理"),
    )
    subject = forms.CharField(label=_("标题"), max_length=MAX_SUBJECT, required=False)
    description = forms.CharField(
        label=_("具体内容"),
        max_length=MAX_DESCRIPTION,
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("请写明时间、地点、涉及的人和事；不超过5000字"),
    )
    anonymous = forms.ChoiceField(
        label=_("提交方式"),
        choices=[("1", _("匿名")), ("0", _("实名（可收到书面答复）"))],
        required=False,
        initial="1",
    )
    reporter_name = forms.CharField(label=_("姓名"), max_length=64, required=False)
    reporter_phone = forms.CharField(label=_("联系电话"), max_length=32, required=False)
    reporter_address = forms.CharField(
        label=_("通讯地址"), max_length=300, required=False, help_text=_("用于寄送书面答复")
    )

    def __init__(self, *args: Any, regions: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["region_code"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = with_blank(regions)
        self.fields["reporter_phone"].widget.attrs.update(autocomplete="tel", inputmode="tel")
        self.fields["reporter_name"].widget.attrs.update(autocomplete="name")

    def is_anonymous(self) -> bool:
        """Anonymous unless real-name was chosen explicitly."""
        return self.cleaned_data.get("anonymous") != "0"

    def reporter(self) -> dict[str, str]:
        data = self.cleaned_data
        return {
            "name": data.get("reporter_name", ""),
            "phone": data.get("reporter_phone", ""),
            "address": data.get("reporter_address", ""),
        }


class PublicComplaintForm(ComplaintFields):
    # Honeypot: hidden from people (CSS and aria-hidden), filled by form-filling robots.
    website = forms.CharField(label=_("请勿填写此项"), required=False, max_length=200)
    started = forms.CharField(widget=forms.HiddenInput, required=False, max_length=200)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["website"].widget.attrs.update(tabindex="-1", autocomplete="off")
        if not self.is_bound:
            self.initial["started"] = form_token()

    def visible_without_honeypot(self) -> list[Any]:
        return [f for f in self.visible_fields() if f.name != HONEYPOT]

    def check_abuse(self) -> None:
        """Raise for a filled honeypot or a missing, forged, stale or too-fresh form token."""
        if str(self.data.get(HONEYPOT, "")).strip():
            raise ApplicationError("form_invalid", "提交未通过校验，请刷新页面后重新填写", None, status=400)
        check_token(str(self.data.get("started", "")))


class StaffComplaintForm(ComplaintFields):
    marked = frozenset({"kind", "channel", "region_code", "subject", "description", "received_on"})
    channel = forms.ChoiceField(
        label=_("来源渠道"),
        choices=with_blank([c for c in Channel.choices if c[0] != Channel.PORTAL]),
        required=False,
    )
    received_on = forms.CharField(label=_("收到日期"), required=False, widget=DateInput)

    field_order = ["channel", "received_on", "kind"]


class LookupForm(ServiceForm):
    marked = frozenset({"number"})
    number = forms.CharField(
        label=_("受理编号"),
        max_length=40,
        required=False,
        help_text=_("提交时显示的20位编号，例如 ABCD-EFGH-JKMN-PQRS-TUV2；不区分大小写"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["number"].widget.attrs.update(autocomplete="off", autocapitalize="characters", spellcheck="false")


# --- staff handling forms ---------------------------------------------------------------------------------------
class VersionForm(ServiceForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class AcceptForm(VersionForm):
    acted_on = forms.CharField(label=_("受理日期"), required=False, widget=DateInput, help_text=_("不填为今天"))
    note = forms.CharField(label=_("说明"), max_length=MAX_TEXT, required=False)


class NotAcceptForm(VersionForm):
    marked = frozenset({"reason"})
    reason = forms.CharField(
        label=_("不予受理理由"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("受理编号持有人可查看此理由，请勿写入个人信息"),
    )
    acted_on = forms.CharField(label=_("办理日期"), required=False, widget=DateInput)


class EntryForm(VersionForm):
    marked = frozenset({"text"})
    text = forms.CharField(
        label=_("调查核实情况"), max_length=MAX_TEXT, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    finding = forms.ChoiceField(label=_("核查结论"), choices=with_blank(Finding.choices), required=False)
    action = forms.ChoiceField(label=_("处理措施"), choices=with_blank(Action.choices), required=False)
    recipient_id = forms.IntegerField(
        label=_("救助对象编号"), required=False, min_value=1, help_text=_("复查、暂停或终止救助时填写")
    )
    effective_month = forms.CharField(
        label=_("生效月份"), required=False, widget=DateInput, help_text=_("暂停或终止从该月1日起生效")
    )
    acted_on = forms.CharField(label=_("办理日期"), required=False, widget=DateInput)


class LinkForm(VersionForm):
    household_number = forms.CharField(label=_("户编号"), max_length=20, required=False)
    application_id = forms.IntegerField(label=_("案件编号"), required=False, min_value=1)
    recipient_id = forms.IntegerField(label=_("救助对象编号"), required=False, min_value=1)


class RerouteForm(VersionForm):
    marked = frozenset({"to_office_code", "reason"})
    to_office_code = forms.ChoiceField(label=_("转至"), required=False)
    reason = forms.CharField(label=_("转办理由"), max_length=500, required=False)

    def __init__(self, *args: Any, offices: Choices, escalate: bool = False, **kwargs: Any) -> None:
        """`escalate`: a township office, whose only target is its county — no list of offices, the page shows a
        single "上报县级" button (the view sends the county's code)."""
        super().__init__(*args, **kwargs)
        if escalate:
            del self.fields["to_office_code"]
            self.fields["reason"].help_text = _(
                "上报后由县级民政部门办理或改派其他乡镇（街道）；本乡镇（街道）将不再看到该投诉举报"
            )
            return
        field = self.fields["to_office_code"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = with_blank(offices)


class AnswerForm(VersionForm):
    marked = frozenset({"public_reply"})
    public_reply = forms.CharField(
        label=_("公开答复摘要"),
        max_length=MAX_TEXT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("凭受理编号可查看；不得包含任何个人信息"),
    )
    reply = forms.CharField(
        label=_("书面答复（实名）"),
        max_length=MAX_REPLY,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("实名投诉举报必填，生成答复书PDF寄送举报人"),
    )
    acted_on = forms.CharField(label=_("答复日期"), required=False, widget=DateInput)


class CloseForm(VersionForm):
    note = forms.CharField(label=_("说明"), max_length=MAX_TEXT, required=False)
    acted_on = forms.CharField(label=_("办结日期"), required=False, widget=DateInput)


class ListFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("状态"), choices=[("", _("全部状态")), *Status.choices], required=False)
    kind = forms.ChoiceField(label=_("类别"), choices=[("", _("全部类别")), *Kind.choices], required=False)
    due = forms.ChoiceField(
        label=_("期限"),
        choices=[("", _("全部")), ("overdue", _("已超期")), ("soon", _("即将到期"))],
        required=False,
    )
    mine = forms.BooleanField(label=_("仅本单位承办"), required=False)
