"""The case workflow pages through the Django test client: who may see them, and cases driven through the forms."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from doudi.cases import services
from doudi.cases.models import Application, CaseStep, Decision, HomeVisit, Publicity
from doudi.cases.tests.conftest import intake, to_county_approval_2021

D = dt.date(2021, 9, 1)  # a Wednesday under the 2021 rules


@pytest.fixture
def client_for(users: Any) -> Any:
    def build(role_name: str) -> Client:
        client = Client()
        client.force_login(getattr(users, role_name))
        return client

    return build


def ver(app_id: int) -> int:
    return Application.objects.get(pk=app_id).version


def url(name: str, *args: Any) -> str:
    return reverse(f"cases:{name}", args=args)


def post_step(client: Client, app_id: int, code: str, on: dt.date, **data: Any) -> Any:
    payload = {"version": ver(app_id), "acted_on": on.isoformat(), **data}
    return client.post(url("step_complete", app_id, code), payload)


def assert_redirect_to_case(response: Any, app_id: int) -> None:
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"] == url("application_detail", app_id)


# --- access ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["task_list", "overdue", "kin_register", "discovery"])
def test_lists_render_for_personal_roles_and_are_refused_to_the_supervisor(client_for, actors, household, name):
    intake(
        actors,
        household,
        kin_declared=True,
        kin_details=[{"name": "王干部", "relation": "sibling", "position": "committee"}],
    )
    for role in ("village_worker", "township_reviewer", "county_approver", "county_verifier", "admin"):
        response = client_for(role).get(url(name))
        assert response.status_code == 200, role
    assert client_for("supervisor").get(url(name)).status_code == 403


def test_the_task_list_shows_the_steps_my_role_acts_on_with_overdue_flags(client_for, actors, household):
    app = intake(actors, household)
    tr = client_for("township_reviewer").get(url("task_list")).content.decode()
    assert "受理" in tr and url("application_detail", app.pk) in tr
    assert "案件超办结时限" in tr  # acceptance has no limit of its own, but the 30 working days are long past
    cv = client_for("county_verifier").get(url("task_list")).content.decode()
    assert url("application_detail", app.pk) not in cv  # verification is not due yet
    vw = client_for("village_worker").get(url("task_list")).content.decode()
    assert url("application_detail", app.pk) in vw  # the village worker follows the cases of their village


def test_the_case_page_renders_for_personal_roles_404_outside_the_region_and_403_for_the_supervisor(
    client_for, actors, household
):
    app = intake(actors, household)
    for role in ("village_worker", "township_reviewer", "county_approver", "county_verifier", "admin"):
        response = client_for(role).get(url("application_detail", app.pk))
        assert response.status_code == 200, role
    assert client_for("supervisor").get(url("application_detail", app.pk)).status_code == 403
    assert client_for("outsider").get(url("application_detail", app.pk)).status_code == 404
    response = post_step(client_for("outsider"), app.pk, "acceptance", D)
    assert response.status_code == 404
    assert Application.objects.get(pk=app.pk).current_step == "acceptance"


def test_intake_and_act_first_forms_render_for_their_roles(client_for, household, other_household):
    for role in ("village_worker", "township_reviewer", "admin"):
        response = client_for(role).get(url("application_new") + f"?household={household.pk}")
        assert response.status_code == 200, role
        assert 'id="program-form"' in response.content.decode()  # first the program
    # intake is village and township business: the county decides, it does not take in
    for role in ("county_approver", "county_verifier"):
        assert client_for(role).get(url("application_new") + f"?household={household.pk}").status_code == 403
    assert client_for("supervisor").get(url("application_new") + f"?household={household.pk}").status_code == 403
    assert (
        client_for("township_reviewer").get(url("application_new") + f"?household={other_household.pk}").status_code
        == 404
    )
    assert client_for("township_reviewer").get(url("application_new")).status_code == 200  # asks to find a household
    # then the form of that program: its own documents checklist and sections
    dibao = client_for("village_worker").get(url("application_new") + f"?household={household.pk}&program=dibao")
    body = dibao.content.decode()
    assert 'id="application-form"' in body and "家庭经济状况核对授权书" in body
    assert "生活自理能力评估材料" not in body and 'name="request_type"' not in body
    assert 'name="subject_person_id"' not in body
    tekun = client_for("village_worker").get(url("application_new") + f"?household={household.pk}&program=tekun")
    assert "生活自理能力评估材料" in tekun.content.decode() and 'name="subject_person_id"' in tekun.content.decode()
    ta = client_for("village_worker").get(
        url("application_new") + f"?household={household.pk}&program=temporary_assistance"
    )
    assert 'name="request_type"' in ta.content.decode() and "困难情况证明" in ta.content.decode()
    for role in ("township_reviewer", "county_approver", "admin"):
        assert client_for(role).get(url("act_first") + f"?household={household.pk}").status_code == 200, role
    for role in ("village_worker", "county_verifier", "supervisor"):
        assert client_for(role).get(url("act_first") + f"?household={household.pk}").status_code == 403, role


def test_actions_are_post_only(client_for, actors, household):
    app = intake(actors, household)
    assert client_for("township_reviewer").get(url("step_complete", app.pk, "acceptance")).status_code == 405


def test_the_household_page_links_to_intake_and_the_nav_has_tasks(client_for, household):
    page = client_for("village_worker").get(reverse("web:household_detail", args=[household.pk])).content.decode()
    assert f"{url('application_new')}?household={household.pk}" in page
    assert "发起申请" in page
    assert f'href="{url("task_list")}"' in page and "待办" in page


# --- a dibao case from intake to approval, entirely through the forms -----------------------------------------------


@pytest.fixture
def other_household(tree: Any, users: Any) -> Any:
    from doudi.core.scope import scope_for
    from doudi.testing.fixtures import make_household

    return make_household(scope_for(users.outsider), tree.other_village, members=1, head_name="外县人")


def test_a_dibao_case_goes_from_intake_to_approval_through_the_pages(client_for, actors, household):
    vw, tr, cv, ca = (
        client_for(r) for r in ("village_worker", "township_reviewer", "county_verifier", "county_approver")
    )
    # Intake by the village worker
    response = vw.post(
        url("application_new") + f"?household={household.pk}",
        {
            "household": household.pk,
            "program": "dibao",
            "applicant_id": household.head_id,
            "received_on": D.isoformat(),
            "discovered_by": "intake",
            "documents": ["application_form", "id_card", "hukou_book", "income_proof", "authorisation"],
            "verification_authorised": "on",
            "authorised_on": D.isoformat(),
        },
    )
    assert response.status_code == 302
    app = Application.objects.get(household=household, program="dibao")
    assert response["Location"] == url("application_detail", app.pk)
    assert (app.rule_set, app.current_step, app.intake_level) == ("2021", "acceptance", "village")
    page = tr.get(url("application_detail", app.pk)).content.decode()
    assert 'id="step-complete-form"' in page and "办理完成" in page and "登记入户调查" in page
    # Township: acceptance, home visit, investigation
    assert_redirect_to_case(post_step(tr, app.pk, "acceptance", D, comment="材料齐全"), app.pk)
    response = tr.post(
        url("home_visit_add", app.pk),
        {
            "version": ver(app.pk),
            "level": "township",
            "visited_on": "2021-09-02",
            "investigators": "张调查、李调查",
            "members_present": "户主",
            "findings": "家庭情况与申报一致",
            "conforms": "1",
        },
    )
    assert_redirect_to_case(response, app.pk)
    assert HomeVisit.objects.get(application=app).investigators == ["张调查", "李调查"]
    assert_redirect_to_case(post_step(tr, app.pk, "investigation", dt.date(2021, 9, 2)), app.pk)
    # County verification centre: verification with its result
    assert "核对结果" in cv.get(url("application_detail", app.pk)).content.decode()
    assert_redirect_to_case(post_step(cv, app.pk, "verification", dt.date(2021, 9, 3), result="pass"), app.pk)
    # Township: skip the optional review, opinion, publicity
    response = tr.post(
        url("step_skip", app.pk, "democratic_review"),
        {"version": ver(app.pk), "acted_on": "2021-09-03", "reason": "公示前无异议"},
    )
    assert_redirect_to_case(response, app.pk)
    assert_redirect_to_case(post_step(tr, app.pk, "township_opinion", dt.date(2021, 9, 3), recommend="1"), app.pk)
    page = tr.get(url("application_detail", app.pk)).content.decode()
    assert 'id="publicity-form"' in page and "开始公示" in page
    response = tr.post(
        url("publicity_start", app.pk),
        {"version": ver(app.pk), "step_code": "publicity", "start_date": "2021-09-04", "place": "村务公开栏"},
    )
    assert_redirect_to_case(response, app.pk)
    publicity = Publicity.objects.get(application=app)
    assert publicity.end_date == dt.date(2021, 9, 10)
    assert_redirect_to_case(post_step(tr, app.pk, "publicity", dt.date(2021, 9, 11)), app.pk)
    # County: the spot-check draw (its page belongs to the follow-up pages), the county visit if sampled, approval
    batch = services.spot_check_batch_create(scope=actors.ca, program="dibao")
    if app.pk in batch.sample:
        response = ca.post(
            url("home_visit_add", app.pk),
            {
                "version": ver(app.pk),
                "level": "county",
                "visited_on": "2021-09-12",
                "investigators": "县调查甲，县调查乙",
                "findings": "属实",
                "conforms": "1",
            },
        )
        assert_redirect_to_case(response, app.pk)
    assert "已纳入第" in ca.get(url("application_detail", app.pk)).content.decode()
    assert_redirect_to_case(post_step(ca, app.pk, "county_approval", dt.date(2021, 9, 12), comment="同意"), app.pk)
    app.refresh_from_db()
    assert app.status == "approved" and app.current_step == "notice"
    decision = Decision.objects.get(application=app)
    assert decision.outcome == "approved" and decision.decided_on == dt.date(2021, 9, 12)
    # The case page explains the determination in plain Chinese, with the amount
    page = ca.get(url("application_detail", app.pk)).content.decode()
    amount = f"{decision.amount:,.2f} 元"
    assert 'id="decision-amount"' in page and amount in page
    assert "测算结果说明" in page and "按政策规则测算，该户符合条件。" in page
    assert "低保标准（元/人/月）" in page and "280.00 元" in page and "琼府〔2015〕54号" in page
    assert "家庭人均月收入" in page and "2015-07-01" in page
    assert household.head.name in page  # member values are named
    # The notice closes the case
    assert_redirect_to_case(post_step(ca, app.pk, "notice", dt.date(2021, 9, 13), delivered_on="2021-09-13"), app.pk)
    app.refresh_from_db()
    assert app.current_step == ""
    steps = {s.code: s for s in CaseStep.objects.filter(application=app)}
    assert steps["democratic_review"].status == "skipped"
    assert steps["verification"].payload["result"] == "pass"
    assert all(s.actor_id for s in steps.values())


# --- refusals -------------------------------------------------------------------------------------------------


def test_a_step_done_twice_is_the_409_page(client_for, actors, household):
    app = intake(actors, household)
    tr = client_for("township_reviewer")
    assert_redirect_to_case(post_step(tr, app.pk, "acceptance", D), app.pk)
    response = post_step(tr, app.pk, "acceptance", D)
    assert response.status_code == 409
    assert "已办结，不能重复办理" in response.content.decode()
    assert url("application_detail", app.pk) in response.content.decode()


def test_a_stale_version_is_the_409_page_and_nothing_changes(client_for, actors, household):
    app = intake(actors, household)
    stale = ver(app.pk) - 1
    response = client_for("township_reviewer").post(
        url("step_complete", app.pk, "acceptance"), {"version": stale, "acted_on": D.isoformat()}
    )
    assert response.status_code == 409
    assert "已被其他人员办理或修改" in response.content.decode()
    assert CaseStep.objects.get(application=app, code="acceptance").status == "pending"


def test_the_wrong_role_is_refused_with_403(client_for, actors, household):
    app = intake(actors, household)
    response = post_step(client_for("county_verifier"), app.pk, "acceptance", D)
    assert response.status_code == 403
    assert CaseStep.objects.get(application=app, code="acceptance").status == "pending"
    assert (
        client_for("supervisor").post(url("step_complete", app.pk, "acceptance"), {"version": ver(app.pk)}).status_code
        == 403
    )


def test_a_refusal_without_reasons_is_422_with_the_field_error_and_with_reasons_it_is_recorded(
    client_for, actors, household
):
    app = intake(actors, household)
    day = to_county_approval_2021(actors, app)
    ca = client_for("county_approver")
    page = ca.get(url("application_detail", app.pk)).content.decode()
    assert 'id="refuse-form"' in page and "不予批准" in page
    response = ca.post(
        url("application_refuse", app.pk),
        {"version": ver(app.pk), "step_code": "county_approval", "acted_on": day.isoformat(), "reasons": "  "},
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert 'id="refuse_reasons_error"' in body and "不予批准须书面说明理由" in body
    response = ca.post(
        url("application_refuse", app.pk),
        {
            "version": ver(app.pk),
            "step_code": "county_approval",
            "acted_on": day.isoformat(),
            "reasons": "家庭人均收入高于当地低保标准\n有机动车辆",
        },
    )
    assert_redirect_to_case(response, app.pk)
    decision = Decision.objects.get(application=app)
    assert decision.outcome == "refused" and decision.reasons == ["家庭人均收入高于当地低保标准", "有机动车辆"]
    page = ca.get(url("application_detail", app.pk)).content.decode()
    assert "有机动车辆" in page and "测算结果说明" in page


def test_guard_refusals_rerender_the_case_page_with_422(client_for, actors, household):
    app = intake(actors, household, documents={"application_form": True})
    tr = client_for("township_reviewer")
    response = post_step(tr, app.pk, "acceptance", D)
    assert response.status_code == 422
    assert "申请材料不全" in response.content.decode()
    # a future date is refused by the form
    response = post_step(tr, app.pk, "acceptance", dt.date.today() + dt.timedelta(days=2))
    assert response.status_code == 422 and "办理日期不能晚于今天" in response.content.decode()
    # documents completed through the documents form, then acceptance passes
    response = client_for("village_worker").post(
        url("documents_update", app.pk),
        {
            "version": ver(app.pk),
            "documents": ["application_form", "id_card", "hukou_book", "income_proof", "authorisation"],
            "verification_authorised": "on",
            "authorised_on": D.isoformat(),
        },
    )
    assert_redirect_to_case(response, app.pk)
    assert_redirect_to_case(post_step(tr, app.pk, "acceptance", D), app.pk)
    # a home visit with one investigator is refused at the field
    response = tr.post(
        url("home_visit_add", app.pk),
        {
            "version": ver(app.pk),
            "level": "township",
            "visited_on": "2021-09-02",
            "investigators": "张调查",
            "findings": "x",
        },
    )
    assert response.status_code == 422
    assert 'id="visit_investigators_error"' in response.content.decode()


def test_objections_are_recorded_and_resolved_through_the_case_page(client_for, actors, household):
    from doudi.cases.tests.conftest import complete, publicise, visit

    app = intake(actors, household)
    complete(actors.tr, app, "acceptance", D)
    visit(actors.tr, app, D)
    complete(actors.tr, app, "investigation", D)
    complete(actors.cv, app, "verification", D, payload={"result": "pass"})
    services.step_skip(
        scope=actors.tr, application_id=app.pk, version=ver(app.pk), step_code="democratic_review", reason="无", today=D
    )
    complete(actors.tr, app, "township_opinion", D)
    publicity = publicise(actors.tr, app, "publicity", dt.date(2021, 9, 2))
    vw = client_for("village_worker")
    response = vw.post(
        url("objection_add", app.pk),
        {
            "version": ver(app.pk),
            "publicity_id": publicity.pk,
            "received_on": "2021-09-03",
            "content": "有车",
            "real_name": "on",
        },
    )
    assert_redirect_to_case(response, app.pk)
    objection = publicity.objections.get()
    tr = client_for("township_reviewer")
    response = tr.post(url("objection_resolve", app.pk, objection.pk), {"version": ver(app.pk), "resolution": "核实"})
    assert response.status_code == 422 and "请选择核实结论" in response.content.decode()
    response = tr.post(
        url("objection_resolve", app.pk, objection.pk),
        {"version": ver(app.pk), "upheld": "0", "resolution": "车辆已于2020年转让"},
    )
    assert_redirect_to_case(response, app.pk)
    objection.refresh_from_db()
    assert objection.status == "dismissed"
    app.refresh_from_db()
    assert app.disputed


# --- temporary assistance and tekun through the pages -----------------------------------------------------------


def test_temporary_assistance_from_intake_to_township_approval(client_for, actors, household):
    tr = client_for("township_reviewer")
    response = tr.post(
        url("application_new") + f"?household={household.pk}",
        {
            "household": household.pk,
            "program": "temporary_assistance",
            "applicant_id": household.head_id,
            "received_on": D.isoformat(),
            "documents": ["application_form", "id_card", "hardship_proof"],
            "request_type": "emergency",
            "request_group": "other",
            "request_persons": "2",
            "request_months": "1",
            "request_reason": "火灾",
        },
    )
    assert response.status_code == 302
    app = Application.objects.get(household=household, program="temporary_assistance")
    assert app.request["persons"] == 2 and app.request["reason"] == "火灾"
    assert_redirect_to_case(post_step(tr, app.pk, "acceptance", D), app.pk)
    response = tr.post(
        url("home_visit_add", app.pk),
        {
            "version": ver(app.pk),
            "level": "township",
            "visited_on": D.isoformat(),
            "investigators": "甲，乙",
            "findings": "属实",
        },
    )
    assert_redirect_to_case(response, app.pk)
    assert_redirect_to_case(post_step(tr, app.pk, "investigation", D), app.pk)
    response = tr.post(
        url("step_skip", app.pk, "verification"),
        {"version": ver(app.pk), "acted_on": D.isoformat(), "reason": "急难型"},
    )
    assert_redirect_to_case(response, app.pk)
    page = tr.get(url("application_detail", app.pk)).content.decode()
    assert "建议救助金额（元）" in page
    response = post_step(tr, app.pk, "township_opinion", D)
    assert response.status_code == 422 and 'id="complete_amount_error"' in response.content.decode()
    assert_redirect_to_case(post_step(tr, app.pk, "township_opinion", D, amount="800", recommend="1"), app.pk)
    tr.post(
        url("publicity_start", app.pk),
        {"version": ver(app.pk), "step_code": "publicity", "start_date": "2021-09-02", "place": "村务公开栏"},
    )
    assert_redirect_to_case(post_step(tr, app.pk, "publicity", dt.date(2021, 9, 9)), app.pk)
    assert_redirect_to_case(post_step(tr, app.pk, "approval", dt.date(2021, 9, 9)), app.pk)
    decision = Decision.objects.get(application=app)
    assert decision.outcome == "approved" and str(decision.amount) == "800.00"
    page = tr.get(url("application_detail", app.pk)).content.decode()
    assert "800.00 元" in page and "救助金额" in page


def test_act_first_through_the_form(client_for, household):
    tr = client_for("township_reviewer")
    response = tr.post(
        url("act_first") + f"?household={household.pk}",
        {"household": household.pk, "applicant_id": household.head_id, "amount": "", "reason": "火灾"},
    )
    assert response.status_code == 422 and "救助金额" in response.content.decode()
    response = tr.post(
        url("act_first") + f"?household={household.pk}",
        {
            "household": household.pk,
            "applicant_id": household.head_id,
            "amount": "500",
            "reason": "火灾",
            "documents": ["id_card"],
        },
    )
    assert response.status_code == 302
    app = Application.objects.get(household=household, kind="act_first")
    assert app.status == "approved" and app.current_step == "record_completion"
    assert Decision.objects.get(application=app).act_first


def test_a_tekun_case_is_approved_with_the_staff_amount_when_the_rules_lack_inputs(client_for, actors, household):
    from doudi.cases.tests.conftest import complete, publicise, visit

    docs = {
        k: True
        for k in ("application_form", "id_card", "hukou_book", "income_proof", "authorisation", "self_care_assessment")
    }
    app = intake(actors, household, program="tekun", subject_person_id=household.head_id, documents=docs)
    complete(actors.tr, app, "acceptance", D)
    visit(actors.tr, app, D)
    complete(actors.tr, app, "investigation", D)
    complete(actors.cv, app, "verification", D, payload={"result": "pass"})
    services.step_skip(
        scope=actors.tr, application_id=app.pk, version=ver(app.pk), step_code="democratic_review", reason="无", today=D
    )
    complete(actors.tr, app, "township_opinion", D)
    publicise(actors.tr, app, "publicity", dt.date(2021, 9, 2))
    complete(actors.tr, app, "publicity", dt.date(2021, 9, 10))
    batch = services.spot_check_batch_create(scope=actors.ca, program="tekun")
    if app.pk in batch.sample:
        visit(actors.ca, app, dt.date(2021, 9, 10), level="county")
    ca = client_for("county_approver")
    page = ca.get(url("application_detail", app.pk)).content.decode()
    assert 'name="amount"' in page
    response = post_step(ca, app.pk, "county_approval", dt.date(2021, 9, 11))
    if response.status_code == 422:  # the rules could not compute: the staff-assessed amount is asked for
        assert 'id="complete_amount_error"' in response.content.decode()
        response = post_step(ca, app.pk, "county_approval", dt.date(2021, 9, 11), amount="700")
    assert_redirect_to_case(response, app.pk)
    decision = Decision.objects.get(application=app)
    assert decision.outcome == "approved"
    page = ca.get(url("application_detail", app.pk)).content.decode()
    assert f"{decision.amount:,.2f} 元" in page and "测算结果说明" in page


# --- performance shape ------------------------------------------------------------------------------------------


def test_the_case_page_reads_a_bounded_number_of_queries(client_for, actors, household, django_assert_max_num_queries):
    from doudi.cases.tests.conftest import complete, draw_and_visit

    app = intake(actors, household)
    day = to_county_approval_2021(actors, app)
    draw_and_visit(actors, app, day)
    complete(actors.ca, app, "county_approval", day + dt.timedelta(days=1))
    client = client_for("county_approver")
    client.get(url("application_detail", app.pk))  # warm the rules metadata import
    with django_assert_max_num_queries(12):  # session, user, region + 7 for the case (10 measured)
        response = client.get(url("application_detail", app.pk))
    assert response.status_code == 200


def test_the_2012_democratic_review_form_checks_the_quorum_at_its_field(client_for, actors, household):
    from doudi.cases.tests.conftest import complete, visit

    received = dt.date(2020, 3, 2)
    app = intake(actors, household, received_on=received)
    complete(actors.tr, app, "acceptance", received)
    visit(actors.tr, app, received)
    complete(actors.tr, app, "investigation", received)
    complete(actors.cv, app, "verification", received)
    tr = client_for("township_reviewer")
    page = tr.get(url("application_detail", app.pk)).content.decode()
    assert 'name="participants"' in page and 'name="villager_reps"' in page and 'name="conclusion"' in page
    assert 'id="step-skip-form"' not in page  # required under the 2012 rules
    response = post_step(
        tr, app.pk, "democratic_review", received, participants="9", villager_reps="5", conclusion="pass"
    )
    assert response.status_code == 422
    assert 'id="complete_villager_reps_error"' in response.content.decode()
    response = post_step(
        tr, app.pk, "democratic_review", received, participants="9", villager_reps="6", conclusion="pass"
    )
    assert_redirect_to_case(response, app.pk)
    page = tr.get(url("application_detail", app.pk)).content.decode()
    assert "参加评议9人，其中村（居）民代表6人" in page and "评议结论：通过" in page


def test_a_date_before_the_step_opened_or_in_the_future_is_a_field_error_and_nothing_changes(
    client_for, actors, household
):
    app = intake(actors, household)  # received, and its acceptance step opened, on D
    tr = client_for("township_reviewer")
    early = post_step(tr, app.pk, "acceptance", D - dt.timedelta(days=1))
    assert early.status_code == 422
    body = early.content.decode()
    assert 'id="complete_acted_on_error"' in body and "办理日期不能早于本环节开始日期" in body
    future = post_step(tr, app.pk, "acceptance", dt.date.today() + dt.timedelta(days=1))
    assert future.status_code == 422 and "办理日期不能晚于今天" in future.content.decode()
    assert CaseStep.objects.get(application=app, code="acceptance").status == "pending"
