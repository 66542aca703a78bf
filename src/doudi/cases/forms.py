"""Forms of the case workflow pages: they parse the input; the case services validate it and name the field at
fault (see doudi.web.forms.ServiceForm). Every action form carries the case `version` (optimistic locking)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from doudi.cases.choices import KIN_POSITIONS, KIN_RELATIONS, PERSONAL_PROGRAMS, Discovery, Level, Program
from doudi.cases.defaults import DOCS_DIBAO, DOCS_DISABILITY, DOCS_FUNERAL, DOCS_TA, DOCS_TEKUN
from doudi.core.errors import ApplicationError
from doudi.web.forms import BLANK, Choices, DateInput, ServiceForm, with_blank

# The documents checklist of each program's shipped workflow (a regional workflow may list others; the case page
# then uses the case's own list).
PROGRAM_DOCUMENTS: dict[str, dict[str, str]] = {
    Program.DIBAO: DOCS_DIBAO,
    Program.TEKUN: DOCS_TEKUN,
    Program.TEMPORARY_ASSISTANCE: DOCS_TA,
    Program.DISABILITY_LIVING: DOCS_DISABILITY,
    Program.DISABILITY_NURSING: DOCS_DISABILITY,
    Program.FUNERAL: DOCS_FUNERAL,
}
ALL_DOCUMENTS: dict[str, str] = {code: label for docs in PROGRAM_DOCUMENTS.values() for code, label in docs.items()}
REQUEST_TYPES = [("emergency", _("急难型")), ("expense", _("支出型"))]
REQUEST_GROUPS = [("other", _("其他困难群众")), ("dibao", _("低保对象、建档立卡户")), ("tekun", _("特困人员、孤儿"))]
CONCLUSIONS = [("pass", _("通过")), ("fail", _("不通过")), ("further_check", _("需进一步核实"))]
RESULTS = [("pass", _("符合")), ("fail", _("不符合"))]


def _today() -> dt.date:
    return timezone.localdate()


def date_input() -> DateInput:
    """A date picker whose value is ISO (the browser's date input accepts nothing else)."""
    return DateInput(format="%Y-%m-%d")


def textarea(rows: int = 2) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


class CaseForm(ServiceForm):
    """A case form: a refusal that is not about the input (wrong role, outside the region, already done, out of
    order, stale version: 403 / 404 / 409) becomes the error page; the rest goes on the field it names."""

    def apply_error(self, exc: ApplicationError) -> None:
        if exc.status in (403, 404, 409):
            raise exc
        super().apply_error(exc)


class ActionForm(CaseForm):
    """An action on a case: its version and, for steps, the day it was done (back-dated entries are allowed, never
    before the step opened nor after today)."""

    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    acted_on = forms.DateField(
        label=_("办理日期"), required=False, widget=date_input(), help_text=_("默认今天；补录时填写实际办理日期")
    )

    def clean_acted_on(self) -> dt.date | None:
        # Not before the step opened: the step services check that (`_acting_date`) and the error lands here.
        day: dt.date | None = self.cleaned_data.get("acted_on")
        if day is not None and day > _today():  # also guards the actions whose services take no step
            raise forms.ValidationError(_("办理日期不能晚于今天"))
        return day


class IntakeForm(CaseForm):
    marked = frozenset({"program", "applicant_id", "received_on"})
    aliases = {"kin_details": "kin_name", "request": "request_type"}
    program = forms.ChoiceField(label=_("救助项目"), choices=with_blank(Program.choices), required=False)
    applicant_id = forms.TypedChoiceField(label=_("申请人"), coerce=int, empty_value=None, required=False)
    subject_person_id = forms.TypedChoiceField(
        label=_("救助对象（本人）"),
        coerce=int,
        empty_value=None,
        required=False,
        help_text=_("特困、残疾人两项补贴、惠民殡葬按人申请时选择；低保、临时救助以家庭为单位，不选"),
    )
    received_on = forms.DateField(label=_("受理日期"), required=False, widget=date_input())
    discovered_by = forms.ChoiceField(
        label=_("来源"),
        choices=[
            (Discovery.INTAKE, Discovery.INTAKE.label),
            (Discovery.ACTIVE_DISCOVERY, Discovery.ACTIVE_DISCOVERY.label),
        ],
        required=False,
    )
    documents = forms.MultipleChoiceField(
        label=_("已收到的申请材料"),
        choices=list(ALL_DOCUMENTS.items()),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("按所选救助项目的材料清单勾选；其他项目的材料不计入"),
    )
    verification_authorised = forms.BooleanField(label=_("已签署家庭经济状况核对授权书"), required=False)
    authorised_on = forms.DateField(label=_("授权书签署日期"), required=False, widget=date_input())
    kin_declared = forms.BooleanField(label=_("申请人申明与低保经办人员或村（居）委会成员有近亲属关系"), required=False)
    kin_name = forms.CharField(label=_("近亲属姓名"), max_length=40, required=False)
    kin_relation = forms.ChoiceField(label=_("近亲属关系"), choices=with_blank(KIN_RELATIONS.items()), required=False)
    kin_position = forms.ChoiceField(label=_("近亲属身份"), choices=with_blank(KIN_POSITIONS.items()), required=False)
    kin_organisation = forms.CharField(label=_("工作单位"), max_length=100, required=False)
    request_type = forms.ChoiceField(label=_("临时救助类型"), choices=REQUEST_TYPES, required=False)
    request_group = forms.ChoiceField(label=_("救助对象类别"), choices=REQUEST_GROUPS, required=False)
    request_persons = forms.IntegerField(label=_("救助人数"), min_value=1, max_value=100, required=False)
    request_months = forms.IntegerField(label=_("申请救助月数"), min_value=1, max_value=120, required=False)
    request_expense = forms.DecimalField(
        label=_("必需支出金额（元）"), min_value=0, decimal_places=2, max_digits=14, required=False
    )
    request_reason = forms.CharField(label=_("困难情形"), max_length=300, required=False, widget=textarea())

    def __init__(self, *args: Any, members: Choices, program: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("applicant_id", "subject_person_id"):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [BLANK, *members]
        # Once the program is chosen, the checklist is that program's own.
        self.chosen_program = program if program in PROGRAM_DOCUMENTS else ""
        if self.chosen_program:
            documents = self.fields["documents"]
            assert isinstance(documents, forms.ChoiceField)
            documents.choices = list(PROGRAM_DOCUMENTS[self.chosen_program].items())
            documents.help_text = ""
            self.fields["program"].widget = forms.HiddenInput()

    @property
    def personal(self) -> bool:
        return self.chosen_program in PERSONAL_PROGRAMS

    @property
    def temporary(self) -> bool:
        return self.chosen_program == Program.TEMPORARY_ASSISTANCE

    def service_values(self) -> dict[str, Any]:
        """The keyword arguments of `application_create` (without scope and household)."""
        data = self.values()
        program = data.get("program") or ""
        known = PROGRAM_DOCUMENTS.get(program, {})
        kin = []
        kin_fields = ("kin_name", "kin_relation", "kin_position", "kin_organisation")
        if data.get("kin_declared") and any(data.get(k) for k in kin_fields):
            kin.append(
                {
                    "name": data.get("kin_name", ""),
                    "relation": data.get("kin_relation", ""),
                    "position": data.get("kin_position", ""),
                    "organisation": data.get("kin_organisation", ""),
                }
            )
        request: dict[str, Any] = {}
        if program == Program.TEMPORARY_ASSISTANCE:
            request = {
                "type": data.get("request_type") or "emergency",
                "group": data.get("request_group") or "other",
                "persons": data.get("request_persons") or 1,
                "months": data.get("request_months") or 1,
            }
            if data.get("request_expense") is not None:
                request["expense"] = str(data["request_expense"])
            if data.get("request_reason"):
                request["reason"] = data["request_reason"]
        return {
            "program": program,
            "applicant_id": data.get("applicant_id"),
            "subject_person_id": data.get("subject_person_id"),
            "received_on": data.get("received_on") or "",
            "discovered_by": data.get("discovered_by") or Discovery.INTAKE,
            "documents": {code: code in (data.get("documents") or []) for code in known},
            "verification_authorised": bool(data.get("verification_authorised")),
            "authorised_on": data.get("authorised_on"),
            "kin_declared": bool(data.get("kin_declared")),
            "kin_details": kin,
            "request": request or None,
        }


class ActFirstForm(CaseForm):
    marked = frozenset({"applicant_id", "amount", "reason"})
    applicant_id = forms.TypedChoiceField(label=_("申请人"), coerce=int, empty_value=None, required=False)
    amount = forms.CharField(label=_("救助金额（元）"), max_length=20, required=False)
    reason = forms.CharField(label=_("困难情形"), max_length=300, required=False, widget=textarea())
    paid_on = forms.DateField(label=_("救助日期"), required=False, widget=date_input(), help_text=_("默认今天"))
    request_type = forms.ChoiceField(label=_("临时救助类型"), choices=REQUEST_TYPES, required=False)
    documents = forms.MultipleChoiceField(
        label=_("已收到的材料"),
        choices=list(DOCS_TA.items()),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("未收到的材料须在规定期限内补齐"),
    )

    def __init__(self, *args: Any, members: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["applicant_id"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [BLANK, *members]

    def service_values(self) -> dict[str, Any]:
        data = self.values()
        return {
            "applicant_id": data.get("applicant_id"),
            "amount": data.get("amount") or None,
            "reason": data.get("reason") or "",
            "paid_on": data.get("paid_on"),
            "request_type": data.get("request_type") or "emergency",
            "documents": {code: code in (data.get("documents") or []) for code in DOCS_TA},
        }


class StepCompleteForm(ActionForm):
    """Completing the current step; the payload fields shown depend on the step (see the template)."""

    aliases = {
        "payload.participants": "participants",
        "payload.villager_reps": "villager_reps",
        "payload.conclusion": "conclusion",
        "payload.result": "result",
        "payload.amount": "amount",
        "payload.discussion": "discussion_conclusion",
        "amount": "amount",
    }
    comment = forms.CharField(label=_("办理意见"), max_length=2000, required=False, widget=textarea())
    # 信息核对
    result = forms.ChoiceField(label=_("核对结果"), choices=with_blank(RESULTS), required=False)
    # 民主评议 (2012 art. 22: villagers' representatives ≥ 2/3 of the participants)
    held_on = forms.DateField(label=_("评议日期"), required=False, widget=date_input())
    participants = forms.IntegerField(label=_("参加评议人数"), min_value=0, required=False)
    villager_reps = forms.IntegerField(label=_("其中村（居）民代表人数"), min_value=0, required=False)
    conclusion = forms.ChoiceField(label=_("评议结论"), choices=with_blank(CONCLUSIONS), required=False)
    # 乡镇意见 (proposed temporary-assistance amount) / 审批 (staff-assessed amount where the rules have none)
    recommend = forms.TypedChoiceField(
        label=_("审核意见"),
        choices=[("", "——"), ("1", _("同意")), ("0", _("不同意"))],
        coerce=lambda v: v == "1",
        empty_value=None,
        required=False,
    )
    amount = forms.CharField(label=_("金额（元）"), max_length=20, required=False)
    # 一事一议 (temporary assistance above the one-off cap)
    discussion_held_on = forms.DateField(label=_("一事一议日期"), required=False, widget=date_input())
    discussion_participants = forms.CharField(
        label=_("一事一议参加人员"), max_length=400, required=False, help_text=_("不少于3人，用顿号或逗号分隔")
    )
    discussion_conclusion = forms.CharField(label=_("一事一议结论"), max_length=400, required=False)
    # 决定告知
    delivered_on = forms.DateField(label=_("送达日期"), required=False, widget=date_input())

    def payload(self) -> dict[str, Any]:
        data = self.values()
        out: dict[str, Any] = {}
        for key in ("result", "conclusion"):
            if data.get(key):
                out[key] = data[key]
        for key in ("participants", "villager_reps"):
            if data.get(key) is not None:
                out[key] = data[key]
        for key in ("held_on", "delivered_on"):
            if data.get(key):
                out[key] = data[key].isoformat()
        if data.get("recommend") is not None:
            out["recommend"] = data["recommend"]
        if data.get("amount"):
            out["amount"] = data["amount"].strip()
        if data.get("discussion_held_on") or data.get("discussion_participants") or data.get("discussion_conclusion"):
            people = split_names(data.get("discussion_participants") or "")
            out["discussion"] = {
                "held_on": data["discussion_held_on"].isoformat() if data.get("discussion_held_on") else "",
                "participants": people,
                "conclusion": data.get("discussion_conclusion") or "",
            }
        return out


class StepSkipForm(ActionForm):
    marked = frozenset({"reason"})
    reason = forms.CharField(label=_("跳过原因"), max_length=300, required=False)


class RefuseForm(ActionForm):
    marked = frozenset({"reasons"})
    step_code = forms.CharField(required=False, widget=forms.HiddenInput)
    reasons = forms.CharField(
        label=_("不予批准的理由"),
        required=False,
        widget=textarea(3),
        help_text=_("每行一条理由，将写入不予批准通知书"),
    )
    comment = forms.CharField(label=_("办理意见"), max_length=2000, required=False, widget=textarea())

    def reason_list(self) -> list[str]:
        return [line.strip() for line in (self.values().get("reasons") or "").splitlines() if line.strip()]


class DocumentsForm(CaseForm):
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    documents = forms.MultipleChoiceField(
        label=_("已收到的申请材料"), widget=forms.CheckboxSelectMultiple, required=False
    )
    verification_authorised = forms.BooleanField(label=_("已签署家庭经济状况核对授权书"), required=False)
    authorised_on = forms.DateField(label=_("授权书签署日期"), required=False, widget=date_input())

    def __init__(self, *args: Any, documents: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["documents"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = list(documents.items())
        self.known = documents


class HomeVisitForm(CaseForm):
    marked = frozenset({"level", "visited_on", "investigators", "findings"})
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    level = forms.ChoiceField(
        label=_("调查层级"),
        choices=[(Level.TOWNSHIP, Level.TOWNSHIP.label), (Level.COUNTY, _("县级入户核查"))],
        required=False,
    )
    visited_on = forms.DateField(label=_("入户日期"), required=False, widget=date_input())
    investigators = forms.CharField(
        label=_("调查人员"), max_length=400, required=False, help_text=_("不少于2人，用顿号或逗号分隔")
    )
    members_present = forms.CharField(label=_("在场家庭成员"), max_length=400, required=False)
    findings = forms.CharField(label=_("调查情况"), max_length=2000, required=False, widget=textarea())
    conforms = forms.TypedChoiceField(
        label=_("申报情况是否属实"),
        choices=[("1", _("属实")), ("0", _("不属实"))],
        coerce=lambda v: v != "0",
        required=False,
    )


class PublicityForm(CaseForm):
    marked = frozenset({"start_date", "place"})
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    step_code = forms.CharField(required=False, widget=forms.HiddenInput)
    start_date = forms.DateField(label=_("公示开始日期"), required=False, widget=date_input())
    place = forms.CharField(label=_("公示地点"), max_length=100, required=False)


class ObjectionForm(CaseForm):
    marked = frozenset({"received_on", "content"})
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    publicity_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    received_on = forms.DateField(label=_("收到日期"), required=False, widget=date_input())
    content = forms.CharField(label=_("异议内容"), max_length=2000, required=False, widget=textarea())
    real_name = forms.BooleanField(label=_("实名反映"), required=False)


class ObjectionResolveForm(CaseForm):
    marked = frozenset({"upheld", "resolution"})
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    upheld = forms.TypedChoiceField(
        label=_("核实结论"),
        choices=[("", "——"), ("0", _("异议不成立")), ("1", _("异议成立"))],
        coerce=lambda v: v == "1",
        empty_value=None,
        required=False,
    )
    resolution = forms.CharField(label=_("核实情况"), max_length=2000, required=False, widget=textarea())


def split_names(text: str) -> list[str]:
    for sep in ("、", "，", ";", "；", "\n"):
        text = text.replace(sep, ",")
    return [n.strip() for n in text.split(",") if n.strip()]
