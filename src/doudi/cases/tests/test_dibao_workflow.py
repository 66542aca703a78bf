"""The dibao procedure end to end, and the refusals and faults on the way."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from doudi.cases import selectors, services
from doudi.cases.choices import ApplicationStatus, RecipientStatus, StepStatus
from doudi.cases.models import Application, CaseStep, Decision, Recheck, Recipient, RecipientStatusChange
from doudi.cases.tests.conftest import (
    D0,
    complete,
    draw,
    draw_and_visit,
    intake,
    publicise,
    to_county_approval_2021,
    version,
    visit,
)
from doudi.core.errors import ApplicationError, NotFound, PermissionDenied, StaleEdit
from doudi.core.models import AuditLog


def test_a_dibao_application_goes_from_intake_to_a_recipient_paid_from_the_next_month(actors, household):
    # Given an application taken in by the village worker
    app = intake(actors, household)
    assert app.rule_set == "2021" and app.current_step == "acceptance" and app.intake_level == "village"
    # When every step is done in order and the county approves after the spot-check draw
    day = to_county_approval_2021(actors, app)
    draw_and_visit(actors, app, day)
    complete(actors.ca, app, "county_approval", day + dt.timedelta(days=1), comment="同意")
    # Then the case is approved, with a decision effective from the next month and a rules snapshot
    app.refresh_from_db()
    assert app.status == ApplicationStatus.APPROVED
    assert app.current_step == "notice"
    decision = Decision.objects.get(application=app)
    assert decision.outcome == "approved"
    assert decision.decided_on == dt.date(2021, 9, 12)
    assert decision.effective_month == dt.date(2021, 10, 1)
    det = decision.determination
    assert det.rules_available and det.eligible is True
    assert det.rules_version.startswith("0.")
    assert det.input["household"]["members"] and det.output["trace"] and det.output["parameters_used"]
    assert det.monthly_amount == decision.amount > Decimal("0")
    recipient = Recipient.objects.get(household=household, program="dibao")
    assert recipient.status == RecipientStatus.ACTIVE
    assert recipient.start_month == dt.date(2021, 10, 1)
    assert recipient.monthly_amount == decision.amount
    assert recipient.determination == det
    assert RecipientStatusChange.objects.filter(recipient=recipient, to_status="active").count() == 1
    assert Recheck.objects.filter(recipient=recipient, status="scheduled").exists()
    # And every step records its actor and time; the notice closes the case
    complete(actors.ca, app, "notice", day + dt.timedelta(days=2), payload={"delivered_on": "2021-09-13"})
    steps = {s.code: s for s in CaseStep.objects.filter(application=app)}
    assert steps["democratic_review"].status == StepStatus.SKIPPED
    assert all(s.actor_id and s.acted_at for s in steps.values())
    app.refresh_from_db()
    assert app.current_step == ""
    # And everything was audited
    assert AuditLog.objects.filter(subject_type="application", subject_id=str(app.pk)).count() >= 8
    assert AuditLog.objects.filter(subject_type="decision").exists()


def test_the_2012_procedure_has_democratic_review_and_a_second_publicity_before_the_decision(actors, household):
    received = dt.date(2020, 3, 2)
    app = intake(actors, household, received_on=received)
    assert app.rule_set == "2012"
    complete(actors.tr, app, "acceptance", received)
    visit(actors.tr, app, received)
    complete(actors.tr, app, "investigation", received)
    complete(actors.cv, app, "verification", received)
    with pytest.raises(ApplicationError) as exc:
        services.step_skip(
            scope=actors.tr,
            application_id=app.pk,
            version=version(app),
            step_code="democratic_review",
            reason="x",
            today=received,
        )
    assert exc.value.code == "step_required"
    with pytest.raises(ApplicationError) as exc:
        complete(
            actors.tr,
            app,
            "democratic_review",
            received,
            payload={"participants": 15, "villager_reps": 9, "conclusion": "pass"},
        )
    assert exc.value.code == "review_quorum"
    complete(
        actors.tr,
        app,
        "democratic_review",
        received,
        payload={"participants": 15, "villager_reps": 10, "conclusion": "pass"},
    )
    complete(actors.tr, app, "township_opinion", received)
    publicise(actors.tr, app, "publicity", dt.date(2020, 3, 3))
    complete(actors.tr, app, "publicity", dt.date(2020, 3, 10))
    draw_and_visit(actors, app, dt.date(2020, 3, 11))
    complete(actors.ca, app, "county_review", dt.date(2020, 3, 11))
    assert Recipient.objects.count() == 0
    publicise(actors.ca, app, "approval_publicity", dt.date(2020, 3, 11))
    complete(actors.ca, app, "approval_publicity", dt.date(2020, 3, 18))
    complete(actors.ca, app, "decision", dt.date(2020, 3, 19))
    recipient = Recipient.objects.get(household=household)
    assert recipient.start_month == dt.date(2020, 4, 1)


def test_a_refusal_needs_written_reasons_and_opens_the_refusal_notice(actors, household):
    app = intake(actors, household)
    day = to_county_approval_2021(actors, app)
    draw_and_visit(actors, app, day)
    with pytest.raises(ApplicationError) as exc:
        services.application_refuse(
            scope=actors.ca,
            application_id=app.pk,
            version=version(app),
            step_code="county_approval",
            reasons=["  "],
            today=day,
        )
    assert exc.value.code == "reasons_required"
    decision = services.application_refuse(
        scope=actors.ca,
        application_id=app.pk,
        version=version(app),
        step_code="county_approval",
        reasons=["家庭人均收入高于当地低保标准"],
        today=day,
    )
    assert decision.outcome == "refused" and decision.reasons == ["家庭人均收入高于当地低保标准"]
    assert decision.determination.output  # the rules still ran and were kept
    app.refresh_from_db()
    assert app.status == ApplicationStatus.REFUSED and app.current_step == "notice"
    notice = CaseStep.objects.get(application=app, code="notice")
    assert notice.due_date == dt.date(2021, 9, 15)  # 3 working days after Sat 11 Sep: Mon, Tue, Wed
    assert not Recipient.objects.exists()


def test_a_step_that_may_not_refuse_says_so(actors, household):
    app = intake(actors, household)
    with pytest.raises(ApplicationError) as exc:
        services.application_refuse(
            scope=actors.tr,
            application_id=app.pk,
            version=version(app),
            step_code="acceptance",
            reasons=["不符合"],
            today=D0,
        )
    assert exc.value.code == "not_refusable"


def test_the_rules_decide_eligibility_an_ineligible_household_cannot_be_approved(actors, household):
    from doudi.registry import services as registry

    registry.item_add(
        scope=actors.ad,
        household_id=household.pk,
        kind_group="income",
        data={"kind": "wage", "monthly_amount": "5000", "start_date": "2021-01-01"},
    )
    app = intake(actors, household)
    day = to_county_approval_2021(actors, app)
    draw_and_visit(actors, app, day)
    with pytest.raises(ApplicationError) as exc:
        complete(actors.ca, app, "county_approval", day)
    assert exc.value.code == "rules_ineligible"
    assert version(app) == app.version and Decision.objects.count() == 0


def test_missing_documents_are_listed_all_at_once_at_acceptance(actors, household):
    app = intake(actors, household, documents={"application_form": True, "id_card": True})
    with pytest.raises(ApplicationError) as exc:
        complete(actors.tr, app, "acceptance", D0)
    assert exc.value.code == "documents_missing"
    assert exc.value.extra["missing"] == ["户口簿", "家庭收入、财产情况声明及证明材料", "家庭经济状况核对授权书"]
    services.application_documents_update(
        scope=actors.vw,
        application_id=app.pk,
        version=version(app),
        documents={"hukou_book": True, "income_proof": True, "authorisation": True},
    )
    complete(actors.tr, app, "acceptance", D0)


def test_verification_needs_the_signed_authorisation(actors, household):
    app = intake(actors, household, verification_authorised=False, authorised_on=None)
    complete(actors.tr, app, "acceptance", D0)
    visit(actors.tr, app, D0)
    complete(actors.tr, app, "investigation", D0)
    with pytest.raises(ApplicationError) as exc:
        complete(actors.cv, app, "verification", D0)
    assert exc.value.code == "authorisation_missing"


def test_investigation_needs_a_home_visit_by_at_least_two_investigators(actors, household):
    app = intake(actors, household)
    complete(actors.tr, app, "acceptance", D0)
    with pytest.raises(ApplicationError) as exc:
        complete(actors.tr, app, "investigation", D0)
    assert exc.value.code == "home_visit_required"
    with pytest.raises(ApplicationError) as exc:
        services.home_visit_record(
            scope=actors.tr,
            application_id=app.pk,
            version=version(app),
            level="township",
            visited_on=D0,
            investigators=["张调查", "张调查"],
            findings="属实",
            today=D0,
        )
    assert exc.value.code == "investigators_min_two"


def test_a_kin_declared_case_is_registered_separately_and_needs_a_county_home_visit(actors, household):
    # Given an applicant related to a village-committee member
    kin = [{"name": "王主任", "relation": "sibling", "position": "committee", "organisation": "甲村村委会"}]
    app = intake(actors, household, kin_declared=True, kin_details=kin)
    assert list(selectors.kin_register(scope=actors.ca)) == [app]
    day = to_county_approval_2021(actors, app)
    batch = draw(actors)
    assert app.pk in batch.mandatory and app.pk in batch.sample
    # When the county tries to approve without visiting
    with pytest.raises(ApplicationError) as exc:
        complete(actors.ca, app, "county_approval", day)
    # Then it is told a county visit is compulsory
    assert exc.value.code == "county_visit_required" and "近亲属备案" in exc.value.message
    # And a township visit does not count, a county one does
    visit(actors.tr, app, day)
    with pytest.raises(ApplicationError):
        complete(actors.ca, app, "county_approval", day)
    visit(actors.ca, app, day, level="county")
    complete(actors.ca, app, "county_approval", day)


def test_a_kinship_declaration_names_a_close_relative_and_a_position(actors, household):
    with pytest.raises(ApplicationError) as exc:
        intake(
            actors,
            household,
            kin_declared=True,
            kin_details=[{"name": "王", "relation": "cousin", "position": "staff"}],
        )
    assert exc.value.field == "kin_details[0].relation"
    with pytest.raises(ApplicationError) as exc:
        intake(actors, household, kin_declared=True, kin_details=[])
    assert exc.value.field == "kin_details"


def test_an_objection_during_publicity_must_be_resolved_and_makes_the_county_visit_compulsory(actors, household):
    app = intake(actors, household)
    complete(actors.tr, app, "acceptance", D0)
    visit(actors.tr, app, D0)
    complete(actors.tr, app, "investigation", D0)
    complete(actors.cv, app, "verification", D0)
    services.step_skip(
        scope=actors.tr,
        application_id=app.pk,
        version=version(app),
        step_code="democratic_review",
        reason="无异议",
        today=D0,
    )
    complete(actors.tr, app, "township_opinion", D0)
    publicity = publicise(actors.tr, app, "publicity", D0)
    assert publicity.end_date == D0 + dt.timedelta(days=6)
    with pytest.raises(ApplicationError) as exc:
        complete(actors.tr, app, "publicity", publicity.end_date)
    assert exc.value.code == "publicity_not_ended"
    objection = services.objection_record(
        scope=actors.vw,
        application_id=app.pk,
        version=version(app),
        publicity_id=publicity.pk,
        received_on=D0 + dt.timedelta(days=2),
        content="该户有一辆小汽车",
        real_name=True,
    )
    with pytest.raises(ApplicationError) as exc:
        complete(actors.tr, app, "publicity", D0 + dt.timedelta(days=8))
    assert exc.value.code == "objection_open"
    services.objection_resolve(
        scope=actors.tr,
        application_id=app.pk,
        version=version(app),
        objection_id=objection.pk,
        upheld=False,
        resolution="经核实车辆已于2020年转让",
        today=D0 + dt.timedelta(days=8),
    )
    complete(actors.tr, app, "publicity", D0 + dt.timedelta(days=8))
    app.refresh_from_db()
    assert app.disputed
    batch = draw(actors)
    assert app.pk in batch.mandatory
    with pytest.raises(ApplicationError) as exc:
        complete(actors.ca, app, "county_approval", D0 + dt.timedelta(days=9))
    assert "有异议或举报" in exc.value.message


def test_the_county_cannot_approve_before_the_spot_check_is_drawn(actors, household):
    app = intake(actors, household)
    day = to_county_approval_2021(actors, app)
    with pytest.raises(ApplicationError) as exc:
        complete(actors.ca, app, "county_approval", day)
    assert exc.value.code == "spot_check_not_drawn"


# --- faults: twice, out of order, wrong role, outside region, concurrent --------------------------------------
def test_a_step_done_twice_is_refused_and_nothing_changes(actors, household):
    app = intake(actors, household)
    complete(actors.tr, app, "acceptance", D0)
    audit_rows = AuditLog.objects.count()
    with pytest.raises(ApplicationError) as exc:
        complete(actors.tr, app, "acceptance", D0)
    assert exc.value.code == "step_already_done" and exc.value.status == 409
    assert AuditLog.objects.count() == audit_rows
    app.refresh_from_db()
    assert app.current_step == "investigation"


def test_a_step_out_of_order_names_the_step_that_is_due(actors, household):
    app = intake(actors, household)
    with pytest.raises(ApplicationError) as exc:
        complete(actors.ca, app, "county_approval", D0)
    assert exc.value.code == "step_out_of_order"
    assert "受理" in exc.value.message


def test_a_step_by_the_wrong_role_is_forbidden(actors, household):
    app = intake(actors, household)
    for scope in (actors.vw, actors.ca, actors.cv):
        with pytest.raises(PermissionDenied) as exc:
            complete(scope, app, "acceptance", D0)
        assert "乡镇（街道）审核人" in exc.value.message
    with pytest.raises(PermissionDenied):
        complete(actors.sv, app, "acceptance", D0)
    complete(actors.ad, app, "acceptance", D0)  # the administrator may act on any step


def test_an_approver_outside_the_region_cannot_see_or_act_on_the_case(actors, household):
    app = intake(actors, household)
    day = to_county_approval_2021(actors, app)
    draw_and_visit(actors, app, day)
    with pytest.raises(NotFound):
        complete(actors.out, app, "county_approval", day)
    with pytest.raises(NotFound):
        selectors.application_get(scope=actors.out, application_id=app.pk)
    app.refresh_from_db()
    assert app.status == ApplicationStatus.IN_PROGRESS


def test_intake_outside_the_region_or_by_a_county_verifier_is_refused(actors, household, tree):
    from doudi.testing.fixtures import make_household

    other = make_household(actors.ad, tree.other_village, members=1)
    with pytest.raises(NotFound):
        intake(actors, other)
    with pytest.raises(PermissionDenied):
        intake(actors, household, scope=actors.cv)


def test_a_second_application_while_one_is_open_is_refused(actors, household):
    intake(actors, household)
    with pytest.raises(ApplicationError) as exc:
        intake(actors, household, scope=actors.tr)
    assert exc.value.code == "duplicate_case" and exc.value.status == 409


def test_two_approvers_on_the_same_case_one_wins_the_other_is_told(actors, household, users):
    from doudi.core.scope import scope_for
    from doudi.testing.fixtures import make_user

    second = scope_for(make_user("ca2", "county_approver", users.county_approver.region))
    app = intake(actors, household)
    day = to_county_approval_2021(actors, app)
    draw_and_visit(actors, app, day)
    seen = version(app)  # both approvers opened the case at this version
    services.step_complete(scope=actors.ca, application_id=app.pk, version=seen, step_code="county_approval", today=day)
    with pytest.raises(StaleEdit) as exc:
        services.application_refuse(
            scope=second,
            application_id=app.pk,
            version=seen,
            step_code="county_approval",
            reasons=["不符合"],
            today=day,
        )
    assert exc.value.status == 409
    app.refresh_from_db()
    assert app.status == ApplicationStatus.APPROVED
    assert Decision.objects.filter(application=app).count() == 1


@pytest.fixture(scope="module")
def restore_migrated_data(django_db_blocker):
    """A transactional test ends with a flush that also wipes the data migrations installed (regions, workflows).
    Transactional tests run last and in file order, so reload the serialized test database for those after us."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        db = connections["default"]
        if getattr(db, "_test_serialized_contents", None):
            db.creation.deserialize_db_from_string(db._test_serialized_contents)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_approvers_at_the_same_moment_on_postgresql_one_wins(restore_migrated_data, tree, users):
    """Real concurrency: two threads with their own connections and the same version."""
    import threading

    from django.db import connections

    from doudi.cases.tests.conftest import Actors
    from doudi.core.scope import scope_for
    from doudi.testing.fixtures import make_household, make_user

    actors = Actors(
        *(
            scope_for(u)
            for u in (
                users.village_worker,
                users.township_reviewer,
                users.county_approver,
                users.county_verifier,
                users.supervisor,
                users.admin,
                users.outsider,
            )
        )
    )
    second = scope_for(make_user("ca2", "county_approver", users.county_approver.region))
    household = make_household(actors.ad, tree.village, members=2)
    app = intake(actors, household)
    day = to_county_approval_2021(actors, app)
    draw_and_visit(actors, app, day)
    seen = version(app)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def act(scope, refuse):
        try:
            barrier.wait()
            if refuse:
                services.application_refuse(
                    scope=scope,
                    application_id=app.pk,
                    version=seen,
                    step_code="county_approval",
                    reasons=["不符合"],
                    today=day,
                )
            else:
                services.step_complete(
                    scope=scope, application_id=app.pk, version=seen, step_code="county_approval", today=day
                )
            results.append("ok")
        except StaleEdit:
            results.append("stale")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=act, args=(actors.ca, False)), threading.Thread(target=act, args=(second, True))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok", "stale"]
    assert Decision.objects.filter(application=app).count() == 1


