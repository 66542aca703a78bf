"""Complaint writes (docs/complaints.md). Each is one transaction: lock the complaint, claim the caller's version
(a stale version → StaleEdit, 409), check role and office, write, and record the audit entry. The reporter's
identity and the complaint's text are never copied into the audit log; attachments are stored on commit only.

Case actions that follow a finding (a recheck, a suspension or termination of a recipient) are done by the case
services, inside the same transaction, and the handling record links to the recipient or case they touched.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from doudi.cases import selectors as case_selectors
from doudi.cases import services as case_services
from doudi.cases.choices import Program, RecipientStatus
from doudi.complaints import attachments, tracking
from doudi.complaints.choices import (
    CASE_ACTIONS,
    OPEN_STATUSES,
    Action,
    Channel,
    EntryKind,
    Finding,
    Kind,
    ReminderKind,
    Status,
)
from doudi.complaints.models import Attachment, Complaint, Entry, Reminder, Reporter
from doudi.core.choices import AuditAction, RegionLevel, Role
from doudi.core.dates import parse_date
from doudi.core.errors import ApplicationError, NotFound, PermissionDenied, StaleEdit
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.core.services import audit_log_create, snapshot
from doudi.registry import selectors as registry_selectors

PUBLIC_USERNAME = "公众（网上提交）"
# Staff who take complaints by phone, letter or visit, and who handle them at their office.
INTAKE_ROLES = frozenset({Role.TOWNSHIP_REVIEWER, Role.COUNTY_APPROVER, Role.ADMIN})
HANDLER_ROLES = frozenset({Role.TOWNSHIP_REVIEWER, Role.COUNTY_APPROVER})
OFFICE_ROLE = {RegionLevel.TOWNSHIP: Role.TOWNSHIP_REVIEWER, RegionLevel.COUNTY: Role.COUNTY_APPROVER}
STAFF_CHANNELS = frozenset({Channel.HOTLINE, Channel.LETTER, Channel.VISIT})
MAX_SUBJECT = 100
MAX_DESCRIPTION = 5000
MAX_TEXT = 2000
MAX_REPLY = 5000
PARAMETERS = {
    "acceptance": "complaints.acceptance_days",
    "handling": "complaints.handling_days",
    "due_soon": "complaints.due_soon_days",
}
# Fields copied to the audit log: never the reporter, the subject or the description (they may name people).
AUDIT_FIELDS = (
    "kind",
    "channel",
    "program",
    "region",
    "county_matter",
    "anonymous",
    "office",
    "status",
    "received_on",
    "acceptance_due",
    "handling_due",
    "accepted_on",
    "answered_on",
    "closed_on",
    "finding",
    "household",
    "application",
    "recipient",
)
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{5,23}$")


# --- helpers ----------------------------------------------------------------------------------------------------
def public_scope() -> Scope:
    """The scope of an anonymous visitor of the public form: no user, no region of its own (the complaint's
    region is checked on its own)."""
    return Scope(user_id=0, username=PUBLIC_USERNAME, role="public", region_code="", region_path="/")


def _today(today: dt.date | None) -> dt.date:
    return today or timezone.localdate()


def clean_text(value: object, field: str, label: str, *, max_length: int, required: bool = True) -> str:
    """Plain text as typed: control characters removed (newlines and tabs kept), never interpreted as markup
    (templates escape it on output)."""
    text = str(value or "").replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C").strip()
    if required and not text:
        raise ApplicationError("required", f"请填写{label}", field)
    if len(text) > max_length:
        raise ApplicationError("too_long", f"{label}不能超过{max_length}个字（现有{len(text)}个字）", field)
    return text


def _choice(value: object, choices: Any, field: str, label: str, *, required: bool = True) -> str:
    text = str(value or "").strip()
    if not text and not required:
        return ""
    if text not in choices.values:
        raise ApplicationError("invalid", f"请选择{label}", field)
    return text


def _audit(scope: Scope, action: str, complaint: Complaint, note: str, before: Mapping[str, Any] | None = None) -> None:
    audit_log_create(
        scope=scope,
        action=action,
        subject_type="complaint",
        subject_id=complaint.pk,
        region_code=complaint.region_id,
        household_id=complaint.household_id,
        before=before,
        after=snapshot(complaint, AUDIT_FIELDS),
        note=note,
    )


def _entry(scope: Scope, complaint: Complaint, kind: str, on: dt.date, **fields: Any) -> Entry:
    return Entry.objects.create(
        complaint=complaint,
        kind=kind,
        acted_on=on,
        actor_id=scope.user_id or None,
        actor_name=scope.username,
        **fields,
    )


def _ancestors(region: Region) -> dict[str, Region]:
    codes = [c for c in region.path.split("/") if c]
    return {r.level: r for r in Region.objects.filter(code__in=codes)}


def route(region: Region, county_matter: bool) -> Region:
    """The handling office: the township of the village concerned; the county when the matter concerns township
    staff or the county (or when no township is above the region)."""
    found = _ancestors(region)
    if not county_matter and RegionLevel.TOWNSHIP in found:
        return found[RegionLevel.TOWNSHIP]
    county = found.get(RegionLevel.COUNTY)
    if county is None:
        raise ApplicationError("no_office", "无法确定承办单位：所选地区不属于任何县（市、区）", "region_code")
    return county


def office_role(office: Region) -> str:
    return OFFICE_ROLE.get(RegionLevel(office.level), Role.COUNTY_APPROVER)


def is_handling_office(scope: Scope, complaint: Complaint) -> bool:
    """The handling office is the office's region AND its handling role: only it sees the reporter."""
    return complaint.office_id == scope.region_code and scope.role == office_role(complaint.office)


