"""Payroll reads, always within the caller's region subtree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from doudi.core.choices import RegionLevel, Role
from doudi.core.errors import NotFound, PermissionDenied
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.payments.choices import DifferenceStatus, LineStatus
from doudi.payments.models import BankAccount, Payroll, PayrollDifference, PayrollLine, mask_account
from doudi.registry.models import Household, Membership


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


# ---- pages (payroll review, bank accounts) ----------------------------------------------------------------

PAYROLL_PAGE_SIZE = 50


def _require_payroll_reader(scope: Scope) -> None:
    """Payroll review is township and county business: personal-data roles other than the village worker."""
    scope.require_personal()
    if scope.role == Role.VILLAGE_WORKER:
        raise PermissionDenied("村（社区）经办人不能查看发放名册")


def counties_in_scope(*, scope: Scope) -> list[tuple[str, str]]:
    """(code, name) of the counties a payroll may be generated for: those in the caller's subtree."""
    return list(
        Region.objects.filter(level=RegionLevel.COUNTY, path__startswith=scope.region_path)
        .order_by("code")
        .values_list("code", "name")
    )


def _visible_payrolls(scope: Scope) -> QuerySet[Payroll]:
    # A county payroll is visible in the county and above, and (restricted to its own lines) to a township of it.
    ancestors = [code for code in scope.region_path.strip("/").split("/") if code]
    return Payroll.objects.filter(Q(region__path__startswith=scope.region_path) | Q(region_id__in=ancestors))


def payrolls_for_review(*, scope: Scope) -> QuerySet[Payroll]:
    _require_payroll_reader(scope)
    return _visible_payrolls(scope).select_related("region").order_by("-month", "region_id", "program")


def _reviewable(scope: Scope, payroll_id: int) -> tuple[Payroll, bool]:
    """The payroll and whether the caller sees only part of it (a township of the county)."""
    _require_payroll_reader(scope)
    payroll = _visible_payrolls(scope).select_related("region", "approved_by").filter(pk=payroll_id).first()
    if payroll is None:
        raise NotFound("发放名册不存在或不在您的管辖范围内", "payroll_id")
    return payroll, not scope.covers(payroll.region)


def _scoped_lines(scope: Scope, payroll: Payroll, partial: bool) -> QuerySet[PayrollLine]:
    lines = PayrollLine.objects.filter(payroll=payroll)
    if partial:
        lines = lines.filter(recipient__region_path__startswith=scope.region_path)
    return lines


@dataclass(frozen=True)
class StatusTotal:
    status: str
    failure_reason: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class PayrollReview:
    payroll: Payroll
    partial: bool  # True: a township sees its own lines of the county payroll
    totals: list[StatusTotal]
    count: int  # lines not cancelled
    amount: Decimal
    pending_differences: int
    failed: int
    unsent: int  # lines not yet in a bank file


def payroll_review(*, scope: Scope, payroll_id: int) -> PayrollReview:
    payroll, partial = _reviewable(scope, payroll_id)
    lines = _scoped_lines(scope, payroll, partial)
    rows = lines.values("status", "failure_reason").annotate(n=Count("id"), total=Sum("amount"))
    order = {s: i for i, s in enumerate(LineStatus.values)}
    totals = sorted(
        (StatusTotal(r["status"], r["failure_reason"], int(r["n"]), r["total"] or Decimal("0.00")) for r in rows),
        key=lambda t: (order.get(t.status, 99), t.failure_reason),
    )
    live = [t for t in totals if t.status != LineStatus.CANCELLED]
    differences = PayrollDifference.objects.filter(payroll=payroll, status=DifferenceStatus.PENDING)
    if partial:
        differences = differences.filter(recipient__region_path__startswith=scope.region_path)
    unsent = lines.filter(status__in=(LineStatus.PENDING, LineStatus.REISSUED), batch__gt=payroll.exports).count()
    return PayrollReview(
        payroll=payroll,
        partial=partial,
        totals=totals,
        count=sum(t.count for t in live),
        amount=sum((t.amount for t in live), Decimal("0.00")),
        pending_differences=differences.count(),
        failed=sum(t.count for t in totals if t.status == LineStatus.FAILED),
        unsent=unsent,
    )


@dataclass(frozen=True)
class LinePage:
    items: list[PayrollLine]
    next_after: int | None


def payroll_line_page(
    *, scope: Scope, payroll_id: int, status: str = "", after: int | None = None, limit: int = PAYROLL_PAGE_SIZE
) -> LinePage:
    """One page of lines (keyset by id), with the household number and the head's or the person's name."""
    payroll, partial = _reviewable(scope, payroll_id)
    lines = _scoped_lines(scope, payroll, partial)
    if status:
        lines = lines.filter(status=status)
    if after:
        lines = lines.filter(pk__gt=after)
    items = list(lines.select_related("household", "household__head", "person").order_by("id")[: limit + 1])
    next_after = items[limit - 1].pk if len(items) > limit else None
    return LinePage(items=items[:limit], next_after=next_after)


def payroll_difference_list(*, scope: Scope, payroll_id: int, limit: int = 200) -> list[PayrollDifference]:
    payroll, partial = _reviewable(scope, payroll_id)
    qs = PayrollDifference.objects.filter(payroll=payroll, status=DifferenceStatus.PENDING)
    if partial:
        qs = qs.filter(recipient__region_path__startswith=scope.region_path)
    related = ("recipient", "recipient__household", "recipient__household__head", "recipient__person")
    return list(qs.select_related(*related).order_by("recipient_id")[:limit])


@dataclass(frozen=True)
class OwnerAccount:
    label: str  # "家庭" or the member's name
    person_id: int | None
    account: BankAccount | None


def household_accounts(*, scope: Scope, household_id: int) -> list[OwnerAccount]:
    """The household's active account, then each current member's own (personal programs), masked on display."""
    household_account = bank_account_active(scope=scope, household_id=household_id)
    members = list(
        Membership.objects.filter(household_id=household_id, end_date__isnull=True)
        .select_related("person")
        .order_by("relation", "start_date", "pk")
    )
    personal = {
        a.person_id: a for a in BankAccount.objects.filter(person_id__in=[m.person_id for m in members], active=True)
    }
    rows = [OwnerAccount(label="", person_id=None, account=household_account)]
    rows += [
        OwnerAccount(label=m.person.name, person_id=m.person_id, account=personal.get(m.person_id)) for m in members
    ]
    return rows
