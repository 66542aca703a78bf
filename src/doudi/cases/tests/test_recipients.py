"""Recipients over time: status history, scheduled rechecks by household category, change reports and deaths."""

from __future__ import annotations

import datetime as dt

import pytest

from doudi.cases import selectors, services
from doudi.cases.choices import RecipientStatus
from doudi.cases.models import Application, Recheck, Recipient, RecipientStatusChange
from doudi.cases.tests.conftest import (
    D0,
    complete,
    draw_and_visit,
    intake,
    to_county_approval_2021,
    version,
    visit,
)
from doudi.core.errors import ApplicationError, PermissionDenied
from doudi.registry import services as registry
from doudi.registry.models import Person
from doudi.testing.fixtures import make_household


def approved(actors, household, start: dt.date = D0, program: str = "dibao") -> Recipient:
    app = intake(actors, household, received_on=start, program=program)
    day = to_county_approval_2021(actors, app, start)
    draw_and_visit(actors, app, day)
    complete(actors.ca, app, "county_approval", day)
    return Recipient.objects.get(application=app)


def person_version(person_id: int) -> int:
    return Person.objects.get(pk=person_id).version


def test_a_working_age_household_is_rechecked_half_yearly_under_the_2021_rules(actors, household):
    recipient = approved(actors, household)
    assert recipient.recheck_category == "half_yearly"
    recheck = Recheck.objects.get(recipient=recipient)
    assert recheck.due_date == dt.date(2022, 4, 1)
    assert list(selectors.rechecks_due(scope=actors.tr, today=dt.date(2022, 3, 31))) == []
    assert list(selectors.rechecks_due(scope=actors.tr, today=dt.date(2022, 3, 31), within_days=1)) == [recheck]


def test_a_household_without_working_age_members_is_rechecked_yearly(actors, tree):
    household = make_household(actors.ad, tree.village, members=1)
    registry.person_update(
        scope=actors.ad,
        person_id=household.head_id,
        version=person_version(household.head_id),
        data={"labour_capacity": "none"},
    )
    recipient = approved(actors, household)
    assert recipient.recheck_category == "yearly"
    assert Recheck.objects.get(recipient=recipient).due_date == dt.date(2022, 10, 1)


def test_under_the_2012_rules_unstable_rural_earnings_mean_a_quarterly_recheck(db, actors, household):
    registry.item_add(
        scope=actors.ad,
        household_id=household.pk,
        kind_group="income",
        data={"kind": "wage", "monthly_amount": "100", "start_date": "2020-01-01"},
    )
    category = services.recheck_category_for(
        program="dibao", rule_set="2012", household=household, as_of=dt.date(2020, 6, 1)
    )
    assert category == "quarterly"
    assert (
        services.recheck_category_for(program="dibao", rule_set="2021", household=household, as_of=dt.date(2021, 9, 1))
        == "half_yearly"
    )
    assert (
        services.recheck_category_for(program="tekun", rule_set="2021", household=household, as_of=dt.date(2021, 9, 1))
        == "yearly"
    )


def test_a_scheduled_recheck_opens_a_recheck_case_that_can_continue_the_benefit(actors, household):
    recipient = approved(actors, household)
    recheck = Recheck.objects.get(recipient=recipient)
    opened = services.recheck_open(scope=actors.tr, recheck_id=recheck.pk, today=dt.date(2022, 3, 20))
    app = opened.application
    assert app.kind == "recheck" and app.current_step == "investigation" and app.recipient == recipient
    with pytest.raises(ApplicationError) as exc:
        services.recheck_open(scope=actors.tr, recheck_id=recheck.pk, today=dt.date(2022, 3, 20))
    assert exc.value.code == "recheck_not_scheduled"
    day = dt.date(2022, 3, 21)
    visit(actors.tr, app, day)
    complete(actors.tr, app, "investigation", day)
    complete(actors.cv, app, "verification", day)
    complete(actors.tr, app, "township_opinion", day)
    complete(actors.ca, app, "county_approval", day)
    recipient.refresh_from_db()
    assert recipient.status == RecipientStatus.ACTIVE
    assert Recheck.objects.get(pk=recheck.pk).status == "done"
    assert Recheck.objects.filter(recipient=recipient, status="scheduled").get().due_date == dt.date(2022, 10, 1)
    assert [h.to_status for h in selectors.recipient_history(scope=actors.ca, recipient_id=recipient.pk)] == [
        "active",
        "active",
    ]