def may_reroute(scope: Scope, complaint: Complaint) -> bool:
    """The handling office, the county approver of the complaint's county, or an administrator over it."""
    if is_handling_office(scope, complaint):
        return True
    if not complaint.office_path.startswith(scope.region_path):
        return False
    if scope.role == Role.ADMIN:
        return True
    county = _ancestors(complaint.region).get(RegionLevel.COUNTY)
    return scope.role == Role.COUNTY_APPROVER and county is not None and scope.region_code == county.code


def reroute_offices(scope: Scope, complaint: Complaint) -> list[Region]:
    """The offices the caller may send the complaint to (the form offers these and the service accepts only these):

    * the county approver of the complaint's county and an administrator over it: the county of the region
      concerned and the township of the region concerned (a township can only investigate, link households and
      act on cases in its own area, and must not see other townships' matters);
    * the handling office at a township: only up to its county (上报县级); the county approver may then send it
      down to another township. A township never chooses among (nor sees) the county's other townships.

    The current office is never a target; anyone else gets no target."""
    if not may_reroute(scope, complaint):
        return []
    county = _ancestors(complaint.region).get(RegionLevel.COUNTY)
    if county is None:
        return []
    if scope.covers(county):
        township = _ancestors(complaint.region).get(RegionLevel.TOWNSHIP)
        offices = [county] if township is None else [county, township]
    elif is_handling_office(scope, complaint) and complaint.office.parent_id == county.code:
        offices = [county]
    else:
        offices = []
    return [r for r in offices if r.code != complaint.office_id]


def escalation_target(scope: Scope, complaint: Complaint) -> Region | None:
    """The county, when the caller's only re-routing is up to it (a township office, whose region does not cover
    the county): the page then shows a single "上报县级" button instead of a list of offices."""
    offices = reroute_offices(scope, complaint)
    return offices[0] if len(offices) == 1 and not scope.covers(offices[0]) else None


def escalates_only(scope: Scope, complaint: Complaint) -> bool:
    return escalation_target(scope, complaint) is not None


