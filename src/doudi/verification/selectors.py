"""Reads of verification (核对), all filtered by the caller's role and region in the query.

Scoping: a source batch is visible when its region is inside the caller's subtree or contains it (a county sees
the province's deliveries); a run likewise (a township sees the county run that covered it); hits, notices,
disputes and evidence only inside the caller's subtree (`region_path` of the household's village). Supervisors
read aggregates only (run counts by township and rule), never a hit.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from doudi.core.choices import Role
from doudi.core.errors import NotFound, PermissionDenied
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.verification.choices import SOURCE_READ_ROLES, BatchStatus, RunStatus
from doudi.verification.models import Dispute, Evidence, Hit, Notice, RunHousehold, SourceBatch, VerificationRun

HIT_PAGE = 200


def _ancestor_codes(path: str) -> list[str]:
    return [c for c in path.split("/") if c]


def _visible(scope: Scope) -> Q:
    """Inside the caller's subtree, or a region containing the caller's (an ancestor)."""
    return Q(region_path__startswith=scope.region_path) | Q(region_id__in=_ancestor_codes(scope.region_path))


# --- sources -----------------------------------------------------------------------------------------------
def sources_in_force(*, region: Region) -> dict[str, SourceBatch]:
    """Per kind, the accepted batch of the most specific region containing `region` (county over province).

    Deliveries usually come from the provincial platform (one batch for the province) or from county offices;
    a county's own batch of a kind replaces the provincial one inside that county.
    """
    candidates = SourceBatch.objects.filter(
        status=BatchStatus.ACCEPTED, region_id__in=_ancestor_codes(region.path)
    ).order_by("kind", "-region_path", "-received_on", "-pk")
    best: dict[str, SourceBatch] = {}
    for batch in candidates:  # at most one per (kind, region): a handful of rows
        current = best.get(batch.kind)
        if current is None or len(batch.region_path) > len(current.region_path):
            best[batch.kind] = batch
    return best


def _require_source_reader(scope: Scope) -> None:
    if scope.role not in SOURCE_READ_ROLES:
        raise PermissionDenied("只有县级核对中心、县级审批人员和系统管理员可以查看核对数据")


def source_list(*, scope: Scope, kind: str | None = None, limit: int = 200) -> list[SourceBatch]:
    _require_source_reader(scope)
    qs = SourceBatch.objects.filter(_visible(scope)).select_related("region", "uploaded_by")
    if kind:
        qs = qs.filter(kind=kind)
    return list(qs.order_by("status", "kind", "-received_on", "-pk")[:limit])


def source_get(*, scope: Scope, batch_id: int) -> SourceBatch:
    _require_source_reader(scope)
    batch = (
        SourceBatch.objects.filter(_visible(scope), pk=batch_id)
        .select_related("region", "uploaded_by", "superseded_by")
        .first()
    )
    if batch is None:
        raise NotFound("数据批次不存在或不在您的管辖范围内", "batch_id")
    return batch


# --- runs --------------------------------------------------------------------------------------------------
def runs_in_scope(*, scope: Scope) -> QuerySet[VerificationRun]:
    return VerificationRun.objects.filter(_visible(scope))


def run_list(*, scope: Scope, limit: int = 100) -> list[VerificationRun]:
    qs = runs_in_scope(scope=scope).select_related("region", "created_by", "application")
    return list(qs.order_by("-created_at", "-pk")[:limit])


def run_get(*, scope: Scope, run_id: int) -> VerificationRun:
    run = runs_in_scope(scope=scope).select_related("region", "created_by", "application").filter(pk=run_id).first()
    if run is None:
        raise NotFound("核对批次不存在或不在您的管辖范围内", "run_id")
    return run


def run_progress(*, scope: Scope, run_id: int) -> dict[str, Any]:
    """Status and progress of a run: one small query (the page polls it)."""
    row = (
        runs_in_scope(scope=scope)
        .filter(pk=run_id)
        .values("id", "status", "progress", "phase", "hits", "households", "flagged_households", "error",
                "error_code", "started_at", "finished_at")
        .first()
    )  # fmt: skip
    if row is None:
        raise NotFound("核对批次不存在或不在您的管辖范围内", "run_id")
    return dict(row)


@dataclass
class RunCounts:
    """Hits of a run in the caller's area by township and rule: aggregates, readable by supervisors."""

    rules: list[str]
    rows: list[tuple[Region, dict[str, int], int]]
    total: dict[str, int] = field(default_factory=dict)
    households: int = 0
    flagged: int = 0


