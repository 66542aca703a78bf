"""Case reads, always within the caller's region subtree (the case's village path)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from doudi.cases.choices import (
    LIVE_RECIPIENT_STATUSES,
    ApplicationStatus,
    CaseKind,
    ObjectionStatus,
    RecheckStatus,
    RecipientStatus,
    StepStatus,
)
from doudi.cases.models import (
    Application,
    CaseStep,
    Decision,
    Holiday,
    HomeVisit,
    Objection,
    Publicity,
    Recheck,
    Recipient,
    RecipientStatusChange,
    SpotCheckBatch,
)
from doudi.core.errors import ApplicationError, NotFound
from doudi.core.scope import Scope
from doudi.registry.models import Membership

SEVERE_DISABILITY_GRADES = (1, 2)


def applications_in_scope(*, scope: Scope) -> QuerySet[Application]:
    scope.require_personal()
    return Application.objects.filter(region_path__startswith=scope.region_path)


def application_get(*, scope: Scope, application_id: int) -> Application:
    app = (
        applications_in_scope(scope=scope)
        .select_related("household", "applicant", "subject_person", "region", "workflow")
        .filter(pk=application_id)
        .first()
    )
    if app is None:
        raise NotFound("案件不存在或不在您的管辖范围内", "application_id")
    return app


def application_steps(*, scope: Scope, application_id: int) -> list[CaseStep]:
    app = application_get(scope=scope, application_id=application_id)
    return list(
        CaseStep.objects.filter(application=app).select_related("actor", "responsible_region").order_by("order")
    )


def kin_register(*, scope: Scope) -> QuerySet[Application]:
    """近亲属备案 cases, registered separately (2012 art. 14; 2021 art. 11)."""
    return applications_in_scope(scope=scope).filter(kin_declared=True).order_by("-received_on", "pk")


def overdue_steps(*, scope: Scope, today: dt.date, level: str | None = None) -> QuerySet[CaseStep]:
    """Open steps past their time limit, oldest first, with the office responsible for each."""
    qs = CaseStep.objects.filter(
        application__region_path__startswith=scope.region_path, status=StepStatus.PENDING, due_date__lt=today
    )
    scope.require_personal()
    if level:
        qs = qs.filter(level=level)
    return qs.select_related("application", "application__region", "responsible_region").order_by("due_date", "pk")


def overdue_cases(*, scope: Scope, today: dt.date) -> QuerySet[Application]:
    """Cases still open after the whole-procedure limit (2021: 30 working days)."""
    return (
        applications_in_scope(scope=scope)
        .filter(status=ApplicationStatus.IN_PROGRESS, due_date__lt=today)
        .order_by("due_date", "pk")
    )


def act_first_overdue(*, scope: Scope, today: dt.date) -> QuerySet[CaseStep]:
    """先行救助 paid, record not completed within the configured days."""
    return overdue_steps(scope=scope, today=today).filter(application__kind=CaseKind.ACT_FIRST)


def discovery_candidates(*, scope: Scope, as_of: dt.date | None = None) -> QuerySet[Membership]:
    """Active discovery (主动发现): living members of 建档立卡 households who are grade 1–2 disabled or seriously ill,
    whose household neither receives nor has applied for any benefit yet. One query, no per-household loop."""
    scope.require_personal()
    live_benefit = Recipient.objects.filter(household=OuterRef("household"), status__in=LIVE_RECIPIENT_STATUSES)
    open_case = Application.objects.filter(household=OuterRef("household"), status=ApplicationStatus.IN_PROGRESS)
    return (
        Membership.objects.filter(
            household__region__path__startswith=scope.region_path,
            household__registered_poor=True,
            household__status="active",
            end_date__isnull=True,
            person__death_date__isnull=True,
        )
        .filter(Q(person__disability_grade__in=SEVERE_DISABILITY_GRADES) | Q(person__serious_illness=True))
        .filter(~Exists(live_benefit), ~Exists(open_case))
        .select_related("household", "household__region", "person")
        .order_by("household_id", "person_id")
    )


def recipients_in_scope(*, scope: Scope, program: str | None = None, live_only: bool = True) -> QuerySet[Recipient]:
    scope.require_personal()
    qs = Recipient.objects.filter(region_path__startswith=scope.region_path)
    if program:
        qs = qs.filter(program=program)
    if live_only:
        qs = qs.filter(status__in=LIVE_RECIPIENT_STATUSES).filter(_not_ended())
    return qs.select_related("household", "person").order_by("pk")


def _not_ended() -> Q:
    """Not past its end month (a one-off benefit is payable in one month only; docs/cases.md §5)."""
    return Q(end_month__isnull=True) | Q(end_month__gte=timezone.localdate().replace(day=1))


def recipient_history(*, scope: Scope, recipient_id: int) -> list[RecipientStatusChange]:
    recipient = recipients_in_scope(scope=scope, live_only=False).filter(pk=recipient_id).first()
    if recipient is None:
        raise NotFound("救助对象不存在或不在您的管辖范围内", "recipient_id")
    return list(recipient.history.order_by("at", "pk"))


def rechecks_due(*, scope: Scope, today: dt.date, within_days: int = 0) -> QuerySet[Recheck]:
    """Scheduled rechecks due by `today` + `within_days`, and open ones past their due date."""
    scope.require_personal()
    horizon = today + dt.timedelta(days=within_days)
    return (
        Recheck.objects.filter(recipient__region_path__startswith=scope.region_path)
        .filter(
            Q(status=RecheckStatus.SCHEDULED, due_date__lte=horizon) | Q(status=RecheckStatus.OPEN, due_date__lt=today)
        )
        .select_related("recipient", "recipient__household")
        .order_by("due_date", "pk")
    )


# --- documents (notices, publicity lists, certificates) -------------------------------------------------------


def application_decision(*, scope: Scope, application_id: int) -> Decision:
    """The decision of a decided case in scope; a case without a decision is `not_found` (no notice exists yet)."""
    app = application_get(scope=scope, application_id=application_id)
    decision = Decision.objects.select_related("determination").filter(application=app).first()
    if decision is None:
        raise NotFound("该案件尚未作出决定", "application_id")
    return decision


def deciding_step(*, scope: Scope, application_id: int) -> CaseStep | None:
    """The step that decided the case: the refusing step, else the deciding step that was done."""
    steps = application_steps(scope=scope, application_id=application_id)
    rejected = [s for s in steps if s.status == StepStatus.REJECTED]
    decided = [s for s in steps if s.decides and s.status == StepStatus.DONE]
    chosen = rejected or decided
    return chosen[0] if chosen else None


def publicity_get(*, scope: Scope, publicity_id: int) -> Publicity:
    scope.require_personal()
    publicity = (
        Publicity.objects.select_related("application", "application__region", "application__region__parent")
        .filter(pk=publicity_id, application__region_path__startswith=scope.region_path)
        .first()
    )
    if publicity is None:
        raise NotFound("公示不存在或不在您的管辖范围内", "publicity_id")
    return publicity


def publicity_cohort(*, scope: Scope, publicity_id: int) -> list[Publicity]:
    """The publicity list of a township: every case of the same program in the same township (and in scope) whose
    publicity of the same stage started on the same day, ordered by village and case."""
    publicity = publicity_get(scope=scope, publicity_id=publicity_id)
    village_path = publicity.application.region_path
    township_path = village_path.rstrip("/").rsplit("/", 1)[0] + "/"  # paths are /code/code/…/
    return list(
        Publicity.objects.filter(
            application__region_path__startswith=scope.region_path,
            stage=publicity.stage,
            start_date=publicity.start_date,
            application__program=publicity.application.program,
        )
        .filter(application__region_path__startswith=township_path)
        .select_related(
            "application",
            "application__region",
            "application__household",
            "application__applicant",
            "application__subject_person",
        )
        .order_by("application__region__code", "application_id")
    )


def recipient_get(*, scope: Scope, recipient_id: int, live_only: bool = False) -> Recipient:
    recipient = (
        recipients_in_scope(scope=scope, live_only=live_only)
        .select_related("region", "region__parent", "household__head", "application")
        .filter(pk=recipient_id)
        .first()
    )
    if recipient is None:
        raise NotFound("救助对象不存在或不在您的管辖范围内", "recipient_id")
    return recipient


def household_sizes(*, scope: Scope, household_ids: list[int]) -> dict[int, int]:
    """Living current members per household (in scope), in one grouped query."""
    scope.require_personal()
    rows = (
        Membership.objects.filter(
            household_id__in=household_ids,
            household__region__path__startswith=scope.region_path,
            end_date__isnull=True,
            person__death_date__isnull=True,
        )
        .values("household_id")
        .annotate(n=Count("pk"))
    )
    return {row["household_id"]: row["n"] for row in rows}


# --- the case page (cases/views.py) -------------------------------------------------------------------
def tasks_for(*, scope: Scope, today: dt.date | None = None, limit: int | None = None) -> QuerySet[CaseStep]:
    """Pending steps the caller's role may act on, in scope, due date first (no due date last), in one query.
    A village worker follows every pending step of the cases of their village; an administrator sees every step.
    (`today` is accepted for symmetry with the overdue lists; the page flags overdue rows itself.)"""
    from django.db import connection
    from django.db.models import F

    scope.require_personal()
    # A pending step is work whatever the case's status: the decision notice (决定告知) is due after the decision.
    qs = CaseStep.objects.filter(application__region_path__startswith=scope.region_path, status=StepStatus.PENDING)
    if scope.role not in ("admin", "village_worker"):
        # jsonb containment on PostgreSQL; elsewhere the quoted code as text (no role code contains another).
        if connection.vendor == "postgresql":
            qs = qs.filter(roles__contains=[scope.role])
        else:
            qs = qs.filter(roles__icontains=f'"{scope.role}"')
    qs = qs.select_related(
        "application", "application__household", "application__applicant", "application__region"
    ).order_by(F("due_date").asc(nulls_last=True), "pk")
    return qs[:limit] if limit else qs


@dataclass(frozen=True)
class CasePage:
    """Everything the case page shows, read in a fixed number of queries."""

    application: Application
    steps: list[CaseStep]
    visits: list[HomeVisit]
    publicities: list[Publicity]
    decision: Decision | None
    members: list[Membership]  # every membership of the household (the determination may name former members)


def case_page(*, scope: Scope, application_id: int) -> CasePage:
    """The case with its steps, visits, publicities (with objections), decision and the household's members:
    six queries whatever the size of the database."""
    from django.db.models import Prefetch

    app = (
        applications_in_scope(scope=scope)
        .select_related(
            "household",
            "household__head",
            "applicant",
            "subject_person",
            "region",
            "workflow",
            "spot_check_batch",
            "recipient",
        )
        .filter(pk=application_id)
        .first()
    )
    if app is None:
        raise NotFound("案件不存在或不在您的管辖范围内", "application_id")
    steps = list(
        CaseStep.objects.filter(application=app).select_related("actor", "responsible_region").order_by("order")
    )
    visits = list(HomeVisit.objects.filter(application=app).select_related("recorded_by").order_by("visited_on", "pk"))
    publicities = list(
        Publicity.objects.filter(application=app)
        .prefetch_related(Prefetch("objections", queryset=Objection.objects.order_by("received_on", "pk")))
        .order_by("start_date", "pk")
    )
    decision = (
        Decision.objects.filter(application=app).select_related("determination", "actor").first()
        if app.status != ApplicationStatus.IN_PROGRESS
        else None
    )
    members = list(
        Membership.objects.filter(household_id=app.household_id)
        .select_related("person")
        .order_by("end_date", "relation", "pk")
    )
    return CasePage(
        application=app, steps=steps, visits=visits, publicities=publicities, decision=decision, members=members
    )


# --- API (cases/api.py): case search; spot checks (also the follow-up pages) ------------------------------------------

API_PAGE_SIZE = 20
API_MAX_PAGE_SIZE = 100


def application_search(
    *,
    scope: Scope,
    program: str = "",
    status: str = "",
    kind: str = "",
    current_step: str = "",
    household_id: int | None = None,
    after: int | None = None,
    page_size: int = API_PAGE_SIZE,
) -> tuple[list[Application], int | None]:
    """Cases in scope, newest first, keyset-paged by id: (page, next_after)."""
    qs = applications_in_scope(scope=scope)
    if program:
        qs = qs.filter(program=program)
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    if current_step:
        qs = qs.filter(current_step=current_step)
    if household_id is not None:
        qs = qs.filter(household_id=household_id)
    if after is not None:
        qs = qs.filter(pk__lt=after)
    size = max(1, min(page_size, API_MAX_PAGE_SIZE))
    rows = list(qs.select_related("region", "household", "applicant").order_by("-pk")[: size + 1])
    return rows[:size], (rows[size - 1].pk if len(rows) > size else None)


def spot_check_batches(*, scope: Scope, program: str = "", limit: int = 100) -> list[SpotCheckBatch]:
    """Spot-check draws of the counties in scope (and of the caller's own county), newest first."""
    scope.require_personal()
    ancestors = [code for code in scope.region_path.strip("/").split("/") if code]
    qs = SpotCheckBatch.objects.filter(Q(region__path__startswith=scope.region_path) | Q(region_id__in=ancestors))
    if program:
        qs = qs.filter(program=program)
    return list(qs.select_related("region").order_by("-pk")[:limit])


# --- follow-up pages: publicity, spot checks, recipients, rechecks, holidays (H1b) --------------------------------

FOLLOWUP_LIST_LIMIT = 200
RECENT_PUBLICITY_DAYS = 30
RECIPIENT_PAGE_SIZE = 50
RECIPIENT_STATUS_FILTERS = ("live", "all", *RecipientStatus.values)


@dataclass(frozen=True)
class PublicityRow:
    publicity: Publicity
    state: str  # "upcoming" | "running" | "ended"
    days_left: int  # calendar days from today to the end date (negative once ended)
    objections: int
    open_objections: int


def publicity_rows(
    *, scope: Scope, today: dt.date, recent_days: int = RECENT_PUBLICITY_DAYS, limit: int = FOLLOWUP_LIST_LIMIT
) -> list[PublicityRow]:
    """Publicities not yet ended (ending soonest first), then those ended within `recent_days` (latest first),
    with their objection counts: one query each, no per-row lookups."""
    scope.require_personal()
    qs = (
        Publicity.objects.filter(
            application__region_path__startswith=scope.region_path,
            end_date__gte=today - dt.timedelta(days=recent_days),
        )
        .select_related("application", "application__household", "application__applicant", "application__region")
        .annotate(
            objection_count=Count("objections"),
            open_objection_count=Count("objections", filter=Q(objections__status=ObjectionStatus.OPEN)),
        )
    )
    current = list(qs.filter(end_date__gte=today).order_by("end_date", "pk")[:limit])
    ended = list(qs.filter(end_date__lt=today).order_by("-end_date", "-pk")[: max(limit - len(current), 0)])
    rows = []
    for p in [*current, *ended]:
        state = "ended" if p.end_date < today else "upcoming" if p.start_date > today else "running"
        rows.append(
            PublicityRow(
                publicity=p,
                state=state,
                days_left=(p.end_date - today).days,
                objections=p.objection_count,  # type: ignore[attr-defined]
                open_objections=p.open_objection_count,  # type: ignore[attr-defined]
            )
        )
    return rows


@dataclass(frozen=True)
class SpotCheckRow:
    batch: SpotCheckBatch
    population: int
    mandatory: int
    sampled: int
    cases: list[Application]  # the sampled cases the caller may open (in their region)
    mandatory_ids: frozenset[int]


def spot_check_rows(*, scope: Scope, limit: int = 50) -> list[SpotCheckRow]:
    """The latest draws (see spot_check_batches) with the sampled cases the caller may open. Two queries."""
    batches = spot_check_batches(scope=scope, limit=limit)
    sampled: dict[int, list[Application]] = {b.pk: [] for b in batches}
    if batches:
        for app in (
            applications_in_scope(scope=scope)
            .filter(spot_check_batch__in=[b.pk for b in batches], spot_check_selected=True)
            .select_related("household", "applicant", "region")
            .order_by("pk")
        ):
            assert app.spot_check_batch_id is not None
            sampled[app.spot_check_batch_id].append(app)
    return [
        SpotCheckRow(
            batch=b,
            population=len(b.population),
            mandatory=len(b.mandatory),
            sampled=len(b.sample),
            cases=sampled[b.pk],
            mandatory_ids=frozenset(b.mandatory),
        )
        for b in batches
    ]


@dataclass(frozen=True)
class RecipientPage:
    items: Sequence[Recipient]
    next_after: int | None
    page_size: int


def recipient_page(
    *,
    scope: Scope,
    program: str = "",
    status: str = "live",
    village_code: str = "",
    after: int | None = None,
    page_size: int = RECIPIENT_PAGE_SIZE,
) -> RecipientPage:
    """Recipients by program, status ("live" = active, gradual exit or suspended; "all") and village, keyset-paged
    by id: the page of ids first, then only those rows with their household, head, person and village."""
    if not 1 <= page_size <= FOLLOWUP_LIST_LIMIT:
        raise ApplicationError("invalid", f"每页条数应在1到{FOLLOWUP_LIST_LIMIT}之间", "page_size")
    qs = Recipient.objects.filter(region_path__startswith=scope.region_path)
    scope.require_personal()
    if program:
        qs = qs.filter(program=program)
    status = status or "live"
    if status == "live":
        qs = qs.filter(status__in=LIVE_RECIPIENT_STATUSES).filter(_not_ended())
    elif status in RecipientStatus.values:
        qs = qs.filter(status=status)
    elif status != "all":
        raise ApplicationError("invalid", "未知的对象状态", "status")
    if village_code:
        qs = qs.filter(region_id=village_code)
    if after is not None:
        qs = qs.filter(pk__gt=after)
    ids = list(qs.order_by("pk").values_list("pk", flat=True)[: page_size + 1])
    has_more = len(ids) > page_size
    ids = ids[:page_size]
    rows = (
        list(
            Recipient.objects.filter(pk__in=ids)
            .select_related("household", "household__head", "person", "region")
            .order_by("pk")
        )
        if ids
        else []
    )
    return RecipientPage(items=rows, next_after=ids[-1] if has_more else None, page_size=page_size)


@dataclass(frozen=True)
class RecipientDetail:
    recipient: Recipient
    history: list[RecipientStatusChange]
    rechecks: list[Recheck]


def recipient_detail(*, scope: Scope, recipient_id: int) -> RecipientDetail:
    """One recipient with its status history (oldest first) and its rechecks (latest due first)."""
    recipient = (
        recipients_in_scope(scope=scope, live_only=False)
        .select_related("household__head", "region", "application", "determination")
        .filter(pk=recipient_id)
        .first()
    )
    if recipient is None:
        raise NotFound("救助对象不存在或不在您的管辖范围内", "recipient_id")
    history = list(recipient.history.select_related("actor").order_by("at", "pk"))
    rechecks = list(recipient.rechecks.select_related("application").order_by("-due_date", "-pk"))
    return RecipientDetail(recipient=recipient, history=history, rechecks=rechecks)


def household_recipients(*, scope: Scope, household_id: int) -> list[Recipient]:
    """The live benefits of one household in scope (household and personal ones)."""
    return list(
        recipients_in_scope(scope=scope).filter(household_id=household_id).select_related("person").order_by("pk")
    )


@dataclass(frozen=True)
class RecheckRow:
    recheck: Recheck
    days_left: int
    overdue: bool

    @property
    def days_overdue(self) -> int:
        return -self.days_left


def recheck_rows(
    *, scope: Scope, today: dt.date, within_days: int = 30, overdue_only: bool = False, limit: int = FOLLOWUP_LIST_LIMIT
) -> list[RecheckRow]:
    """Rechecks due within `within_days` (and open ones past due, see rechecks_due), soonest first."""
    qs = rechecks_due(scope=scope, today=today, within_days=within_days).select_related(
        "recipient__household__head", "recipient__person", "recipient__region", "application"
    )
    if overdue_only:
        qs = qs.filter(due_date__lt=today)
    rows = qs[:limit]
    return [RecheckRow(recheck=r, days_left=(r.due_date - today).days, overdue=r.due_date < today) for r in rows]


def holiday_list(*, scope: Scope, year: int | None = None) -> list[Holiday]:
    """The operators' corrections to the official calendar (the calendar is the same everywhere)."""
    scope.require_personal()
    qs = Holiday.objects.all()
    if year:
        qs = qs.filter(date__year=year)
    return list(qs.order_by("date"))