def deadlines(region: Region, received_on: dt.date) -> tuple[dt.date, dt.date, dict[str, Any]]:
    """Acceptance and handling deadlines from the dated regional parameters in force on the day of receipt."""
    from doudi.policy.selectors import current_parameter_set
    from doudi.rules import RulesInputError

    params = current_parameter_set()
    basis: dict[str, Any] = {}
    days: dict[str, int] = {}
    try:
        for key in ("acceptance", "handling"):
            value = params.get(PARAMETERS[key], region.code, "rural", received_on)
            days[key] = int(str(value.value))
            basis[key] = {
                "path": value.path,
                "days": days[key],
                "reference": value.reference,
                "confirmed": value.confirmed,
                "region_key": value.region_key,
                "effective_from": value.effective_from.isoformat() if value.effective_from else None,
            }
    except RulesInputError as exc:
        raise ApplicationError("no_deadline", f"无法取得投诉举报办理时限：{exc.message}", "region_code") from None
    return (
        received_on + dt.timedelta(days=days["acceptance"]),
        received_on + dt.timedelta(days=days["handling"]),
        basis,
    )


def due_soon_days(region_code: str, on: dt.date) -> int:
    from doudi.policy.selectors import current_parameter_set

    return int(str(current_parameter_set().get(PARAMETERS["due_soon"], region_code, "rural", on).value))


def _reporter_data(reporter: Mapping[str, Any] | None) -> dict[str, str]:
    data = reporter or {}
    name = clean_text(data.get("name"), "reporter_name", "举报人姓名", max_length=64)
    phone = clean_text(data.get("phone"), "reporter_phone", "联系电话", max_length=32, required=False)
    address = clean_text(data.get("address"), "reporter_address", "通讯地址", max_length=300, required=False)
    if phone and not _PHONE.match(phone):
        raise ApplicationError("invalid_phone", "联系电话格式不正确（只能包含数字、空格和短横线）", "reporter_phone")
    if not phone and not address:
        raise ApplicationError(
            "contact_required", "实名提交请至少填写联系电话或通讯地址，以便书面答复", "reporter_phone"
        )
    return {"name": name, "phone": phone, "address": address}


def _new_tracking_number() -> str:
    for _attempt in range(5):
        number = tracking.generate()
        if not Complaint.objects.filter(tracking_number=number).exists():
            return number
    raise RuntimeError("could not draw a free tracking number")  # pragma: no cover - 94 bits


