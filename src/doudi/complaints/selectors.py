"""Complaint reads. Lists are scoped in the query by the handling office's path; the reporter's identity is read
only by `reporter_for`, which answers None to anyone but the handling office (role and region); supervisors get
aggregates only; the public lookup returns a fixed set of fields."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Substr
from django.utils import timezone

from doudi.complaints import tracking
from doudi.complaints.choices import OPEN_STATUSES, Finding, Kind, Status
from doudi.complaints.models import Attachment, Complaint, Entry, Reminder, Reporter
from doudi.complaints.services import HANDLER_ROLES, due_soon_days, is_handling_office, reroute_offices
from doudi.core.choices import Role
from doudi.core.errors import ApplicationError, NotFound, PermissionDenied
from doudi.core.models import Region
from doudi.core.scope import Scope

LIST_ROLES = HANDLER_ROLES | {Role.ADMIN}
STATISTICS_ROLES = LIST_ROLES | {Role.SUPERVISOR}
PAGE_SIZE = 100


def _require_list(scope: Scope) -> None:
    if scope.role == Role.SUPERVISOR:
        raise PermissionDenied("监管角色只能查看投诉举报的汇总统计")
    if scope.role not in LIST_ROLES:
        raise PermissionDenied("投诉举报由乡镇（街道）审核人和县级审批人办理")


def complaints_in_scope(*, scope: Scope) -> QuerySet[Complaint]:
    """Complaints handled by an office inside the caller's region: a township sees its own, a county its own and
    its townships', an administrator everything below its region."""
    _require_list(scope)
    return Complaint.objects.filter(office_path__startswith=scope.region_path)


@dataclass(frozen=True)
class ListFilters:
    status: str = ""
    kind: str = ""
    due: str = ""  # "overdue" | "soon" | ""
    mine: bool = False  # only complaints this office handles
    after: int | None = None  # keyset: complaints after this row of the ordering (its id)


@dataclass(frozen=True)
class ListPage:
    rows: Sequence[Complaint]
    more: bool
    today: dt.date
    soon_until: dt.date


def _filtered(scope: Scope, filters: ListFilters, today: dt.date) -> tuple[QuerySet[Complaint], Q, dt.date]:
    soon_until = today + dt.timedelta(days=due_soon_days(scope.region_code or "460000000000", today))
    qs = complaints_in_scope(scope=scope).select_related("region", "office")
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.mine:
        qs = qs.filter(office_id=scope.region_code)
    open_q = Q(status__in=OPEN_STATUSES)
    overdue_q = open_q & (Q(handling_due__lt=today) | Q(status=Status.NEW, acceptance_due__lt=today))
    if filters.due == "overdue":
        qs = qs.filter(overdue_q)
    elif filters.due == "soon":
        qs = qs.filter(open_q, handling_due__gte=today, handling_due__lte=soon_until)
    return qs, overdue_q, soon_until


def complaint_list(
    *, scope: Scope, filters: ListFilters | None = None, today: dt.date | None = None, limit: int = PAGE_SIZE
) -> ListPage:
    """Overdue first (then due soonest); open complaints before finished ones. Never the reporter."""
    today = today or timezone.localdate()
    qs, overdue_q, soon_until = _filtered(scope, filters or ListFilters(), today)
    open_q = Q(status__in=OPEN_STATUSES)
    qs = qs.annotate(
        rank=Case(
            When(overdue_q, then=Value(0)), When(open_q, then=Value(1)), default=Value(2), output_field=IntegerField()
        )
    ).order_by("rank", "handling_due", "id")
    rows = list(qs[: limit + 1])
    return ListPage(rows=rows[:limit], more=len(rows) > limit, today=today, soon_until=soon_until)


def complaint_page(
    *, scope: Scope, filters: ListFilters | None = None, page_size: int = PAGE_SIZE, today: dt.date | None = None
) -> tuple[list[Complaint], int | None]:
    """The same filters, paged by keyset on the id (API): the rows and the `after` of the next page."""
    filters = filters or ListFilters()
    today = today or timezone.localdate()
    qs, _overdue, _soon = _filtered(scope, filters, today)
    if filters.after is not None:
        qs = qs.filter(id__gt=filters.after)
    rows = list(qs.order_by("id")[: page_size + 1])
    more = len(rows) > page_size
    rows = rows[:page_size]
    return rows, (rows[-1].pk if more and rows else None)


def complaint_get(*, scope: Scope, complaint_id: int) -> Complaint:
    complaint = (
        complaints_in_scope(scope=scope)
        .select_related("region", "office", "household", "application", "recipient", "created_by")
        .filter(pk=complaint_id)
        .first()
    )
    if complaint is None:
        raise NotFound("投诉举报不存在或不在您的管辖范围内", "complaint_id")
    return complaint


def reporter_for(*, scope: Scope, complaint: Complaint) -> Reporter | None:
    """The reporter, for the handling office only (its region and its handling role); None for anyone else."""
    if complaint.anonymous or not is_handling_office(scope, complaint):
        return None
    return Reporter.objects.filter(complaint=complaint).first()


def entries(*, scope: Scope, complaint: Complaint) -> list[Entry]:
    complaint_get(scope=scope, complaint_id=complaint.pk)
    return list(
        Entry.objects.filter(complaint=complaint)
        .select_related("from_office", "to_office", "recipient", "household")
        .order_by("created_at", "id")
    )


def attachments_for(*, scope: Scope, complaint: Complaint) -> list[Attachment]:
    """Attachments may show who the reporter is (photos, letters): the handling office only."""
    if not is_handling_office(scope, complaint):
        return []
    return list(Attachment.objects.filter(complaint=complaint).order_by("id"))