def run_counts(*, scope: Scope, run_id: int) -> RunCounts:
    run = run_get(scope=scope, run_id=run_id)
    inside = scope.region_path if scope.region_path.startswith(run.region_path) else run.region_path
    grouped = (
        Hit.objects.filter(run=run, region_path__startswith=inside)
        .values("region_id", "rule")
        .annotate(n=Count("id"))
        .order_by()
    )
    villages = dict(Region.objects.filter(path__startswith=inside, level="village").values_list("code", "parent_id"))
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    total: dict[str, int] = defaultdict(int)
    for row in grouped:
        township = villages.get(row["region_id"], row["region_id"])
        per[township][row["rule"]] += row["n"]
        total[row["rule"]] += row["n"]
    regions = {r.code: r for r in Region.objects.filter(code__in=list(per))}
    rows = [(regions[code], dict(by), sum(by.values())) for code, by in sorted(per.items()) if code in regions]
    households = RunHousehold.objects.filter(run=run, region_path__startswith=inside)
    stats = households.aggregate(n=Count("id"), flagged=Count("id", filter=Q(hits__gt=0)))
    from doudi.batch.verification import RULES

    return RunCounts(
        rules=list(RULES), rows=rows, total=dict(total), households=stats["n"] or 0, flagged=stats["flagged"] or 0
    )


# --- hits --------------------------------------------------------------------------------------------------
def hits_in_scope(*, scope: Scope) -> QuerySet[Hit]:
    scope.require_personal()
    return Hit.objects.filter(region_path__startswith=scope.region_path)


def run_hits(
    *,
    scope: Scope,
    run_id: int,
    township: str | None = None,
    rule: str | None = None,
    open_only: bool = False,
    after: int | None = None,
    limit: int = HIT_PAGE,
) -> list[Hit]:
    """A run's hits in the caller's area, filtered by township and rule, paged by id (keyset)."""
    run = run_get(scope=scope, run_id=run_id)
    qs = hits_in_scope(scope=scope).filter(run=run)
    if township:
        region = Region.objects.filter(code=township).first()
        if region is None:
            return []
        qs = qs.filter(region_path__startswith=region.path)
    if rule:
        qs = qs.filter(rule=rule)
    if open_only:
        qs = qs.filter(outcome="")
    if after:
        qs = qs.filter(pk__gt=after)
    return list(
        qs.select_related("person", "household", "region", "source_batch", "application").order_by("pk")[:limit]
    )


def hit_get(*, scope: Scope, hit_id: int) -> Hit:
    hit = (
        hits_in_scope(scope=scope)
        .select_related("person", "household", "region", "source_batch", "application", "outcome_by")
        .filter(pk=hit_id)
        .first()
    )
    if hit is None:
        raise NotFound("核对命中不存在或不在您的管辖范围内", "hit_id")
    return hit


def run_household_get(*, scope: Scope, run_id: int, household_id: int) -> RunHousehold:
    """A household a run verified, inside the caller's subtree (the notice page and service act on it)."""
    scope.require_personal()
    row = (
        RunHousehold.objects.select_related("run", "run__region")
        .filter(run_id=run_id, household_id=household_id, region_path__startswith=scope.region_path)
        .first()
    )
    if row is None:
        raise NotFound("核对记录不存在或不在您的管辖范围内", "run_id")
    return row


def evidence_get(*, scope: Scope, evidence_id: int) -> Evidence:
    scope.require_personal()
    item = (
        Evidence.objects.select_related("dispute")
        .filter(pk=evidence_id, dispute__region_path__startswith=scope.region_path)
        .first()
    )
    if item is None:
        raise NotFound("证据文件不存在或不在您的管辖范围内", "evidence_id")
    return item


# --- the case page -----------------------------------------------------------------------------------------
def latest_application_result(
    *, scope: Scope, application: Any
) -> tuple[VerificationRun, list[Hit], list[Notice]] | None:
    """The latest completed run that verified this case's household for this case, its hits and notices."""
    row = (
        RunHousehold.objects.filter(
            application=application, run__status=RunStatus.DONE, region_path__startswith=scope.region_path
        )
        .select_related("run")
        .order_by("-run__finished_at", "-run_id")
        .first()
    )
    if row is None:
        return None
    hits = list(
        Hit.objects.filter(run_id=row.run_id, household_id=row.household_id).order_by("rule", "person_id", "pk")
    )
    notices = list(Notice.objects.filter(run_id=row.run_id, household_id=row.household_id).order_by("notified_on"))
    return row.run, hits, notices


