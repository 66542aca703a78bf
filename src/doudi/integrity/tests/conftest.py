"""Given-state builders for the integrity checks.

The checks look for states the case services refuse to create (an approval without verification, a benefit
still paid after death), so cases and recipients are written here directly, as legacy imports or edits made
elsewhere would leave them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from doudi.cases.models import Application, CaseStep, Decision, Determination, Recipient, WorkflowDefinition
from doudi.core.models import Region
from doudi.core.scope import Scope, scope_for
from doudi.integrity.models import StaffMember
from doudi.registry.models import Household, Membership, Person
from doudi.testing.fixtures import make_household, person_data

TODAY = dt.date(2024, 6, 15)


@pytest.fixture
def ca(users: Any) -> Scope:
    return scope_for(users.county_approver)


@pytest.fixture
def ad(users: Any) -> Scope:
    return scope_for(users.admin)


@pytest.fixture
def out(users: Any) -> Scope:
    return scope_for(users.outsider)


def household_in(scope: Scope, village: Region, members: int = 2) -> Household:
    return make_household(scope, village, members=members)


def members(household: Household) -> list[Person]:
    return [m.person for m in Membership.objects.filter(household=household, end_date__isnull=True).order_by("pk")]


def add_member(
    household: Household, relation: str, *, start: dt.date = dt.date(2020, 1, 1), end: dt.date | None = None, **kw: Any
) -> Person:
    data = person_data(kw.pop("name", "李某"), **kw)
    person = Person.objects.create(
        id_number=data["id_number"], name=data["name"], sex="1", birth_date=dt.date(1980, 5, 17)
    )
    Membership.objects.create(household=household, person=person, relation=relation, start_date=start, end_date=end)
    return person


def case(
    household: Household,
    program: str = "dibao",
    *,
    person: Person | None = None,
    kin_declared: bool = False,
    authorised: bool = True,
    verification: tuple[str, str | None] | None = ("done", "pass"),
    verified_on: dt.date = dt.date(2024, 1, 10),
    received_on: dt.date = dt.date(2024, 1, 2),
    decided_on: dt.date = dt.date(2024, 2, 1),
    status: str = "approved",
    recipient_status: str | None = "active",
    kind: str = "new",
) -> Application:
    """An application (approved by default) with a verification step and, for recurring programs, a recipient."""
    workflow = WorkflowDefinition.objects.filter(program=program, kind="new").order_by("pk").first()
    assert workflow is not None
    head = household.head
    assert head is not None
    subject_key = f"p{person.pk}" if person else f"h{household.pk}"
    app = Application.objects.create(
        program=program,
        kind=kind,
        household=household,
        applicant=head,
        subject_person=person,
        subject_key=subject_key,
        region=household.region,
        region_path=household.region.path,
        workflow=workflow,
        rule_set="2021",
        status=status,
        received_on=received_on,
        intake_level="village",
        kin_declared=kin_declared,
        verification_authorised=authorised,
        authorised_on=received_on if authorised else None,
    )
    if verification is not None:
        step_status, result = verification
        CaseStep.objects.create(
            application=app,
            order=3,
            code="verification",
            name="信息核对",
            level="county",
            status=step_status,
            acted_on=verified_on if step_status == "done" else None,
            payload={} if result is None else {"result": result},
        )
    if status != "approved":
        return app
    determination = Determination.objects.create(
        application=app,
        program=program,
        as_of=decided_on,
        input={},
        output={},
        eligible=True,
        monthly_amount="300.00",
    )
    Decision.objects.create(
        application=app, outcome="approved", amount="300.00", decided_on=decided_on, determination=determination
    )
    if recipient_status is not None:
        Recipient.objects.create(
            program=program,
            household=household,
            person=person,
            subject_key=subject_key,
            region=household.region,
            region_path=household.region.path,
            status=recipient_status,
            start_month=dt.date(decided_on.year, decided_on.month, 1),
            monthly_amount="300.00",
            determination=determination,
            application=app,
            recheck_category="yearly",
        )
    return app


def recipient_of(app: Application) -> Recipient:
    return Recipient.objects.get(application=app)


def staff(person: Person, region: Region, kind: str = "village_cadre", **kw: Any) -> StaffMember:
    return StaffMember.objects.create(
        name=person.name,
        id_number=person.id_number,
        kind=kind,
        region=region,
        region_path=region.path,
        from_date=kw.pop("from_date", dt.date(2021, 1, 1)),
        to_date=kw.pop("to_date", None),
        source_file="test.csv",
        source_sha256="0" * 64,
        imported_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        **kw,
    )
