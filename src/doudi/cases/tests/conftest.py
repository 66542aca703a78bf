"""Case-workflow fixtures: one scope per role, a household, and drivers that walk a case through its steps."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from doudi.cases import services
from doudi.cases.models import Application
from doudi.core.scope import Scope, scope_for
from doudi.testing.fixtures import make_household

D0 = dt.date(2021, 9, 1)  # a Wednesday under the 2021 rules
ALL_DIBAO_DOCS = {
    "application_form": True,
    "id_card": True,
    "hukou_book": True,
    "income_proof": True,
    "authorisation": True,
}


@dataclass
class Actors:
    vw: Scope
    tr: Scope
    ca: Scope
    cv: Scope
    sv: Scope
    ad: Scope
    out: Scope


@pytest.fixture
def actors(users: Any) -> Actors:
    return Actors(
        vw=scope_for(users.village_worker),
        tr=scope_for(users.township_reviewer),
        ca=scope_for(users.county_approver),
        cv=scope_for(users.county_verifier),
        sv=scope_for(users.supervisor),
        ad=scope_for(users.admin),
        out=scope_for(users.outsider),
    )


@pytest.fixture
def household(tree: Any, actors: Actors) -> Any:
    return make_household(actors.ad, tree.village, members=2)


def version(app: Application) -> int:
    app.refresh_from_db()
    return app.version


def intake(
    actors: Actors,
    household: Any,
    *,
    program: str = "dibao",
    received_on: dt.date = D0,
    scope: Scope | None = None,
    **kwargs: Any,
) -> Application:
    params: dict[str, Any] = {
        "documents": ALL_DIBAO_DOCS if program == "dibao" else None,
        "verification_authorised": True,
        "authorised_on": received_on,
        **kwargs,
    }
    return services.application_create(
        scope=scope or actors.vw,
        program=program,
        household_id=household.pk,
        applicant_id=household.head_id,
        received_on=received_on,
        today=received_on,
        **params,
    )


def complete(scope: Scope, app: Application, code: str, today: dt.date, **kwargs: Any) -> Application:
    return services.step_complete(
        scope=scope, application_id=app.pk, version=version(app), step_code=code, today=today, **kwargs
    )


def visit(scope: Scope, app: Application, on: dt.date, level: str = "township") -> Any:
    return services.home_visit_record(
        scope=scope,
        application_id=app.pk,
        version=version(app),
        level=level,
        visited_on=on,
        investigators=["张调查", "李调查"],
        findings="家庭情况与申报一致",
        members_present=["户主"],
        today=on,
    )


def publicise(scope: Scope, app: Application, code: str, start: dt.date) -> Any:
    return services.publicity_start(
        scope=scope,
        application_id=app.pk,
        version=version(app),
        step_code=code,
        start_date=start,
        place="村务公开栏",
        today=start,
    )


def to_county_approval_2021(actors: Actors, app: Application, start: dt.date = D0) -> dt.date:
    """Walk a 2021 dibao case from acceptance to the county step; returns the day the county step opened."""
    complete(actors.tr, app, "acceptance", start)
    visit(actors.tr, app, start + dt.timedelta(days=1))
    complete(actors.tr, app, "investigation", start + dt.timedelta(days=1))
    complete(actors.cv, app, "verification", start + dt.timedelta(days=2), payload={"result": "pass"})
    services.step_skip(
        scope=actors.tr,
        application_id=app.pk,
        version=version(app),
        step_code="democratic_review",
        reason="公示前无异议",
        today=start + dt.timedelta(days=2),
    )
    complete(actors.tr, app, "township_opinion", start + dt.timedelta(days=2), payload={"recommend": True})
    publicise(actors.tr, app, "publicity", start + dt.timedelta(days=3))
    done = start + dt.timedelta(days=10)
    complete(actors.tr, app, "publicity", done)
    return done


def draw(actors: Actors, program: str = "dibao") -> Any:
    return services.spot_check_batch_create(scope=actors.ca, program=program)


def draw_and_visit(actors: Actors, app: Application, on: dt.date, program: str = "dibao") -> Any:
    """Draw the spot check and, when the case is in the sample, record the county visit."""
    batch = draw(actors, program)
    if app.pk in batch.sample:
        visit(actors.ca, app, on, level="county")
    return batch