# --- intake -----------------------------------------------------------------------------------------------------
def complaint_create(
    *,
    scope: Scope,
    kind: str,
    channel: str,
    region_code: str,
    subject: str,
    description: str,
    program: str = "",
    county_matter: bool = False,
    anonymous: bool = True,
    reporter: Mapping[str, Any] | None = None,
    files: Sequence[attachments.Upload] = (),
    received_on: dt.date | str | None = None,
    today: dt.date | None = None,
) -> Complaint:
    """File a complaint or report (public form: `public_scope()` and channel portal; staff: hotline, letter or
    visit). Everything is checked before anything is written; the complaint, its reporter, its attachments and
    the audit entry are stored together or not at all."""
    public = scope.role == "public"
    if public and channel != Channel.PORTAL:
        raise PermissionDenied("网上提交只能使用“网上提交”渠道")
    if not public:
        if scope.role not in INTAKE_ROLES:
            raise PermissionDenied("登记投诉举报须由乡镇（街道）审核人、县级审批人或系统管理员办理")
        if channel not in STAFF_CHANNELS:
            raise ApplicationError("invalid", "请选择来源渠道（热线电话、来信或来访）", "channel")
    kind = _choice(kind, Kind, "kind", "类别（投诉或举报）")
    program = _choice(program, Program, "program", "涉及的救助项目", required=False)
    region = Region.objects.filter(code=str(region_code or "").strip()).first()
    if region is None or region.level not in (RegionLevel.VILLAGE, RegionLevel.TOWNSHIP):
        raise ApplicationError("invalid_region", "请选择所涉及的乡镇（街道）或村（社区）", "region_code")
    if not public and not scope.covers(region):
        raise NotFound("所选地区不在您的管辖范围内", "region_code")
    subject = clean_text(subject, "subject", "标题", max_length=MAX_SUBJECT)
    description = clean_text(description, "description", "具体内容", max_length=MAX_DESCRIPTION)
    who = None if anonymous else _reporter_data(reporter)
    today = _today(today)
    received = today if public or not received_on else parse_date(received_on, "received_on", "收到日期")
    if received > today:
        raise ApplicationError("invalid_date", "收到日期不能晚于今天", "received_on")
    if received < today - dt.timedelta(days=366):
        raise ApplicationError("invalid_date", "收到日期不能早于一年前", "received_on")
    checked = attachments.check(list(files))
    office = route(region, county_matter)
    acceptance_due, handling_due, basis = deadlines(region, received)

    written: list[Path] = []
    try:
        with transaction.atomic():
            complaint = Complaint.objects.create(
                tracking_number=_new_tracking_number(),
                kind=kind,
                channel=channel,
                program=program,
                region=region,
                region_path=region.path,
                county_matter=county_matter,
                subject=subject,
                description=description,
                anonymous=who is None,
                office=office,
                office_path=office.path,
                received_on=received,
                acceptance_due=acceptance_due,
                handling_due=handling_due,
                deadline_basis=basis,
                created_by_id=scope.user_id or None,
            )
            if who is not None:
                Reporter.objects.create(complaint=complaint, **who)
            for file in checked:
                stored = attachments.store(file, written)
                Attachment.objects.create(
                    complaint=complaint,
                    original_name=file.name,
                    content_type=file.content_type,
                    size=file.size,
                    sha256=stored.sha256,
                    stored_name=stored.stored_name,
                )
            _entry(scope, complaint, EntryKind.INTAKE, received, to_office=office, text=str(Channel(channel).label))
            _audit(
                scope,
                AuditAction.CREATE,
                complaint,
                f"{Kind(kind).label}登记（{Channel(channel).label}，{'匿名' if who is None else '实名'}，"
                f"附件{len(checked)}个）",
            )
    except BaseException:
        attachments.discard(written)
        raise
    return complaint


# --- handling ---------------------------------------------------------------------------------------------------
def _for_write(scope: Scope, complaint_id: int, version: int | None, *, handler_only: bool = True) -> Complaint:
    # The role first (403 whatever the id: a role that may not handle complaints learns nothing about which
    # exist), then the region (404), then the office (403) — as the pages, which read through the selectors.
    if scope.role == Role.SUPERVISOR:
        raise PermissionDenied("监管角色只能查看汇总统计")
    if scope.role not in (HANDLER_ROLES | {Role.ADMIN}):
        raise PermissionDenied("投诉举报由乡镇（街道）审核人和县级审批人办理")
    complaint = (
        Complaint.objects.select_for_update()
        .select_related("office", "region")
        .filter(pk=complaint_id, office_path__startswith=scope.region_path)
        .first()
    )
    if complaint is None:
        raise NotFound("投诉举报不存在或不在您的管辖范围内", "complaint_id")
    if handler_only and not is_handling_office(scope, complaint):
        raise PermissionDenied(
            f"该投诉举报由{complaint.office.name}承办，须由承办单位的{Role(office_role(complaint.office)).label}办理"
        )
    if version is not None:
        claimed = Complaint.objects.filter(pk=complaint.pk, version=version).update(version=F("version") + 1)
        if claimed != 1:
            raise StaleEdit("该投诉举报已被其他人员办理或修改，请刷新后查看；您的操作未保存。")
        complaint.version = version + 1
    else:
        Complaint.objects.filter(pk=complaint.pk).update(version=F("version") + 1)
        complaint.version += 1
    return complaint


def _require_status(complaint: Complaint, allowed: Sequence[str], what: str) -> None:
    if complaint.status not in allowed:
        raise ApplicationError(
            "invalid_status", f"当前状态为“{Status(complaint.status).label}”，不能{what}", "status", status=409
        )