def test_a_recheck_that_stops_the_benefit_ends_it_from_the_next_month_with_reasons(actors, household):
    recipient = approved(actors, household)
    opened = services.recheck_open(
        scope=actors.tr, recheck_id=Recheck.objects.get(recipient=recipient).pk, today=dt.date(2022, 3, 20)
    )
    app = opened.application
    visit(actors.tr, app, dt.date(2022, 3, 21))
    complete(actors.tr, app, "investigation", dt.date(2022, 3, 21))
    services.step_skip(
        scope=actors.tr,
        application_id=app.pk,
        version=version(app),
        step_code="verification",
        reason="收入已核实",
        today=dt.date(2022, 3, 21),
    )
    complete(actors.tr, app, "township_opinion", dt.date(2022, 3, 21))
    services.application_refuse(
        scope=actors.ca,
        application_id=app.pk,
        version=version(app),
        step_code="county_approval",
        reasons=["家庭成员已稳定就业，收入超过标准"],
        today=dt.date(2022, 3, 25),
    )
    recipient.refresh_from_db()
    assert recipient.status == RecipientStatus.TERMINATED
    assert recipient.end_month == dt.date(2022, 3, 1)  # March paid, nothing from April
    last = RecipientStatusChange.objects.filter(recipient=recipient).last()
    assert last.effective_month == dt.date(2022, 4, 1) and "稳定就业" in last.reason


def test_a_death_stops_the_deceased_s_benefit_from_the_next_month(actors, tree):
    # Given a single-person household on dibao since October 2021
    household = make_household(actors.ad, tree.village, members=1)
    recipient = approved(actors, household)
    # When the death on 15 Nov 2021 is recorded
    services.person_death_record(
        scope=actors.tr,
        person_id=household.head_id,
        version=person_version(household.head_id),
        death_date="2021-11-15",
        today=dt.date(2021, 11, 20),
    )
    # Then the registry has the death and payment stops from December: November is the last month paid
    assert Person.objects.get(pk=household.head_id).death_date == dt.date(2021, 11, 15)
    recipient.refresh_from_db()
    assert recipient.status == RecipientStatus.TERMINATED and recipient.end_month == dt.date(2021, 11, 1)
    change = RecipientStatusChange.objects.filter(recipient=recipient).last()
    assert change.source == "death" and change.effective_month == dt.date(2021, 12, 1)
    assert not Recheck.objects.filter(recipient=recipient, status="scheduled").exists()


def test_a_member_s_death_opens_the_household_re_check_due_within_three_months(actors, household):
    recipient = approved(actors, household)
    daughter = household.memberships.exclude(person_id=household.head_id).get().person
    rechecks = services.person_death_record(
        scope=actors.tr,
        person_id=daughter.pk,
        version=person_version(daughter.pk),
        death_date="2021-11-15",
        today=dt.date(2021, 11, 20),
    )
    assert len(rechecks) == 1 and rechecks[0].reason == "death"
    assert rechecks[0].due_date == dt.date(2022, 2, 15)
    app = rechecks[0].application
    assert app.kind == "recheck" and app.due_date == dt.date(2022, 2, 15) and app.discovered_by == "death"
    recipient.refresh_from_db()
    assert recipient.status == RecipientStatus.ACTIVE  # the household is still paid until the re-check decides
    # And the re-check recomputes the amount for the one remaining member
    day = dt.date(2021, 12, 1)
    visit(actors.tr, app, day)
    complete(actors.tr, app, "investigation", day)
    complete(actors.cv, app, "verification", day)
    complete(actors.tr, app, "township_opinion", day)
    complete(actors.ca, app, "county_approval", day)
    recipient.refresh_from_db()
    det = app.decision.determination
    assert [m["id"] for m in det.input["household"]["members"]] == [str(household.head_id)]
    assert recipient.monthly_amount == det.monthly_amount
    # Recording the same death again does nothing twice
    assert services.deaths_apply(scope=actors.ca, today=dt.date(2021, 12, 2)) >= 0
    assert Recheck.objects.filter(recipient=recipient, reason="death").count() == 1


