"""Reads of the integrity app, all filtered by the caller's region subtree (docs/integrity.md)."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from doudi.cases.choices import LIVE_RECIPIENT_STATUSES, CaseKind, StepStatus
from doudi.cases.models import Application, CaseStep, Recipient
from doudi.core.errors import NotFound
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.integrity.choices import OPEN_STATUSES, VERIFICATION_REQUIRED
from doudi.integrity.models import Finding, IntegrityRun, StaffMember


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

    A recipient counts as verified when any case of its household had the step done in the window (the
    household's economic status is what is verified); an applicant when its own case had. Programs: those that
    require verification (dibao, tekun) unless given. Two grouped queries, whatever the caseload.
    """
    until = today or timezone.localdate()
    since = months_before(until, 12)
    wanted = list(programs or VERIFICATION_REQUIRED)
    done = CaseStep.objects.filter(
        code="verification", status=StepStatus.DONE, acted_on__gte=since, acted_on__lte=until
    )
    recipients = (
        Recipient.objects.filter(
            region_path__startswith=scope.region_path, status__in=LIVE_RECIPIENT_STATUSES, program__in=wanted
        )
        .annotate(verified=Exists(done.filter(application__household_id=OuterRef("household_id"))))
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
        .annotate(verified=Exists(done.filter(application_id=OuterRef("pk"))))
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
