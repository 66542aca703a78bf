"""Reads of the integrity app, all filtered by the caller's region subtree (docs/integrity.md)."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from doudi.cases.choices import LIVE_RECIPIENT_STATUSES, CaseKind, StepStatus
from doudi.cases.models import Application, CaseStep, Recipient
from doudi.core.choices import Role
from doudi.core.errors import ApplicationError, NotFound
from doudi.core.models import AuditLog, Region, User
from doudi.core.scope import Scope
from doudi.integrity.choices import OPEN_STATUSES, VERIFICATION_REQUIRED, CheckCode, FindingStatus, StaffKind
from doudi.integrity.models import Finding, IntegrityRun, StaffMember
from doudi.registry import selectors as registry_selectors
from doudi.registry.models import Household, Person


def findings_list(
    *, scope: Scope, statuses: Iterable[str] | None = None, check_code: str | None = None
) -> QuerySet[Finding]:
    """The county's list: open and assigned findings (or the given statuses) in scope, newest first."""
    scope.require_personal()
    qs = Finding.objects.filter(
        region_path__startswith=scope.region_path, status__in=list(statuses or OPEN_STATUSES)
    ).select_related("region", "county", "assignee")
    if check_code:
        qs = qs.filter(check_code=check_code)
    return qs.order_by("-detected_at", "-id")


def finding_get(*, scope: Scope, finding_id: int) -> Finding:
    scope.require_personal()
    finding = (
        Finding.objects.select_related("region", "county", "assignee", "resolved_by", "staff")
        .filter(pk=finding_id, region_path__startswith=scope.region_path)
        .first()
    )
    if finding is None:
        raise NotFound("问题线索不存在或不在您的管辖范围内", "finding_id")
    return finding


def finding_counts(*, scope: Scope) -> dict[str, dict[str, int]]:
    """Counts by check and status in scope (aggregates: supervisors may read them)."""
    rows = (
        Finding.objects.filter(region_path__startswith=scope.region_path)
        .values("check_code", "status")
        .annotate(n=Count("id"))
        .order_by("check_code", "status")
    )
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        out.setdefault(row["check_code"], {})[row["status"]] = row["n"]
    return out


def integrity_runs(*, scope: Scope, limit: int = 50) -> QuerySet[IntegrityRun]:
    return IntegrityRun.objects.filter(region_path__startswith=scope.region_path).order_by("-started_at", "-id")[:limit]


def staff_members(*, scope: Scope, on: dt.date | None = None) -> QuerySet[StaffMember]:
    """Staff and cadre terms in scope; with `on`, only terms in force that day."""
    scope.require_personal()
    qs = StaffMember.objects.filter(region_path__startswith=scope.region_path).select_related("region")
    if on is not None:
        qs = qs.filter(from_date__lte=on).filter(Q(to_date__isnull=True) | Q(to_date__gte=on))
    return qs.order_by("region_id", "kind", "name", "id")


# ---- verification coverage --------------------------------------------------------------------------------