def test_a_region_s_own_workflow_delegating_approval_to_the_township_is_used(actors, household, tree):
    steps = [
        {
            "code": "acceptance",
            "name": "受理",
            "level": "township",
            "roles": ["township_reviewer"],
            "guards": ["documents_complete"],
        },
        {
            "code": "township_approval",
            "name": "乡镇审核确认",
            "level": "township",
            "roles": ["township_reviewer"],
            "decides": True,
            "refusable": True,
            "deadline_days": 20,
        },
        {"code": "notice", "name": "告知", "level": "township", "roles": ["township_reviewer"], "deadline_days": 3},
    ]
    services.workflow_definition_create(
        scope=actors.ad,
        program="dibao",
        kind="new",
        rule_set="2021",
        name="海南乡镇审核确认",
        steps=steps,
        region_code=tree.county.code,
        config={"documents": {"application_form": "申请书"}},
        total_deadline_days=20,
    )
    app = intake(actors, household, documents={"application_form": True})
    assert app.workflow.name == "海南乡镇审核确认" and app.due_date == dt.date(2021, 9, 29)
    complete(actors.tr, app, "acceptance", D0)
    complete(actors.tr, app, "township_approval", D0 + dt.timedelta(days=1))
    assert Recipient.objects.filter(household=household).exists()
    with pytest.raises(PermissionDenied):
        services.workflow_definition_create(
            scope=actors.ca, program="dibao", kind="new", rule_set="2021", name="x", steps=steps
        )


def test_an_active_discovery_case_records_its_source(actors, household):
    app = intake(actors, household, scope=actors.tr, discovered_by="active_discovery")
    assert app.discovered_by == "active_discovery" and app.intake_level == "township"
    assert Application.objects.filter(discovered_by="active_discovery").count() == 1


def test_a_step_may_be_entered_after_the_fact_but_not_before_it_opened_nor_in_the_future(actors, household):
    app = intake(actors, household)
    # Back-entry of a paper record: the acceptance, done on the day the case was received, entered years later
    complete(actors.tr, app, "acceptance", D0)
    with pytest.raises(ApplicationError) as early:
        complete(actors.tr, app, "investigation", D0 - dt.timedelta(days=1))
    assert early.value.code == "invalid_date" and early.value.field == "acted_on"
    assert "2021-09-01" in early.value.message
    with pytest.raises(ApplicationError) as future:
        complete(actors.tr, app, "investigation", dt.date.today() + dt.timedelta(days=1))
    assert future.value.code == "invalid_date" and future.value.field == "acted_on"
    app.refresh_from_db()
    assert app.current_step == "investigation"