def _acting_date(value: dt.date | str | None, complaint: Complaint, today: dt.date) -> dt.date:
    on = today if value in (None, "") else parse_date(value, "acted_on", "办理日期")
    if on > today:
        raise ApplicationError("invalid_date", "办理日期不能晚于今天", "acted_on")
    if on < complaint.received_on:
        raise ApplicationError("invalid_date", "办理日期不能早于收到日期", "acted_on")
    return on


def _save(complaint: Complaint, fields: Sequence[str]) -> None:
    complaint.save(update_fields=[*fields, "version", "updated_at"])


@transaction.atomic
def complaint_accept(
    *,
    scope: Scope,
    complaint_id: int,
    version: int,
    acted_on: dt.date | str | None = None,
    note: str = "",
    today: dt.date | None = None,
) -> Complaint:
    complaint = _for_write(scope, complaint_id, version)
    _require_status(complaint, [Status.NEW], "受理")
    before = snapshot(complaint, AUDIT_FIELDS)
    on = _acting_date(acted_on, complaint, _today(today))
    complaint.status, complaint.accepted_on = Status.ACCEPTED, on
    _save(complaint, ["status", "accepted_on"])
    text = clean_text(note, "note", "说明", max_length=MAX_TEXT, required=False)
    _entry(scope, complaint, EntryKind.ACCEPT, on, text=text)
    _audit(scope, AuditAction.UPDATE, complaint, "受理", before)
    return complaint


@transaction.atomic
def complaint_not_accept(
    *,
    scope: Scope,
    complaint_id: int,
    version: int,
    reason: str,
    acted_on: dt.date | str | None = None,
    today: dt.date | None = None,
) -> Complaint:
    """Refuse to accept (e.g. not a social-assistance matter, or already handled), with a written reason that the
    person can read with the tracking number."""
    complaint = _for_write(scope, complaint_id, version)
    _require_status(complaint, [Status.NEW], "决定不予受理")
    before = snapshot(complaint, AUDIT_FIELDS)
    on = _acting_date(acted_on, complaint, _today(today))
    complaint.not_accepted_reason = clean_text(reason, "reason", "不予受理理由", max_length=500)
    complaint.status, complaint.closed_on = Status.NOT_ACCEPTED, on
    _save(complaint, ["status", "closed_on", "not_accepted_reason"])
    _entry(scope, complaint, EntryKind.NOT_ACCEPT, on, text=complaint.not_accepted_reason)
    _audit(scope, AuditAction.UPDATE, complaint, "不予受理", before)
    return complaint


def _case_action(
    scope: Scope,
    complaint: Complaint,
    action: str,
    text: str,
    on: dt.date,
    recipient_id: int | None,
    recipient_version: int | None,
    effective_month: dt.date | str | None,
) -> dict[str, Any]:
    """Do the case action through the case services; returns the links for the handling entry."""
    if recipient_id is None:
        raise ApplicationError("recipient_required", "请填写要处理的救助对象编号", "recipient_id")
    recipient = case_selectors.recipient_get(scope=scope, recipient_id=recipient_id)
    reason = f"投诉举报核查（登记号{complaint.pk}）：{text}"[: case_services.MAX_REASON]
    try:
        if action == Action.RECHECK:
            live = case_selectors.household_recipients(scope=scope, household_id=recipient.household_id)
            if not any(r.pk == recipient.pk for r in live):
                raise ApplicationError("not_live", "该救助对象已终止，无需复查", "recipient_id", status=409)
            case_services.change_report_create(
                scope=scope,
                household_id=recipient.household_id,
                kind="other",
                reported_on=on,
                details={"source": "complaint", "complaint_id": complaint.pk, "note": text[:200]},
                today=_today(None),
            )
        else:
            if not effective_month:
                raise ApplicationError("required", "请填写生效月份", "effective_month")
            case_services.recipient_status_change(
                scope=scope,
                recipient_id=recipient.pk,
                # The API may pass the version it read (a concurrent change → 409); the page acts on the
                # recipient as it is now, the complaint's own version guarding against a double submission.
                version=recipient.version if recipient_version is None else recipient_version,
                to_status=RecipientStatus.SUSPENDED if action == Action.SUSPEND else RecipientStatus.TERMINATED,
                reason=reason,
                effective_month=effective_month,
            )
    except PermissionDenied as exc:
        # The case service's role rule, shown at the action field (e.g. only the county terminates).
        raise ApplicationError("forbidden", exc.message, "action", status=403) from None
    return {"recipient": recipient, "household_id": recipient.household_id, "application_id": None}