def months_before(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _share(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return (Decimal(part * 100) / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass
class CoverageRow:
    region_code: str
    region_name: str
    recipients: int = 0
    recipients_verified: int = 0
    applicants: int = 0
    applicants_verified: int = 0

    @property
    def recipients_share(self) -> Decimal | None:
        """Percent of live recipients whose household had a verification done in the window (target 100)."""
        return _share(self.recipients_verified, self.recipients)

    @property
    def applicants_share(self) -> Decimal | None:
        return _share(self.applicants_verified, self.applicants)

    def as_dict(self) -> dict[str, object]:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "region_code": self.region_code,
            "region_name": self.region_name,
            "recipients": self.recipients,
            "recipients_verified": self.recipients_verified,
            "recipients_share": text(self.recipients_share),
            "applicants": self.applicants,
            "applicants_verified": self.applicants_verified,
            "applicants_share": text(self.applicants_share),
        }


@dataclass
class Coverage:
    since: dt.date
    until: dt.date
    level: str
    rows: list[CoverageRow]
    total: CoverageRow


def verification_coverage(
    *,
    scope: Scope,
    today: dt.date | None = None,
    level: str = "township",
    programs: Iterable[str] | None = None,
) -> Coverage:
    """Share of live recipients and of the last 12 months' applicants whose case has a completed verification
    step (信息核对) in the last 12 months, per region at `level` under the scope (the plan's target is 100 %).

    A recipient counts as verified when any case of its household had the step done in the window, or when a
    completed verification run (an application's run, a caseload or yearly run: `verification.RunHousehold`)
    with an as-of date in the window covered its household (the household's economic status is what is
    verified); an applicant when its own case had the step done, or a completed run covered its household on
    or after the day the application was received. Programs: those that require verification (dibao, tekun)
    unless given. Two grouped queries, whatever the caseload.
    """
    from doudi.verification.choices import RunStatus
    from doudi.verification.models import RunHousehold

    until = today or timezone.localdate()
    since = months_before(until, 12)
    wanted = list(programs or VERIFICATION_REQUIRED)
    done = CaseStep.objects.filter(
        code="verification", status=StepStatus.DONE, acted_on__gte=since, acted_on__lte=until
    )
    runs = RunHousehold.objects.filter(run__status=RunStatus.DONE, run__as_of__gte=since, run__as_of__lte=until)
    recipients = (
        Recipient.objects.filter(
            region_path__startswith=scope.region_path, status__in=LIVE_RECIPIENT_STATUSES, program__in=wanted
        )
        .annotate(
            verified=Exists(done.filter(application__household_id=OuterRef("household_id")))
            | Exists(runs.filter(household_id=OuterRef("household_id")))
        )
        .values("region_id")
        .annotate(total=Count("id"), ok=Count("id", filter=Q(verified=True)))
        .order_by()
    )
    applicants = (
        Application.objects.filter(
            region_path__startswith=scope.region_path,
            kind=CaseKind.NEW,
            program__in=wanted,
            received_on__gte=since,
            received_on__lte=until,
        )
        .annotate(
            verified=Exists(done.filter(application_id=OuterRef("pk")))
            | Exists(runs.filter(household_id=OuterRef("household_id"), run__as_of__gte=OuterRef("received_on")))
        )
        .values("region_id")
        .annotate(total=Count("id"), ok=Count("id", filter=Q(verified=True)))
        .order_by()
    )
    groups = {
        r.code: CoverageRow(r.code, r.name)
        for r in Region.objects.filter(path__startswith=scope.region_path, level=level).order_by("code")
    }
    villages = dict(
        Region.objects.filter(path__startswith=scope.region_path, level="village").values_list("code", "path")
    )
    total = CoverageRow(scope.region_code, "合计")

    def group_of(village: str) -> CoverageRow | None:
        for code in villages.get(village, "").strip("/").split("/"):
            if code in groups:
                return groups[code]
        return None

    for row in recipients:
        group = group_of(row["region_id"])
        for target in (group, total):
            if target is not None:
                target.recipients += row["total"]
                target.recipients_verified += row["ok"]
    for row in applicants:
        group = group_of(row["region_id"])
        for target in (group, total):
            if target is not None:
                target.applicants += row["total"]
                target.applicants_verified += row["ok"]
    return Coverage(since=since, until=until, level=level, rows=list(groups.values()), total=total)


# ---- pages: the findings list and detail, assignees, staff terms (docs/integrity.md §8) -------------------

# Roles that follow up every finding of their subtree; other personal-record roles see only the findings assigned
# to them (a village or township finding may concern the village's own staff: they never browse the list).
COUNTY_ROLES = frozenset({Role.COUNTY_APPROVER, Role.COUNTY_VERIFIER, Role.ADMIN})
# Roles a finding may be handed to from the page: the township reviewer of the village, or a county officer.
# Village workers are left out on purpose: the village committee is what the kinship check looks at.
ASSIGNEE_ROLES = frozenset({Role.TOWNSHIP_REVIEWER, Role.COUNTY_APPROVER, Role.COUNTY_VERIFIER})
FINDING_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
STATUS_OPEN = "open_all"  # the default filter: open and assigned
STATUS_ALL = "all"
ASSIGNEE_NONE = "none"


def findings_visible(*, scope: Scope) -> QuerySet[Finding]:
    """Every finding the caller may read: the subtree for the county roles, their own assignments for the other
    personal-record roles; supervisors (aggregates only) are refused."""
    scope.require_personal()
    qs = Finding.objects.filter(region_path__startswith=scope.region_path)
    if scope.role not in COUNTY_ROLES:
        qs = qs.filter(assignee_id=scope.user_id)
    return qs


@dataclass(frozen=True)
class FindingPage:
    items: list[Finding]
    total: int
    next_before: int | None
    page_size: int


def findings_page(
    *,
    scope: Scope,
    check_code: str = "",
    status: str = STATUS_OPEN,
    region_code: str = "",
    assignee: str = "",
    before: int | None = None,
    page_size: int = FINDING_PAGE_SIZE,
) -> FindingPage:
    """One page of the findings the caller may read, newest first (keyset by id), filtered by check, status
    (`open_all` = open and assigned, `all`, or one status), township or village, and assignee (`none` =
    unassigned, or a user id). `total` counts every match across pages."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ApplicationError("invalid", f"每页条数应在1到{MAX_PAGE_SIZE}之间", "page_size")
    qs = findings_visible(scope=scope)
    if check_code:
        if check_code not in CheckCode.values:
            raise ApplicationError("invalid", "未知的核查项目", "check")
        qs = qs.filter(check_code=check_code)
    status = status or STATUS_OPEN
    if status == STATUS_OPEN:
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif status in FindingStatus.values:
        qs = qs.filter(status=status)
    elif status != STATUS_ALL:
        raise ApplicationError("invalid", "未知的处理状态", "status")
    if region_code:
        region = scope.regions().filter(code=region_code).first()
        if region is None:
            raise ApplicationError("invalid", "所选区域不存在或不在您的管辖范围内", "region")
        qs = qs.filter(region_path__startswith=region.path)
    if assignee == ASSIGNEE_NONE:
        qs = qs.filter(assignee__isnull=True)
    elif assignee:
        if not assignee.isdigit():
            raise ApplicationError("invalid", "承办人无效", "assignee")
        qs = qs.filter(assignee_id=int(assignee))
    total = qs.count()
    if before is not None:
        qs = qs.filter(pk__lt=before)
    ids = list(qs.order_by("-pk").values_list("pk", flat=True)[: page_size + 1])
    more = len(ids) > page_size
    ids = ids[:page_size]
    rows = list(Finding.objects.filter(pk__in=ids).select_related("region", "assignee").order_by("-pk")) if ids else []
    return FindingPage(items=rows, total=total, next_before=ids[-1] if more else None, page_size=page_size)


@dataclass(frozen=True)
class HistoryEntry:
    at: dt.datetime
    actor: str
    note: str
    status: str  # the status after the change ("" when unchanged)
    assignee: str
    resolution: str


@dataclass(frozen=True)
class FindingDetail:
    finding: Finding
    history: list[HistoryEntry]
    households: dict[int, Household]  # the households the evidence names that the caller may open
    persons: dict[int, Person]  # the persons the evidence names that the caller may read


def _user_names(ids: Iterable[int]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {
        pk: full or username
        for pk, full, username in User.objects.filter(pk__in=wanted).values_list("pk", "full_name", "username")
    }


def finding_detail(*, scope: Scope, finding_id: int) -> FindingDetail:
    """One finding the caller may read, with its follow-up history (the audit entries, oldest first) and the
    households and persons its evidence names, as far as they are in the caller's scope."""
    finding = (
        findings_visible(scope=scope)
        .select_related(
            "region", "county", "assignee", "resolved_by", "staff", "staff__region", "household", "person", "run"
        )
        .filter(pk=finding_id)
        .first()
    )
    if finding is None:
        raise NotFound("问题线索不存在或不在您的管辖范围内", "finding_id")
    entries = list(
        AuditLog.objects.filter(subject_type="finding", subject_id=str(finding.pk))
        .select_related("actor")
        .order_by("at", "pk")
    )
    names = _user_names(int((e.after or {}).get("assignee_id") or 0) for e in entries)
    statuses = dict(FindingStatus.choices)
    history = []
    for entry in entries:
        after = entry.after or {}
        actor = entry.actor.full_name or entry.actor.username if entry.actor else entry.actor_name
        status = str(after.get("status") or "")
        history.append(
            HistoryEntry(
                at=entry.at,
                actor=actor,
                note=entry.note,
                status=str(statuses.get(status, status)),
                assignee=names.get(int(after.get("assignee_id") or 0), ""),
                resolution=str(after.get("resolution") or ""),
            )
        )
    evidence = finding.evidence if isinstance(finding.evidence, dict) else {}
    household_ids = {finding.household_id} | {
        int(evidence[key]) for key in ("first_household_id", "second_household_id") if evidence.get(key)
    }
    households = {
        h.pk: h
        for h in registry_selectors.households_in_scope(scope=scope).filter(pk__in=[i for i in household_ids if i])
    }
    person_ids = {finding.person_id} | {
        int(evidence[key]) for key in ("first_person_id", "second_person_id") if evidence.get(key)
    }
    persons: dict[int, Person] = {}
    if finding.person is not None:
        persons[finding.person.pk] = finding.person  # named by the finding itself, which is in the caller's scope
    for person_id in sorted(i for i in person_ids if i and i not in persons):
        try:
            persons[person_id] = registry_selectors.person_get(scope=scope, person_id=person_id)
        except NotFound:
            continue  # moved to a household outside the caller's region: not shown
    return FindingDetail(finding=finding, history=history, households=households, persons=persons)


def finding_assignees(*, scope: Scope, finding: Finding) -> list[User]:
    """Active users the finding may be handed to: an assignee role, inside the caller's subtree, and responsible
    for the finding's village (their region is the village or one above it)."""
    scope.require_personal()
    parts = [p for p in finding.region_path.strip("/").split("/") if p]
    ancestors = ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]
    return list(
        User.objects.filter(
            is_active=True,
            role__in=ASSIGNEE_ROLES,
            region__path__startswith=scope.region_path,
            region__path__in=ancestors,
        )
        .select_related("region")
        .order_by("region__path", "role", "full_name", "username")
    )


def assignee_filter_choices(*, scope: Scope) -> list[tuple[int, str]]:
    """The users findings in scope are assigned to, for the list's filter."""
    ids = findings_visible(scope=scope).filter(assignee__isnull=False).values("assignee_id").distinct()
    users = User.objects.filter(pk__in=ids).order_by("full_name", "username")
    return [(u.pk, u.full_name or u.username) for u in users]


def staff_member_page(
    *, scope: Scope, kind: str = "", current_on: dt.date | None = None, page: int = 1, page_size: int = 50
) -> Page[StaffMember]:
    """Staff and cadre terms in scope, by region and name; with `current_on`, only terms in force that day."""
    qs = staff_members(scope=scope, on=current_on)
    if kind:
        if kind not in StaffKind.values:
            raise ApplicationError("invalid", "未知的人员类别", "kind")
        qs = qs.filter(kind=kind)
    return Paginator(qs, page_size).get_page(page)


def recent_runs(*, scope: Scope, limit: int = 20) -> list[IntegrityRun]:
    """The latest runs over the caller's subtree or inside it, with their region and who ran them."""
    return list(
        IntegrityRun.objects.filter(region_path__startswith=scope.region_path)
        .select_related("region", "actor")
        .order_by("-started_at", "-id")[:limit]
    )
