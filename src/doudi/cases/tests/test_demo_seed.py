"""The demo caseload (`doudi.cases.demo.seed_caseload`) on a small seeded province: real cases in every state the
demo needs, a background of recipients the portal and the payroll can read, and idempotence."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Q
from django.utils import timezone

from doudi.cases import disclosure
from doudi.cases.choices import ApplicationStatus, RecipientStatus, StepStatus
from doudi.cases.demo import demo_staff, seed_caseload
from doudi.cases.models import (
    Application,
    CaseStep,
    Decision,
    Publicity,
    Recheck,
    Recipient,
    RecipientStatusChange,
)
from doudi.cases.workdays import add_months, month_start
from doudi.core.errors import ApplicationError
from doudi.core.models import AuditLog
from doudi.registry.models import Household, Membership
from doudi.registry.seed import seed_province
from doudi.testing.fixtures import ensure_base_data, make_household

HOUSEHOLDS = 6_000  # the demo township then has a few dozen households, enough for every planned case


def _demo_users() -> None:
    from doudi.cli import _demo_users

    _demo_users()


@pytest.fixture
def province(db: Any) -> dict[str, Any]:
    ensure_base_data()
    seed_province(households=HOUSEHOLDS, seed=2018)
    _demo_users()
    today = timezone.localdate()
    result = seed_caseload(today=today, seed=2018)
    return {"today": today, "result": result}


def test_the_demo_caseload_has_cases_in_every_state_and_a_background_of_recipients(province):
    today, result = province["today"], province["result"]
    staff = demo_staff()
    real = Application.objects.filter(region_path__startswith=staff.township.path, created_by__isnull=False)

    # real cases, made by the demo logins through the services, in the demo township
    assert result["real_cases"]["cases"] == real.count() >= 20
    statuses = set(real.values_list("status", flat=True))
    assert statuses == {ApplicationStatus.IN_PROGRESS, ApplicationStatus.APPROVED, ApplicationStatus.REFUSED}
    steps = set(real.filter(status=ApplicationStatus.IN_PROGRESS).values_list("current_step", flat=True))
    assert {"acceptance", "publicity", "county_approval"} <= steps
    assert set(real.values_list("program", flat=True)) == {"dibao", "tekun"}
    assert real.filter(region=staff.village).exists()  # the village worker sees cases of her own
    # approvals carry the rules determination they were decided on
    approved = Decision.objects.filter(application__in=real, outcome="approved").select_related("determination")
    assert approved.count() >= 3
    assert any(d.determination.rules_available and d.determination.eligible for d in approved)
    assert all(d.amount > 0 and d.effective_month is not None for d in approved)
    refused = Decision.objects.filter(application__in=real, outcome="refused")
    assert refused.exists() and all(d.reasons for d in refused)
    # steps were dated in order, never in the future
    for step in CaseStep.objects.filter(application__in=real, acted_on__isnull=False):
        assert step.opened_on is not None and step.acted_on is not None
        assert step.opened_on <= step.acted_on <= today
    # a kinship declaration and an objection await the county's visit
    assert real.filter(kin_declared=True, current_step="county_approval").exists()
    assert real.filter(disputed=True, current_step="county_approval").exists()

    # running publicities on today, which the portal lists
    running = Publicity.objects.filter(start_date__lte=today, end_date__gte=today, application__in=real)
    assert running.count() >= 3 and result["running_publicities"] >= running.count()
    county = staff.county
    listed = disclosure.running_publicities(region_path=county.path, region_code=county.code, on=today)
    assert listed and all(p.start_date <= today <= p.end_date for p in listed)

    # the background: dibao households and 特困 persons, ~4% of the households
    households = Household.objects.count()
    live = Recipient.objects.filter(status__in=(RecipientStatus.ACTIVE, RecipientStatus.GRADUAL_EXIT))
    assert 0.02 * households <= live.count() <= 0.06 * households
    assert live.filter(program="dibao").exists() and live.filter(program="tekun", person__isnull=False).exists()
    assert all(isinstance(a, Decimal) and a > 0 for a in live.values_list("monthly_amount", flat=True)[:200])
    starts = set(Recipient.objects.values_list("start_month", flat=True))
    assert min(starts) <= add_months(month_start(today), -18) and len(starts) >= 12
    # background approvals were verified (the integrity check's "approved without verification" stays quiet)
    background = Application.objects.filter(created_by__isnull=True)
    assert background.count() == Recipient.objects.filter(application__created_by__isnull=True).count()
    unverified = background.exclude(steps__code="verification", steps__status=StepStatus.DONE)
    assert not unverified.exists()
    # every recipient has its status history; live ones a recheck scheduled from this month on
    assert not Recipient.objects.filter(history__isnull=True).exists()
    assert not live.exclude(rechecks__due_date__gte=month_start(today)).filter(application__created_by__isnull=True)

    # terminations in recent months, with their history
    ended = Recipient.objects.filter(status=RecipientStatus.TERMINATED)
    assert ended.filter(end_month__gte=add_months(month_start(today), -6)).exists()
    assert all(r.end_month is not None and r.end_month >= r.start_month for r in ended)
    assert RecipientStatusChange.objects.filter(to_status=RecipientStatus.TERMINATED).count() == ended.count()
    # the real terminated recipient stops from this month: the portal's list for this month shows it
    if result["real_cases"].get("terminated"):
        changes = disclosure.monthly_changes(
            region_path=county.path, region_code=county.code, month=month_start(today), on=today
        )
        assert changes["terminated"]
    recent = [
        disclosure.monthly_changes(
            region_path="/460000000000/", region_code="460000000000", month=add_months(month_start(today), -i), on=today
        )["terminated"]
        for i in range(3)
    ]
    assert any(recent)
    province_changes = disclosure.monthly_changes(
        region_path="/460000000000/", region_code="460000000000", month=add_months(month_start(today), -1), on=today
    )
    assert province_changes["new"]

    # persons the portal must not name are among the recipients
    members = Membership.objects.filter(end_date__isnull=True, household__recipients__in=live)
    assert members.filter(Q(person__hiv=True) | Q(person__protection_order=True) | Q(person__confidential=True))
    minor = disclosure.adult_born_on_or_before(today)
    assert live.filter(program="tekun", person__birth_date__gt=minor).exists()

    # the README's walkthrough household is left alone
    if result["walkthrough_household"]:
        assert not Application.objects.filter(household__number=result["walkthrough_household"]).exists()
        assert not Recipient.objects.filter(household__number=result["walkthrough_household"]).exists()

    # one audit record for the background batch
    assert AuditLog.objects.filter(subject_type="demo_caseload").count() == 1

    # a second run changes nothing
    before = (Application.objects.count(), Recipient.objects.count(), Recheck.objects.count())
    again = seed_caseload(today=today, seed=2018)
    assert again["skipped"] is True
    assert (Application.objects.count(), Recipient.objects.count(), Recheck.objects.count()) == before


@pytest.mark.django_db
def test_without_households_or_demo_logins_it_says_what_to_do_first():
    ensure_base_data()
    today = timezone.localdate()
    with pytest.raises(ApplicationError) as missing:
        seed_caseload(today=today)
    assert missing.value.code == "no_households"

    from doudi.core.models import Region
    from doudi.core.scope import system_scope
    from doudi.core.services import region_path

    county = Region.objects.get(code="469001000000")
    township = Region.objects.create(
        code="469001100000", name="测试镇", level="township", parent=county, path=region_path(county, "469001100000")
    )
    village = Region.objects.create(
        code="469001100201", name="甲村", level="village", parent=township, path=region_path(township, "469001100201")
    )
    make_household(system_scope(), village)
    with pytest.raises(ApplicationError) as no_users:
        seed_caseload(today=today)
    assert no_users.value.code == "demo_users_missing" and "doudi demo" in no_users.value.message

    with pytest.raises(ApplicationError) as future:
        seed_caseload(today=today + dt.timedelta(days=1))
    assert future.value.code == "invalid_date"
    with pytest.raises(ApplicationError) as early:  # before the 2021 rules had two years of cases
        seed_caseload(today=dt.date(2022, 6, 30))
    assert early.value.code == "invalid_date"
    assert not Application.objects.exists()


def test_the_demo_is_usable_payroll_bank_files_decisions_and_the_other_apps_samples(province, tmp_path):
    """With the other apps' samples added (web/demo.py, through their services), the demo county's dibao payroll
    for this month pays the live recipients and yields bank files for all of them; the county approver can decide a
    case waiting at its step today (approve, or be told the rules say no)."""
    from doudi.cases import services
    from doudi.payments.services import payroll_approve, payroll_bank_files_export, payroll_generate
    from doudi.web.demo import seed_extras

    today = province["today"]
    staff = demo_staff()
    extras = seed_extras(today=today)
    assert extras["accounts"]["accounts"] > 0
    assert extras["contacts"]["counties"] >= 20
    assert len(extras["complaints"]["tracking_numbers"]) == 3
    assert extras["verification"]["status"] == "done"
    again = seed_extras(today=today)
    assert all(part == {"exists": True} for part in again.values())

    payroll = payroll_generate(scope=staff.ca, county_code=staff.county.code, program="dibao", month=today)
    paid = Recipient.objects.filter(
        region_path__startswith=staff.county.path,
        program="dibao",
        status__in=(RecipientStatus.ACTIVE, RecipientStatus.GRADUAL_EXIT),
        start_month__lte=month_start(today),
    ).filter(Q(end_month__isnull=True) | Q(end_month__gte=month_start(today)))
    assert payroll.line_count == paid.count() > 0
    assert payroll.total_amount == sum(paid.values_list("monthly_amount", flat=True))
    payroll = payroll_approve(scope=staff.ca, payroll_id=payroll.pk, version=payroll.version)
    exported = payroll_bank_files_export(scope=staff.ca, payroll_id=payroll.pk, out_dir=tmp_path, formats=("csv",))
    assert exported.missing_account == 0 and sum(f.count for f in exported.files) == paid.count()

    app = (
        Application.objects.filter(region_path__startswith=staff.county.path, current_step="county_approval")
        .filter(program="dibao")
        .order_by("pk")
        .first()
    )
    assert app is not None and app.spot_check_batch_id is not None  # the sample was drawn
    if services.county_visit_required(app):
        services.home_visit_record(
            scope=staff.ca,
            application_id=app.pk,
            version=app.version,
            level="county",
            visited_on=today,
            investigators=["陈国栋", "吉秀英"],
            findings="县级入户核查，情况属实",
            today=today,
        )
        app.refresh_from_db()
    try:
        services.step_complete(
            scope=staff.ca, application_id=app.pk, version=app.version, step_code="county_approval", today=today
        )
    except ApplicationError as exc:
        assert exc.code == "rules_ineligible"
    else:
        assert Recipient.objects.get(application=app).start_month > month_start(today)
