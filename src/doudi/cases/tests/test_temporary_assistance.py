"""Temporary assistance: approval tiers by amount, one-case-one-discussion, and act-first help with its overdue list."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from doudi.cases import selectors, services
from doudi.cases.choices import ApplicationStatus
from doudi.cases.models import CaseStep, Decision, Recipient
from doudi.cases.tests.conftest import complete, intake, publicise, version, visit
from doudi.core.errors import ApplicationError, PermissionDenied
from doudi.payments import services as payment_services

DAY = dt.date(2020, 6, 1)
TA_DOCS = {"application_form": True, "id_card": True, "hardship_proof": True}
# Hainan 2015 urban standard 420 (琼府〔2015〕54号): township ceiling 4 × 420 = 1680, one-case-one-discussion above
# 6 × 420 = 2520 (operator defaults in the rules parameters).


def test_tiers_follow_multiples_of_the_urban_dibao_standard(db, tree):
    tier = services.temporary_assistance_tier(
        amount=Decimal("1680"), region_code=tree.village.code, as_of=DAY, config={}
    )
    assert tier == {"tier": "township", "standard": "420", "township_ceiling": "1680.00", "major_threshold": "2520.00"}
    assert (
        services.temporary_assistance_tier(
            amount=Decimal("1680.01"), region_code=tree.village.code, as_of=DAY, config={}
        )["tier"]
        == "county"
    )
    assert (
        services.temporary_assistance_tier(
            amount=Decimal("2520.01"), region_code=tree.village.code, as_of=DAY, config={}
        )["tier"]
        == "one_case_one_discussion"
    )


def _to_approval(actors, household, amount: str):
    app = intake(
        actors,
        household,
        program="temporary_assistance",
        received_on=DAY,
        documents=TA_DOCS,
        request={"type": "expense", "group": "other", "persons": 2, "months": 3, "expense": "5000"},
    )
    complete(actors.tr, app, "acceptance", DAY)
    visit(actors.tr, app, DAY)
    complete(actors.tr, app, "investigation", DAY)
    services.step_skip(
        scope=actors.tr,
        application_id=app.pk,
        version=version(app),
        step_code="verification",
        reason="急难型，无需核对",
        today=DAY,
    )
    with pytest.raises(ApplicationError):
        complete(actors.tr, app, "township_opinion", DAY)  # a proposed amount is required
    complete(actors.tr, app, "township_opinion", DAY, payload={"amount": amount})
    publicise(actors.tr, app, "publicity", DAY)
    complete(actors.tr, app, "publicity", DAY + dt.timedelta(days=7))
    return app


def test_the_township_approves_within_its_ceiling(actors, household):
    app = _to_approval(actors, household, "1500")
    complete(actors.tr, app, "approval", DAY + dt.timedelta(days=8))
    decision = Decision.objects.get(application=app)
    assert decision.amount == Decimal("1500.00") and decision.effective_month is None
    assert decision.determination.rules_program == "temporary"
    assert CaseStep.objects.get(application=app, code="approval").payload["tier"]["tier"] == "township"
    # One-off help is paid once, in the county's payroll of the month of the decision
    (recipient,) = Recipient.objects.all()
    assert recipient.program == "temporary_assistance" and recipient.monthly_amount == Decimal("1500.00")
    assert recipient.start_month == recipient.end_month == dt.date(2020, 6, 1)
    assert recipient.subject_key == f"h{household.pk}:a{app.pk}"  # the household may be helped again later
    county = household.region.parent.parent  # village → township → county
    payroll = payment_services.payroll_generate(
        scope=actors.ca, county_code=county.code, program="temporary_assistance", month="2020-06"
    )
    assert [(line.recipient_id, line.amount) for line in payroll.lines.all()] == [(recipient.pk, Decimal("1500.00"))]
    later = payment_services.payroll_generate(
        scope=actors.ca, county_code=payroll.region_id, program="temporary_assistance", month="2020-07"
    )
    assert later.lines.count() == 0
    # and it no longer shows among the current recipients once its month has passed
    assert not selectors.recipients_in_scope(scope=actors.ca).filter(pk=recipient.pk).exists()


def test_above_the_township_ceiling_only_the_county_may_approve(actors, household):
    app = _to_approval(actors, household, "2000")
    with pytest.raises(PermissionDenied) as exc:
        complete(actors.tr, app, "approval", DAY + dt.timedelta(days=8))
    assert "1680.00" in exc.value.message
    complete(actors.ca, app, "approval", DAY + dt.timedelta(days=8))
    assert Decision.objects.get(application=app).amount == Decimal("2000.00")


def test_major_hardship_needs_a_one_case_one_discussion_record(actors, household):
    app = _to_approval(actors, household, "8000")
    with pytest.raises(ApplicationError) as exc:
        complete(actors.ca, app, "approval", DAY + dt.timedelta(days=8))
    assert exc.value.code == "discussion_required"
    complete(
        actors.ca,
        app,
        "approval",
        DAY + dt.timedelta(days=8),
        payload={
            "discussion": {
                "held_on": "2020-06-08",
                "participants": ["局长", "分管副局长", "救助股长"],
                "conclusion": "同意救助8000元",
            }
        },
    )
    assert Decision.objects.get(application=app).amount == Decimal("8000.00")


def test_act_first_pays_now_and_the_record_must_be_completed_in_five_working_days(actors, household):
    # Given a fire on Fri 5 Jun 2020 and 1000 yuan paid the same day by the township, without documents
    app = services.temporary_assistance_act_first(
        scope=actors.tr,
        household_id=household.pk,
        applicant_id=household.head_id,
        amount="1000",
        reason="房屋失火",
        paid_on=dt.date(2020, 6, 5),
        today=dt.date(2020, 6, 5),
    )
    # Then the decision exists at once and the record-completion step is due 5 working days later
    assert app.status == ApplicationStatus.APPROVED and app.kind == "act_first"
    decision = Decision.objects.get(application=app)
    assert decision.act_first and decision.amount == Decimal("1000.00")
    assert not Recipient.objects.exists()  # paid on the spot: no payroll line
    step = CaseStep.objects.get(application=app, code="record_completion")
    assert step.due_date == dt.date(2020, 6, 12)
    # And after the limit it is on the act-first overdue list
    assert not selectors.act_first_overdue(scope=actors.tr, today=dt.date(2020, 6, 12)).exists()
    assert [s.application_id for s in selectors.act_first_overdue(scope=actors.tr, today=dt.date(2020, 6, 15))] == [
        app.pk
    ]
    # Completing it needs the documents
    with pytest.raises(ApplicationError) as exc:
        complete(actors.tr, app, "record_completion", dt.date(2020, 6, 15))
    assert exc.value.code == "documents_missing"
    services.application_documents_update(
        scope=actors.tr, application_id=app.pk, version=version(app), documents=TA_DOCS
    )
    complete(actors.tr, app, "record_completion", dt.date(2020, 6, 15))
    assert not selectors.act_first_overdue(scope=actors.tr, today=dt.date(2020, 6, 30)).exists()


def test_act_first_above_the_township_ceiling_needs_the_county_and_major_hardship_is_refused(actors, household):
    with pytest.raises(PermissionDenied):
        services.temporary_assistance_act_first(
            scope=actors.tr,
            household_id=household.pk,
            applicant_id=household.head_id,
            amount="2000",
            reason="车祸",
            today=DAY,
        )
    with pytest.raises(ApplicationError) as exc:
        services.temporary_assistance_act_first(
            scope=actors.ca,
            household_id=household.pk,
            applicant_id=household.head_id,
            amount="9000",
            reason="车祸",
            today=DAY,
        )
    assert exc.value.code == "major_hardship"
    app = services.temporary_assistance_act_first(
        scope=actors.ca,
        household_id=household.pk,
        applicant_id=household.head_id,
        amount="2000",
        reason="车祸",
        today=DAY,
    )
    assert Decision.objects.get(application=app).amount == Decimal("2000.00")