def test_a_death_recorded_elsewhere_in_the_registry_is_picked_up(actors, tree):
    household = make_household(actors.ad, tree.village, members=1)
    recipient = approved(actors, household)
    registry.person_update(
        scope=actors.ad,
        person_id=household.head_id,
        version=person_version(household.head_id),
        data={"death_date": "2022-01-10"},
    )
    assert services.deaths_apply(scope=actors.ca, today=dt.date(2022, 1, 20)) == 1
    recipient.refresh_from_db()
    assert recipient.status == RecipientStatus.TERMINATED and recipient.end_month == dt.date(2022, 1, 1)


def test_a_change_report_triggers_a_reassessment(actors, household):
    recipient = approved(actors, household)
    report = services.change_report_create(
        scope=actors.vw,
        household_id=household.pk,
        kind="income",
        reported_on="2021-12-01",
        details={"note": "户主外出务工"},
        today=dt.date(2021, 12, 1),
    )
    recheck = Recheck.objects.get(recipient=recipient, reason="change_report")
    assert recheck.due_date == dt.date(2021, 12, 15)  # 10 working days
    assert recheck.application.kind == "recheck" and str(report.pk) in recheck.note
    # A second report joins the same open re-check case
    services.change_report_create(
        scope=actors.tr,
        household_id=household.pk,
        kind="membership",
        reported_on="2021-12-02",
        today=dt.date(2021, 12, 2),
    )
    assert Application.objects.filter(kind="recheck", status="in_progress").count() == 1


def test_a_death_report_goes_through_the_death_procedure(actors, tree):
    household = make_household(actors.ad, tree.village, members=1)
    recipient = approved(actors, household)
    services.change_report_create(
        scope=actors.tr,
        household_id=household.pk,
        kind="death",
        reported_on="2021-12-01",
        person_id=household.head_id,
        person_version=person_version(household.head_id),
        death_date="2021-11-30",
        today=dt.date(2021, 12, 1),
    )
    recipient.refresh_from_db()
    assert recipient.status == RecipientStatus.TERMINATED and recipient.end_month == dt.date(2021, 11, 1)


def test_recipient_status_moves_are_checked_and_kept_as_history(actors, household):
    recipient = approved(actors, household)
    services.recipient_status_change(
        scope=actors.ca,
        recipient_id=recipient.pk,
        version=recipient.version,
        to_status="suspended",
        reason="外出务工，暂停核实",
        effective_month="2021-12-01",
    )
    recipient.refresh_from_db()
    with pytest.raises(ApplicationError) as exc:
        services.recipient_status_change(
            scope=actors.ca,
            recipient_id=recipient.pk,
            version=recipient.version,
            to_status="gradual_exit",
            reason="收入超过标准",
            effective_month="2022-01-01",
        )
    assert exc.value.code == "invalid_transition"
    services.recipient_status_change(
        scope=actors.ca,
        recipient_id=recipient.pk,
        version=recipient.version,
        to_status="active",
        reason="核实后恢复",
        effective_month="2022-01-01",
    )
    recipient.refresh_from_db()
    services.recipient_status_change(
        scope=actors.ca,
        recipient_id=recipient.pk,
        version=recipient.version,
        to_status="terminated",
        reason="自愿退出",
        effective_month="2022-03-01",
    )
    recipient.refresh_from_db()
    assert recipient.end_month == dt.date(2022, 2, 1)
    with pytest.raises(ApplicationError) as exc:
        services.recipient_status_change(
            scope=actors.ca,
            recipient_id=recipient.pk,
            version=recipient.version,
            to_status="active",
            reason="x",
            effective_month="2022-04-01",
        )
    assert exc.value.status == 409
    with pytest.raises(PermissionDenied):
        services.recipient_status_change(
            scope=actors.tr,
            recipient_id=recipient.pk,
            version=recipient.version,
            to_status="active",
            reason="x",
            effective_month="2022-04-01",
        )
    assert [h.to_status for h in selectors.recipient_history(scope=actors.ca, recipient_id=recipient.pk)] == [
        "active",
        "suspended",
        "active",
        "terminated",
    ]
    # A household already receiving cannot apply again; once terminated it can
    intake(actors, household, received_on=dt.date(2022, 4, 1))
