"""Verification fixtures: scopes per role, source files made from registry members, a dibao case at its
verification step."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import pytest

from doudi.cases.models import Application
from doudi.cases.tests.conftest import Actors, complete, intake, visit
from doudi.core.scope import Scope, scope_for
from doudi.registry.models import Household, Membership, Person
from doudi.testing.fixtures import make_household
from doudi.verification import services

D0 = dt.date(2024, 3, 4)  # a Monday


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


def members(household: Household) -> list[Person]:
    return [m.person for m in Membership.objects.filter(household=household, end_date__isnull=True).order_by("pk")]


def csv_bytes(header: str, rows: list[str], encoding: str = "utf-8") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode(encoding)


HEADERS = {
    "vehicles": "id_number,plate,vehicle_type,value",
    "deaths": "id_number,death_date",
    "deposits": "id_number,institution,balance,as_of",
    "business": "id_number,company_id,role,registered_capital,status",
}


def upload(
    scope: Scope,
    kind: str,
    rows: list[str],
    *,
    name: str | None = None,
    region_code: str | None = None,
    encoding: str = "utf-8",
    header: str | None = None,
) -> Any:
    data = csv_bytes(header or HEADERS[kind], rows, encoding)
    return services.source_ingest(
        scope=scope,
        fileobj=io.BytesIO(data),
        filename=name or f"{kind}.csv",
        kind=kind,
        department="测试部门",
        period_start=dt.date(2024, 1, 1),
        period_end=dt.date(2024, 2, 29),
        received_on=dt.date(2024, 3, 1),
        region_code=region_code,
    )


@dataclass
class Case:
    app: Application
    household: Household
    people: list[Person]


def case_at_verification(actors: Actors, household: Household) -> Application:
    """A 2021 dibao case whose current step is 信息核对."""
    app = intake(actors, household, received_on=D0)
    complete(actors.tr, app, "acceptance", D0)
    visit(actors.tr, app, D0)
    complete(actors.tr, app, "investigation", D0)
    app.refresh_from_db()
    assert app.current_step == "verification"
    return app


@pytest.fixture
def case(tree: Any, actors: Actors) -> Case:
    household = make_household(actors.ad, tree.village, members=2)
    app = case_at_verification(actors, household)
    return Case(app=app, household=household, people=members(household))


@pytest.fixture
def client_for(users: Any) -> Any:
    """client_for("county_verifier") → a test client logged in as that fixture user."""
    from django.test import Client

    def build(role_name: str) -> Client:
        client = Client()
        client.force_login(getattr(users, role_name))
        return client

    return build