def attachment_get(*, scope: Scope, complaint_id: int, attachment_id: int) -> Attachment:
    complaint = complaint_get(scope=scope, complaint_id=complaint_id)
    found = [a for a in attachments_for(scope=scope, complaint=complaint) if a.pk == attachment_id]
    if not found:
        raise NotFound("附件不存在或您无权查看", "attachment_id")
    return found[0]


def reroute_targets(*, scope: Scope, complaint: Complaint) -> list[Region]:
    """The offices this caller may send the complaint to — the rule the service enforces (`reroute_offices`): a
    township office only its county; the county approver and administrators the county and its townships."""
    return reroute_offices(scope, complaint)


# --- public lookup --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PublicStatus:
    """What anyone holding the tracking number may see: no reporter, no household, no staff name."""

    number: str
    kind: str
    status: str
    status_code: str
    received_on: dt.date
    acceptance_due: dt.date
    handling_due: dt.date
    accepted_on: dt.date | None
    answered_on: dt.date | None
    closed_on: dt.date | None
    office: str
    not_accepted_reason: str
    public_reply: str


PUBLIC_FIELDS = tuple(PublicStatus.__dataclass_fields__)


def complaint_lookup(*, number: str) -> PublicStatus:
    """By tracking number. A mistyped number (wrong length, characters or check character) is told apart from an
    unknown one, without a query: the check character is public, so this reveals nothing about which numbers
    exist, and it spares the person a throttled retry."""
    try:
        canonical = tracking.normalise(number)
    except tracking.Invalid as exc:
        if exc.reason == "check":
            raise ApplicationError(
                "number_typo", "受理编号有误（校验位不符），请逐位核对后重新输入", "number"
            ) from None
        raise ApplicationError(
            "invalid_number", f"受理编号应为{tracking.LENGTH}位字母和数字（可含短横线）", "number"
        ) from None
    complaint = Complaint.objects.select_related("office").filter(tracking_number=canonical).first()
    if complaint is None:
        raise ApplicationError("unknown_number", "未找到该受理编号，请核对后重新输入", "number", status=404)
    return PublicStatus(
        number=tracking.display(canonical),
        kind=str(Kind(complaint.kind).label),
        status=str(Status(complaint.status).label),
        status_code=complaint.status,
        received_on=complaint.received_on,
        acceptance_due=complaint.acceptance_due,
        handling_due=complaint.handling_due,
        accepted_on=complaint.accepted_on,
        answered_on=complaint.answered_on,
        closed_on=complaint.closed_on,
        office=complaint.office.name,
        not_accepted_reason=complaint.not_accepted_reason,
        public_reply=complaint.public_reply if complaint.status in (Status.ANSWERED, Status.CLOSED) else "",
    )


# --- statistics -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatRow:
    code: str
    name: str
    total: int
    by_kind: dict[str, int]
    by_status: dict[str, int]
    by_finding: dict[str, int]
    overdue: int


def statistics(*, scope: Scope, today: dt.date | None = None) -> list[StatRow]:
    """Counts per child region of the caller's region (by the region concerned) and per kind, status and finding,
    of the complaints handled by offices inside the caller's region. Aggregates only: no complaint, reporter or
    text. One grouped query."""
    if scope.role not in STATISTICS_ROLES:
        raise PermissionDenied("投诉举报统计供乡镇、县级办理人员和监管人员查看")
    today = today or timezone.localdate()
    start = len(scope.region_path) + 1  # the child's 12-digit code follows the caller's path
    child = Substr("region_path", start, 12)
    aggregates: dict[str, Any] = {"total": Count("id")}
    for value in Kind.values:
        aggregates[f"k_{value}"] = Count("id", filter=Q(kind=value))
    for value in Status.values:
        aggregates[f"s_{value}"] = Count("id", filter=Q(status=value))
    for value in Finding.values:
        aggregates[f"f_{value}"] = Count("id", filter=Q(finding=value))
    aggregates["overdue"] = Count("id", filter=Q(status__in=OPEN_STATUSES, handling_due__lt=today))
    # Both the region concerned and the handling office inside the caller's region: a township never counts the
    # complaints about it that the county handles (a count of one could tell its staff they were reported).
    rows = (
        Complaint.objects.filter(region_path__startswith=scope.region_path, office_path__startswith=scope.region_path)
        .annotate(child=child)
        .values("child")
        .annotate(**aggregates)
        .order_by("child")
    )
    data = list(rows)
    names = dict(Region.objects.filter(code__in=[r["child"] for r in data]).values_list("code", "name"))
    return [
        StatRow(
            code=r["child"],
            name=names.get(r["child"], r["child"]),
            total=r["total"],
            by_kind={v: r[f"k_{v}"] for v in Kind.values},
            by_status={v: r[f"s_{v}"] for v in Status.values},
            by_finding={v: r[f"f_{v}"] for v in Finding.values},
            overdue=r["overdue"],
        )
        for r in data
    ]


def reminder_summary(*, scope: Scope, on: dt.date | None = None) -> list[dict[str, Any]]:
    """Reminders recorded on a day, counted per handling office and kind (one grouped query; no complaint data)."""
    on = on or timezone.localdate()
    rows = (
        Reminder.objects.filter(created_on=on, office__path__startswith=scope.region_path)
        .values("office_id", "office__name", "kind")
        .annotate(n=Count("id"))
        .order_by("office_id", "kind")
    )
    return [{"office": r["office_id"], "name": r["office__name"], "kind": r["kind"], "count": r["n"]} for r in rows]