@transaction.atomic
def entry_add(
    *,
    scope: Scope,
    complaint_id: int,
    version: int,
    text: str,
    finding: str = "",
    action: str = "",
    recipient_id: int | None = None,
    recipient_version: int | None = None,
    effective_month: dt.date | str | None = None,
    acted_on: dt.date | str | None = None,
    today: dt.date | None = None,
) -> Entry:
    """Add to the handling record: an investigation note, a finding (属实/部分属实/不属实), and/or the action taken.
    A case action (recheck, suspend, terminate) is done through the case services and linked to its recipient."""
    complaint = _for_write(scope, complaint_id, version)
    _require_status(complaint, [Status.ACCEPTED, Status.INVESTIGATING], "添加办理记录（请先受理）")
    before = snapshot(complaint, AUDIT_FIELDS)
    on = _acting_date(acted_on, complaint, _today(today))
    text = clean_text(text, "text", "办理情况", max_length=MAX_TEXT)
    finding = _choice(finding, Finding, "finding", "核查结论", required=False)
    action = _choice(action, Action, "action", "处理措施", required=False)
    if action and not finding and not complaint.finding:
        raise ApplicationError("finding_required", "请先填写核查结论，再记录处理措施", "finding")
    links: dict[str, Any] = {}
    if action in CASE_ACTIONS:
        if (finding or complaint.finding) == Finding.UNSUBSTANTIATED:
            raise ApplicationError("finding_conflict", "核查结论为“不属实”时不能处理救助对象", "action")
        links = _case_action(scope, complaint, action, text, on, recipient_id, recipient_version, effective_month)
        if complaint.recipient_id is None:
            complaint.recipient = links["recipient"]
            complaint.household_id = links["household_id"]
    kind = EntryKind.ACTION if action else EntryKind.FINDING if finding else EntryKind.NOTE
    entry = _entry(
        scope,
        complaint,
        kind,
        on,
        text=text,
        finding=finding,
        action=action,
        recipient=links.get("recipient"),
        household_id=links.get("household_id"),
    )
    complaint.status = Status.INVESTIGATING
    if finding:
        complaint.finding = finding
    _save(complaint, ["status", "finding", "recipient", "household"])
    label = EntryKind(kind).label + (f"：{Action(action).label}" if action else "")
    _audit(scope, AuditAction.UPDATE, complaint, label, before)
    return entry


@transaction.atomic
def complaint_link(
    *,
    scope: Scope,
    complaint_id: int,
    version: int,
    household_number: str = "",
    application_id: int | None = None,
    recipient_id: int | None = None,
    today: dt.date | None = None,
) -> Complaint:
    """Link the household, case or recipient the complaint turned out to be about (each read through the case and
    registry selectors with the caller's scope: outside it → not found)."""
    complaint = _for_write(scope, complaint_id, version)
    _require_status(complaint, OPEN_STATUSES, "关联案件")
    before = snapshot(complaint, AUDIT_FIELDS)
    if not (household_number or application_id or recipient_id):
        raise ApplicationError("required", "请填写户编号、案件编号或救助对象编号中的至少一项", "household_number")
    if household_number:
        household = registry_selectors.household_get_by_number(
            scope=scope, number=household_number, field="household_number"
        )
        complaint.household = household
    if application_id:
        app = case_selectors.application_get(scope=scope, application_id=application_id)
        complaint.application, complaint.household_id = app, app.household_id
    if recipient_id:
        recipient = case_selectors.recipient_get(scope=scope, recipient_id=recipient_id)
        complaint.recipient, complaint.household_id = recipient, recipient.household_id
    _save(complaint, ["household", "application", "recipient"])
    _entry(
        scope,
        complaint,
        EntryKind.LINK,
        _today(today),
        household_id=complaint.household_id,
        application_id=complaint.application_id,
        recipient_id=complaint.recipient_id,
    )
    _audit(scope, AuditAction.UPDATE, complaint, "关联家庭/案件/救助对象", before)
    return complaint