@dataclass
class CaseSection:
    """What the case page shows about verification."""

    application_id: int
    authorised: bool
    runs: list[VerificationRun]
    pending: VerificationRun | None  # queued or running
    latest: VerificationRun | None  # the latest completed run for this case
    hits: list[Hit]
    notices: list[Notice]
    step_status: str | None
    step_result: str | None
    can_run: bool
    can_notify: bool
    can_dispute: bool
    can_decide: bool
    can_complete: bool
    all_decided: bool
    suggested_result: str | None
    parameters: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    items: list[Any] = field(default_factory=list)  # presentation.HitView per hit


def case_section_for(*, scope: Scope, application: Any, steps: list[Any]) -> CaseSection | None:
    """The case page's entry: the section for a case whose steps the page already read (None without a
    verification step, or for a role that cannot read personal records)."""
    step = next((s for s in steps if s.code == "verification"), None)
    return case_section(scope=scope, application=application, step=step)


def case_section(*, scope: Scope, application: Any, step: Any) -> CaseSection | None:
    """The verification section of a case page: runs for this case, the latest result's hits (with disputes and
    evidence), notices, and what the caller may do. A fixed number of queries."""
    from doudi.verification.choices import DISPUTE_ROLES, NOTICE_ROLES, OUTCOME_ROLES, Outcome

    if not scope.reads_personal_data or step is None:
        return None
    run_ids = RunHousehold.objects.filter(application=application).values("run_id")
    runs = list(
        VerificationRun.objects.filter(Q(application=application) | Q(pk__in=run_ids))
        .select_related("created_by")
        .order_by("-created_at", "-pk")[:20]
    )
    pending = next((r for r in runs if r.status in (RunStatus.QUEUED, RunStatus.RUNNING)), None)
    done = [r for r in runs if r.status == RunStatus.DONE]
    latest = max(done, key=lambda r: (r.finished_at, r.pk)) if done else None
    hits: list[Hit] = []
    notices: list[Notice] = []
    if latest is not None:
        hits = list(
            Hit.objects.filter(run=latest, household_id=application.household_id)
            .select_related("person", "source_batch", "outcome_by")
            .prefetch_related(
                Prefetch(
                    "disputes",
                    queryset=Dispute.objects.order_by("received_on", "pk").prefetch_related(
                        Prefetch("evidence", queryset=Evidence.objects.order_by("pk"))
                    ),
                )
            )
            .order_by("rule", "person_id", "pk")
        )
        notices = list(
            Notice.objects.filter(run=latest, household_id=application.household_id).order_by("notified_on", "pk")
        )
    in_progress = application.status == "in_progress"
    step_open = step.status == "pending"
    may_step = scope.role == Role.ADMIN or scope.role in set(step.roles)
    all_decided = all(h.outcome for h in hits)
    suggested = None
    if latest is not None and all_decided:
        suggested = "fail" if any(h.outcome == Outcome.CONFIRMED for h in hits) else "pass"
    from doudi.verification.presentation import describe

    used = latest.summary.get("parameters", {}).get("used", {}) if latest else {}
    return CaseSection(
        application_id=application.pk,
        authorised=application.verification_authorised,
        runs=runs,
        pending=pending,
        latest=latest,
        hits=hits,
        notices=notices,
        step_status=step.status,
        step_result=(step.payload or {}).get("result"),
        can_run=in_progress and may_step and application.verification_authorised and pending is None,
        can_notify=latest is not None and scope.role in NOTICE_ROLES,
        can_dispute=latest is not None and scope.role in DISPUTE_ROLES,
        can_decide=latest is not None and scope.role in OUTCOME_ROLES and step.status != "done",
        can_complete=in_progress and step_open and may_step and latest is not None and all_decided,
        all_decided=all_decided,
        suggested_result=suggested,
        parameters=used,
        items=[describe(h, used) for h in hits],
    )


def application_runs(*, scope: Scope, application_id: int) -> list[VerificationRun]:
    from doudi.cases import selectors as case_selectors

    app = case_selectors.application_get(scope=scope, application_id=application_id)
    run_ids = RunHousehold.objects.filter(application=app).values_list("run_id", flat=True)
    return list(
        VerificationRun.objects.filter(Q(application=app) | Q(pk__in=run_ids)).order_by("-created_at", "-pk")[:50]
    )


def verified_households_since(*, since: dt.date) -> QuerySet[RunHousehold]:
    """Households verified by a completed run with an as-of date on or after `since` (for coverage figures)."""
    return RunHousehold.objects.filter(run__status=RunStatus.DONE, run__as_of__gte=since)
