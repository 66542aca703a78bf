"""Payroll generation, idempotency, differences, approval and killed-run recovery."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from doudi.cases.models import Recipient
from doudi.core.errors import ApplicationError, NotFound, PermissionDenied, StaleEdit
from doudi.core.models import AuditLog
from doudi.core.scope import Scope, scope_for
from doudi.payments import selectors, services
from doudi.payments.models import Payroll, PayrollDifference, PayrollLine
from doudi.payments.tests.conftest import MONTH, make_recipient
from doudi.testing.fixtures import make_household

COUNTY = "469001000000"


def generate(scope: Scope, month: Any = MONTH) -> Payroll:
    return services.payroll_generate(scope=scope, county_code=COUNTY, program="dibao", month=month)


def test_generation_pays_active_and_gradual_exit_recipients_of_the_county_for_the_month(
    ca: Scope, caseload: list[Recipient]
) -> None:
    payroll = generate(ca)
    lines = PayrollLine.objects.filter(payroll=payroll)
    assert sorted(lines.values_list("recipient_id", flat=True)) == sorted(r.pk for r in caseload)
    assert payroll.line_count == 4
    assert payroll.total_amount == Decimal("2650.50")
    line = lines.get(recipient=caseload[1])
    assert line.amount == Decimal("650.50")
    assert line.bank_code == "ABC" and line.account_number.isdigit() and line.holder_name == "王大山"
    assert line.masked_account.count("*") == len(line.account_number) - 8
    assert AuditLog.objects.filter(subject_type="payroll", subject_id=str(payroll.pk)).count() == 1


def test_month_accepts_yyyy_mm_text_and_refuses_garbage(ca: Scope, caseload: list[Recipient]) -> None:
    assert generate(ca, "2026-01").month == MONTH
    with pytest.raises(ApplicationError) as exc:
        generate(ca, "2026-13")
    assert exc.value.field == "month"


def test_generating_the_same_month_twice_creates_nothing_new(ca: Scope, caseload: list[Recipient]) -> None:
    first = generate(ca)
    second = generate(ca)
    assert second.pk == first.pk and second.version == first.version
    assert PayrollLine.objects.count() == 4
    assert Payroll.objects.count() == 1


def test_draft_regeneration_follows_changed_amounts_and_leavers_without_second_lines(
    ca: Scope, caseload: list[Recipient]
) -> None:
    generate(ca)
    Recipient.objects.filter(pk=caseload[0].pk).update(monthly_amount=Decimal("520.00"))
    Recipient.objects.filter(pk=caseload[1].pk).update(status="suspended")
    payroll = generate(ca)
    assert PayrollLine.objects.filter(recipient=caseload[0]).get().amount == Decimal("520.00")
    assert not PayrollLine.objects.filter(recipient=caseload[1]).exists()
    assert payroll.line_count == 3 and payroll.total_amount == Decimal("2020.00")


def test_changed_amount_after_approval_is_a_difference_to_approve_never_a_second_line(
    ca: Scope, caseload: list[Recipient], tree: Any, ad: Scope
) -> None:
    payroll = generate(ca)
    payroll = services.payroll_approve(scope=ca, payroll_id=payroll.pk, version=payroll.version)
    Recipient.objects.filter(pk=caseload[0].pk).update(monthly_amount=Decimal("520.00"))
    Recipient.objects.filter(pk=caseload[2].pk).update(status="terminated")
    joiner = make_recipient(make_household(ad, tree.village, members=1), "100.00")
    payroll = generate(ca)
    diffs = {d.recipient_id: d for d in selectors.payroll_differences(scope=ca, payroll_id=payroll.pk)}
    assert {r: d.kind for r, d in diffs.items()} == {
        caseload[0].pk: "amount_changed",
        caseload[2].pk: "removed",
        joiner.pk: "added",
    }
    assert diffs[caseload[0].pk].old_amount == Decimal("500.00")
    assert diffs[caseload[0].pk].new_amount == Decimal("520.00")
    assert PayrollLine.objects.filter(recipient=caseload[0]).get().amount == Decimal("500.00")
    assert PayrollLine.objects.count() == 4

    # rerun with the same inputs: the pending differences are not doubled
    payroll = generate(ca)
    assert PayrollDifference.objects.filter(status="pending").count() == 3

    result = services.payroll_differences_approve(scope=ca, payroll_id=payroll.pk, version=payroll.version)
    assert result == {"applied": 3, "not_applied": 0, "lines_added": 1}
    assert PayrollLine.objects.filter(recipient=caseload[0]).get().amount == Decimal("520.00")
    assert PayrollLine.objects.get(recipient=caseload[2]).status == "cancelled"
    assert PayrollLine.objects.filter(recipient=joiner).count() == 1
    payroll.refresh_from_db()
    assert payroll.line_count == 4 and payroll.total_amount == Decimal("2470.50")


def test_only_county_approver_of_the_region_approves(ca: Scope, caseload: list[Recipient], users: Any) -> None:
    payroll = generate(ca)
    for user in (users.admin, users.township_reviewer, users.county_verifier):
        with pytest.raises(PermissionDenied):
            services.payroll_approve(scope=scope_for(user), payroll_id=payroll.pk, version=payroll.version)
    with pytest.raises(NotFound):
        services.payroll_approve(scope=scope_for(users.outsider), payroll_id=payroll.pk, version=payroll.version)
    approved = services.payroll_approve(scope=ca, payroll_id=payroll.pk, version=payroll.version)
    assert approved.status == "approved" and approved.approved_by_id == users.county_approver.pk
    assert AuditLog.objects.filter(subject_type="payroll", after__status="approved").exists()


def test_a_second_approver_with_the_old_version_gets_stale_edit(ca: Scope, caseload: list[Recipient]) -> None:
    payroll = generate(ca)
    services.payroll_approve(scope=ca, payroll_id=payroll.pk, version=payroll.version)
    with pytest.raises(StaleEdit):
        services.payroll_approve(scope=ca, payroll_id=payroll.pk, version=payroll.version)


def test_generation_refuses_roles_regions_and_non_county_codes(
    ca: Scope, caseload: list[Recipient], users: Any, tree: Any
) -> None:
    with pytest.raises(PermissionDenied):
        generate(scope_for(users.village_worker))
    with pytest.raises(NotFound):
        generate(scope_for(users.outsider))
    with pytest.raises(ApplicationError) as exc:
        services.payroll_generate(scope=ca, county_code=tree.township.code, program="dibao", month=MONTH)
    assert exc.value.code == "not_a_county"


def test_a_run_killed_after_its_insert_leaves_nothing_and_the_rerun_pays_each_recipient_once(
    ca: Scope, caseload: list[Recipient], monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(payroll: Payroll) -> None:
        assert PayrollLine.objects.filter(payroll=payroll).count() == 4  # the insert had happened
        raise RuntimeError("killed")

    monkeypatch.setattr(services, "_after_insert", crash)
    with pytest.raises(RuntimeError):
        generate(ca)
    assert Payroll.objects.count() == 0 and PayrollLine.objects.count() == 0
    monkeypatch.undo()
    payroll = generate(ca)
    assert PayrollLine.objects.filter(payroll=payroll).count() == 4
    assert generate(ca).pk == payroll.pk and PayrollLine.objects.count() == 4


def test_the_database_refuses_a_second_line_for_the_same_recipient_and_month(
    ca: Scope, caseload: list[Recipient]
) -> None:
    from django.db import IntegrityError, transaction

    payroll = generate(ca)
    line = PayrollLine.objects.filter(payroll=payroll).first()
    assert line is not None
    line.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        line.save()


def test_payment_history_lists_a_households_lines_newest_first_with_masked_accounts(
    ca: Scope, caseload: list[Recipient], users: Any
) -> None:
    generate(ca, "2025-12")
    generate(ca, "2026-01")
    history = selectors.payment_history(scope=ca, household_id=caseload[0].household_id)
    assert [h.month.isoformat() for h in history] == ["2026-01-01", "2025-12-01"]
    assert all("*" in h.account_masked and h.amount == Decimal("500.00") for h in history)
    with pytest.raises(NotFound):
        selectors.payment_history(scope=scope_for(users.outsider), household_id=caseload[0].household_id)
    with pytest.raises(PermissionDenied):
        selectors.payment_history(scope=scope_for(users.supervisor), household_id=caseload[0].household_id)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
# serialized_rollback: the flush after a transactional test would also wipe the migrated regions.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_approvers_one_wins_the_other_gets_stale_edit(tree: Any, users: Any, ad: Scope) -> None:
    ca = scope_for(users.county_approver)
    make_recipient(make_household(ad, tree.village, members=1), "500.00")
    payroll = generate(ca)
    outcomes: list[str] = []

    def approve() -> None:
        try:
            services.payroll_approve(scope=ca, payroll_id=payroll.pk, version=payroll.version)
            outcomes.append("ok")
        except StaleEdit:
            outcomes.append("stale")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "stale"]
