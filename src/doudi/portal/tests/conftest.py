"""Portal fixtures: recipients and pending cases written directly (the disclosure contract only reads them), a clean
portal cache per test."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import caches

from doudi.cases.models import Application, Determination, Publicity, Recipient, WorkflowDefinition
from doudi.portal.views import CACHE_ALIAS
from doudi.registry.models import Household, Person

TODAY = dt.date(2026, 3, 10)


@pytest.fixture(autouse=True)
def _clean_portal_cache(settings: Any, tmp_path: Any) -> None:
    """The portal's file cache in the test's own directory (a running server's cache is never touched), empty."""
    settings.CACHES = {
        **settings.CACHES,
        CACHE_ALIAS: {**settings.CACHES[CACHE_ALIAS], "LOCATION": str(tmp_path / "portal-cache")},
    }
    caches[CACHE_ALIAS].clear()


def _application(household: Household, program: str, person: Person | None, status: str) -> Application:
    assert household.head_id is not None
    return Application.objects.create(
        program=program,
        household=household,
        applicant_id=household.head_id,
        subject_person=person,
        subject_key=f"p{person.pk}" if person else f"h{household.pk}",
        region=household.region,
        region_path=household.region.path,
        workflow=WorkflowDefinition.objects.filter(program=program).order_by("pk").first(),
        rule_set="2021",
        status=status,
        received_on=TODAY - dt.timedelta(days=40),
        intake_level="township",
    )


def make_recipient(
    household: Household,
    *,
    program: str = "dibao",
    person: Person | None = None,
    status: str = "active",
    start_month: dt.date = dt.date(2026, 1, 1),
    end_month: dt.date | None = None,
    amount: str = "320.00",
) -> Recipient:
    app = _application(household, program, person, "approved")
    det = Determination.objects.create(application=app, program=program, as_of=TODAY, input={}, output={})
    return Recipient.objects.create(
        program=program,
        household=household,
        person=person,
        subject_key=app.subject_key,
        region=household.region,
        region_path=household.region.path,
        status=status,
        start_month=start_month,
        end_month=end_month,
        monthly_amount=Decimal(amount),
        determination=det,
        application=app,
        recheck_category="yearly",
    )


def make_publicity(
    household: Household, user: Any, *, start: dt.date = TODAY - dt.timedelta(days=2), amount: str | None = None
) -> Publicity:
    app = _application(household, "dibao", None, "in_progress")
    if amount is not None:
        app.request = {"proposed_amount": amount}
        app.save(update_fields=["request"])
    return Publicity.objects.create(
        application=app,
        stage="initial",
        place="村务公开栏",
        start_date=start,
        end_date=start + dt.timedelta(days=6),
        created_by=user,
    )
