"""Payroll reads, always within the caller's region subtree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from doudi.core.errors import NotFound
from doudi.core.scope import Scope
from doudi.payments.choices import DifferenceStatus
from doudi.payments.models import BankAccount, Payroll, PayrollDifference, PayrollLine, mask_account
from doudi.registry.models import Household


def payrolls_in_scope(*, scope: Scope) -> QuerySet[Payroll]:
    return Payroll.objects.filter(region__path__startswith=scope.region_path).select_related("region")


def payroll_get(*, scope: Scope, payroll_id: int) -> Payroll:
    payroll = payrolls_in_scope(scope=scope).filter(pk=payroll_id).first()
    if payroll is None:
        raise NotFound("发放名册不存在或不在您的管辖范围内", "payroll_id")
    return payroll


def payroll_lines(*, scope: Scope, payroll_id: int, status: str | None = None) -> QuerySet[PayrollLine]:
    scope.require_personal()
    payroll = payroll_get(scope=scope, payroll_id=payroll_id)
    qs = PayrollLine.objects.filter(payroll=payroll)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("id")


def payroll_differences(*, scope: Scope, payroll_id: int, pending_only: bool = True) -> QuerySet[PayrollDifference]:
    scope.require_personal()
    payroll = payroll_get(scope=scope, payroll_id=payroll_id)
    qs = PayrollDifference.objects.filter(payroll=payroll)
    if pending_only:
        qs = qs.filter(status=DifferenceStatus.PENDING)
    return qs.order_by("recipient_id")


def bank_account_active(*, scope: Scope, household_id: int) -> BankAccount | None:
    scope.require_personal()
    household = Household.objects.select_related("region").filter(pk=household_id).first()
    if household is None or not scope.covers(household.region):
        raise NotFound("家庭不存在或不在您的管辖范围内", "household_id")
    return BankAccount.objects.filter(household=household, active=True).first()


@dataclass(frozen=True)
class PaymentEntry:
    month: dt.date
    program: str
    person_id: int | None
    amount: Decimal
    status: str
    failure_reason: str
    attempt: int
    bank_name: str
    account_masked: str
    paid_at: dt.datetime | None
    payroll_id: int


def payment_history(*, scope: Scope, household_id: int) -> list[PaymentEntry]:
    """Every payment line of a household, newest month first, accounts masked."""
    scope.require_personal()
    household = Household.objects.select_related("region").filter(pk=household_id).first()
    if household is None or not scope.covers(household.region):
        raise NotFound("家庭不存在或不在您的管辖范围内", "household_id")
    rows = (
        PayrollLine.objects.filter(household_id=household_id)
        .order_by("-month", "program", "id")
        .values_list(
            "month",
            "program",
            "person_id",
            "amount",
            "status",
            "failure_reason",
            "attempt",
            "bank_name",
            "account_number",
            "paid_at",
            "payroll_id",
        )
    )
    return [
        PaymentEntry(
            month=m,
            program=p,
            person_id=pid,
            amount=a,
            status=s,
            failure_reason=fr,
            attempt=at,
            bank_name=bn,
            account_masked=mask_account(acc),
            paid_at=pa,
            payroll_id=pr,
        )
        for m, p, pid, a, s, fr, at, bn, acc, pa, pr in rows
    ]
