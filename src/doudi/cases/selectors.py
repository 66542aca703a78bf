"""Case reads, always within the caller's region subtree (the case's village path)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q, QuerySet

from doudi.cases.choices import (
    LIVE_RECIPIENT_STATUSES,
    ApplicationStatus,
    CaseKind,
    RecheckStatus,
    StepStatus,
)
from doudi.cases.models import Application, CaseStep, Recheck, Recipient, RecipientStatusChange
from doudi.core.errors import NotFound
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
        qs = qs.filter(status__in=LIVE_RECIPIENT_STATUSES)
    return qs.select_related("household", "person").order_by("pk")


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
