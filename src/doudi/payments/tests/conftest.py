"""Payroll fixtures: recipients created directly on the cases models (the workflow itself is tested in cases)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest

from doudi.cases.models import Application, Determination, Recipient, WorkflowDefinition
from doudi.core.scope import Scope, scope_for
from doudi.payments import services
from doudi.testing.fixtures import make_household

MONTH = dt.date(2026, 1, 1)
_accounts = itertools.count(6222020000000001)


@pytest.fixture
def ca(users: Any) -> Scope:
    return scope_for(users.county_approver)


@pytest.fixture
def ad(users: Any) -> Scope:
    return scope_for(users.admin)


def make_recipient(
    household: Any,
    amount: str = "500.00",
    *,
    program: str = "dibao",
    status: str = "active",
    start: dt.date = dt.date(2025, 1, 1),
    end: dt.date | None = None,
) -> Recipient:
    workflow = WorkflowDefinition.objects.filter(program=program).first() or WorkflowDefinition.objects.create(
        program=program, rule_set="2021", name="测试流程"
    )
    region = household.region
    app = Application.objects.create(
        program=program,
        household=household,
        applicant_id=household.head_id,
        subject_key=f"h{household.pk}",
        region=region,
        region_path=region.path,
        workflow=workflow,
        rule_set="2021",
        status="approved",
        received_on=dt.date(2024, 12, 1),
        intake_level="village",
    )
    det = Determination.objects.create(
        application=app,
        program=program,
        as_of=dt.date(2024, 12, 1),
        input={},
        output={},
        monthly_amount=Decimal(amount),
    )
    return Recipient.objects.create(
        program=program,
        household=household,
        subject_key=f"h{household.pk}",
        region=region,
        region_path=region.path,
        status=status,
        start_month=start,
        end_month=end,
        monthly_amount=Decimal(amount),
        determination=det,
        application=app,
        recheck_category="yearly",
    )


def add_account(scope: Scope, household: Any, bank: str = "ABC", account: str | None = None) -> Any:
    return services.bank_account_set(
        scope=scope,
        household_id=household.pk,
        bank_code=bank,
        bank_name={"ABC": "中国农业银行", "RCC": "海南农信"}.get(bank, bank),
        account_number=account or str(next(_accounts)),
        holder_name="王大山",
    )


@pytest.fixture
def caseload(tree: Any, ad: Scope) -> list[Recipient]:
    """Four paid recipients in the county (two banks), plus ones that must not be paid."""
    recipients = []
    for i, (amount, bank) in enumerate([("500.00", "ABC"), ("650.50", "ABC"), ("300.00", "RCC"), ("1200.00", "RCC")]):
        hh = make_household(ad, tree.village if i % 2 == 0 else tree.village2, members=1)
        add_account(ad, hh, bank)
        recipients.append(make_recipient(hh, amount, status="gradual_exit" if i == 3 else "active"))
    # not paid: suspended, ended last month, starting next month, other county
    make_recipient(make_household(ad, tree.village, members=1), "400.00", status="suspended")
    make_recipient(make_household(ad, tree.village, members=1), "400.00", end=dt.date(2025, 12, 1))
    make_recipient(make_household(ad, tree.village, members=1), "400.00", start=dt.date(2026, 2, 1))
    make_recipient(make_household(ad, tree.other_village, members=1), "400.00")
    return recipients