@transaction.atomic
def complaint_reroute(
    *, scope: Scope, complaint_id: int, version: int, to_office_code: str, reason: str, today: dt.date | None = None
) -> Complaint:
    """Send the complaint to another office (`reroute_offices`): a township office only up to its county; the
    county approver of the complaint's county and administrators to the county or one of its townships."""
    complaint = _for_write(scope, complaint_id, version, handler_only=False)
    _require_status(complaint, OPEN_STATUSES, "转办")
    if not may_reroute(scope, complaint):
        raise PermissionDenied("只有承办单位、所属县级审批人或系统管理员可以转办")
    code = str(to_office_code or "").strip()
    if code == complaint.office_id:
        raise ApplicationError("same_office", "已由该单位承办", "to_office_code")
    offices = {r.code: r for r in reroute_offices(scope, complaint)}
    target = offices.get(code)
    if target is None:
        if escalates_only(scope, complaint):
            message = "乡镇（街道）只能将投诉举报上报县级（市、区）民政部门，由县级改派"
        else:
            message = "只能转至本县（市、区）或本县的乡镇（街道）"
        raise ApplicationError("invalid_office", message, "to_office_code")
    reason = clean_text(reason, "reason", "转办理由", max_length=500)
    before = snapshot(complaint, AUDIT_FIELDS)
    previous = complaint.office
    complaint.office, complaint.office_path = target, target.path
    complaint.county_matter = target.level == RegionLevel.COUNTY
    _save(complaint, ["office", "office_path", "county_matter"])
    _entry(scope, complaint, EntryKind.REROUTE, _today(today), text=reason, from_office=previous, to_office=target)
    _audit(scope, AuditAction.UPDATE, complaint, f"转办：{previous.name} → {target.name}", before)
    return complaint


@transaction.atomic
def complaint_answer(
    *,
    scope: Scope,
    complaint_id: int,
    version: int,
    public_reply: str,
    reply: str = "",
    acted_on: dt.date | str | None = None,
    today: dt.date | None = None,
) -> Complaint:
    """Answer: the public summary (shown to anyone holding the tracking number; no personal data) and, for a
    real-name complaint, the written reply sent to the reporter (2012 办法 art. 36; 2021 办法 art. 37)."""
    complaint = _for_write(scope, complaint_id, version)
    _require_status(complaint, [Status.INVESTIGATING], "答复（请先记录调查核实情况）")
    if not complaint.finding:
        raise ApplicationError("finding_required", "答复前请先记录核查结论", "public_reply")
    before = snapshot(complaint, AUDIT_FIELDS)
    on = _acting_date(acted_on, complaint, _today(today))
    complaint.public_reply = clean_text(public_reply, "public_reply", "公开答复摘要", max_length=MAX_TEXT)
    complaint.reply = clean_text(reply, "reply", "书面答复", max_length=MAX_REPLY, required=not complaint.anonymous)
    complaint.status, complaint.answered_on = Status.ANSWERED, on
    _save(complaint, ["status", "answered_on", "public_reply", "reply"])
    _entry(scope, complaint, EntryKind.ANSWER, on, text=complaint.public_reply)
    _audit(scope, AuditAction.UPDATE, complaint, "答复", before)
    return complaint


@transaction.atomic
def complaint_close(
    *,
    scope: Scope,
    complaint_id: int,
    version: int,
    note: str = "",
    acted_on: dt.date | str | None = None,
    today: dt.date | None = None,
) -> Complaint:
    complaint = _for_write(scope, complaint_id, version)
    _require_status(complaint, [Status.ANSWERED], "办结（请先答复）")
    before = snapshot(complaint, AUDIT_FIELDS)
    on = _acting_date(acted_on, complaint, _today(today))
    complaint.status, complaint.closed_on = Status.CLOSED, on
    _save(complaint, ["status", "closed_on"])
    _entry(
        scope,
        complaint,
        EntryKind.CLOSE,
        on,
        text=clean_text(note, "note", "说明", max_length=MAX_TEXT, required=False),
    )
    _audit(scope, AuditAction.UPDATE, complaint, "办结", before)
    return complaint


# --- reminders --------------------------------------------------------------------------------------------------
def _insert_reminders(kind: str, due_column: str, rows: Any, today: dt.date) -> int:
    """INSERT … SELECT of one reminder per complaint in `rows` (a queryset), skipping those already recorded:
    one statement whatever the number of complaints."""
    # Annotations only, in the INSERT's column order (values() keeps that order in the SELECT).
    select = (
        rows.order_by()
        .annotate(
            r_id=F("id"),
            r_kind=models_value(kind),
            r_due=F(due_column),
            r_office=F("office_id"),
            r_created=models_value(today),
        )
        .values("r_id", "r_kind", "r_due", "r_office", "r_created")
    )
    sql, params = select.query.sql_with_params()
    table = Reminder._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (complaint_id, kind, due_on, office_id, created_on) {sql} "
            "ON CONFLICT (complaint_id, kind, due_on) DO NOTHING",
            params,
        )
        return int(cursor.rowcount or 0)


def models_value(value: object) -> Any:
    from django.db.models import CharField, DateField, Value

    return Value(value, output_field=DateField() if isinstance(value, dt.date) else CharField())


@transaction.atomic
def reminders_record(*, scope: Scope, today: dt.date | None = None) -> dict[str, int]:
    """Record today's reminders, set-based: acceptance overdue, handling overdue, handling due within the
    `complaints.due_soon_days` parameter (read for the scope's region). Returns the new reminders per kind."""
    if scope.role not in (Role.ADMIN, Role.COUNTY_APPROVER):
        raise PermissionDenied("催办提醒须由县级审批人或系统管理员（或命令行）生成")
    today = _today(today)
    soon = due_soon_days(scope.region_code if len(scope.region_code) == 12 else "460000000000", today)
    base = Complaint.objects.filter(office_path__startswith=scope.region_path)
    counts = {
        ReminderKind.ACCEPTANCE_OVERDUE: _insert_reminders(
            ReminderKind.ACCEPTANCE_OVERDUE,
            "acceptance_due",
            base.filter(status=Status.NEW, acceptance_due__lt=today),
            today,
        ),
        ReminderKind.HANDLING_OVERDUE: _insert_reminders(
            ReminderKind.HANDLING_OVERDUE,
            "handling_due",
            base.filter(status__in=OPEN_STATUSES, handling_due__lt=today),
            today,
        ),
        ReminderKind.HANDLING_DUE_SOON: _insert_reminders(
            ReminderKind.HANDLING_DUE_SOON,
            "handling_due",
            base.filter(
                Q(status__in=OPEN_STATUSES),
                handling_due__gte=today,
                handling_due__lte=today + dt.timedelta(days=soon),
            ),
            today,
        ),
    }
    result = {str(k): v for k, v in counts.items()}
    audit_log_create(
        scope=scope,
        action=AuditAction.CREATE,
        subject_type="complaint_reminders",
        subject_id=today.isoformat(),
        region_code=scope.region_code or None,
        after=result,
        note="投诉举报催办提醒",
    )
    return result
