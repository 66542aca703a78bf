"""Case-workflow API: a dibao case from intake to approval through the API, and the refusals on the way
(403 wrong role, 404 outside the region, 409 step twice or stale version, 422 naming the field)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from doudi.cases.models import Application, Decision, Recipient
from doudi.cases.tests.conftest import ALL_DIBAO_DOCS, D0
from doudi.core import token_services
from doudi.core.models import AuditLog
from doudi.core.scope import scope_for
from doudi.testing.fixtures import make_household

JSON = "application/json"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Clock:
    """The services' "today" (timezone.localdate), moved by the test: a publicity must run its 7 days."""

    today: dt.date


def install_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    state = Clock(D0)
    real = timezone.localdate

    def localdate(value: Any = None, timezone: Any = None) -> dt.date:
        return state.today if value is None else real(value, timezone)

    monkeypatch.setattr("django.utils.timezone.localdate", localdate)
    return state


def client_factory(users: Any) -> Any:
    """client_factory(users)("county_approver") → a test client logged in as that fixture user."""

    def build(role_name: str) -> Client:
        client = Client()
        client.force_login(getattr(users, role_name))
        return client

    return build


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def api(users: Any) -> Any:
    return client_factory(users)


def post(client: Client, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data, content_type=JSON)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content.decode()
    return response.json()


def act(client: Client, case: dict[str, Any], code: str, action: str = "complete", **body: Any) -> dict[str, Any]:
    return ok(post(client, f"/api/cases/{case['id']}/steps/{code}/{action}", {"version": case["version"], **body}))


def detail(client: Client, case_id: int) -> dict[str, Any]:
    return ok(client.get(f"/api/cases/{case_id}"))


def intake_via_api(client: Client, household: Any, received_on: dt.date = D0) -> dict[str, Any]:
    return ok(
        post(
            client,
            "/api/cases",
            {
                "program": "dibao",
                "household_id": household.pk,
                "applicant_id": household.head_id,
                "received_on": received_on.isoformat(),
                "documents": ALL_DIBAO_DOCS,
                "verification_authorised": True,
                "authorised_on": received_on.isoformat(),
            },
        ),
        201,
    )


def to_county_approval_via_api(api: Any, clock: Clock, case: dict[str, Any]) -> dict[str, Any]:
    """acceptance → home visit → investigation → verification → review skipped → opinion → 7-day publicity."""
    tr, cv = api("township_reviewer"), api("county_verifier")
    case = act(tr, case, "acceptance", comment="材料齐全")
    clock.today = D0 + dt.timedelta(days=1)
    visit = ok(
        post(
            tr,
            f"/api/cases/{case['id']}/visits",
            {
                "version": case["version"],
                "level": "township",
                "visited_on": clock.today.isoformat(),
                "investigators": ["张调查", "李调查"],
                "findings": "家庭情况与申报一致",
                "members_present": ["户主"],
            },
        ),
        201,
    )
    case["version"] = visit["case_version"]
    case = act(tr, case, "investigation")
    clock.today = D0 + dt.timedelta(days=2)
    case = act(cv, case, "verification", payload={"result": "pass"})
    case = act(tr, case, "democratic_review", "skip", reason="公示前无异议")
    case = act(tr, case, "township_opinion", payload={"recommend": True})
    clock.today = D0 + dt.timedelta(days=3)
    publicity = ok(
        post(
            tr,
            f"/api/cases/{case['id']}/publicity",
            {
                "version": case["version"],
                "step_code": "publicity",
                "start_date": clock.today.isoformat(),
                "place": "村务公开栏",
            },
        ),
        201,
    )
    assert publicity["end_date"] == (clock.today + dt.timedelta(days=6)).isoformat()
    case["version"] = publicity["case_version"]
    clock.today = D0 + dt.timedelta(days=10)
    return act(tr, case, "publicity")


def approve_via_api(api: Any, clock: Clock, case: dict[str, Any]) -> dict[str, Any]:
    """The county draws the spot check, visits when sampled, approves and sends the notice."""
    ca = api("county_approver")
    batch = ok(post(ca, "/api/spot-checks", {"program": "dibao"}), 201)
    assert case["id"] in batch["population"] and len(batch["sample"]) >= 1
    case = detail(ca, case["id"])
    if case["spot_check_selected"]:
        visit = ok(
            post(
                ca,
                f"/api/cases/{case['id']}/visits",
                {
                    "version": case["version"],
                    "level": "county",
                    "visited_on": clock.today.isoformat(),
                    "investigators": ["县甲", "县乙"],
                    "findings": "抽查属实",
                },
            ),
            201,
        )
        case["version"] = visit["case_version"]
    clock.today = D0 + dt.timedelta(days=11)
    return act(ca, case, "county_approval", comment="同意")


def dibao_case_approved_via_api(api: Any, clock: Clock, household: Any) -> dict[str, Any]:
    clock.today = D0
    case = intake_via_api(api("village_worker"), household)
    case = to_county_approval_via_api(api, clock, case)
    return approve_via_api(api, clock, case)


# --- the whole procedure ------------------------------------------------------------------------------------------


def test_a_dibao_case_goes_from_intake_to_approval_through_the_api(api, clock, household):
    vw, ca = api("village_worker"), api("county_approver")
    # Given an application taken in by the village worker through the API
    case = intake_via_api(vw, household)
    assert case["status"] == "in_progress" and case["current_step"] == "acceptance"
    assert case["rule_set"] == "2021" and case["intake_level"] == "village"
    assert [s["code"] for s in case["steps"]][:3] == ["acceptance", "investigation", "verification"]
    assert case["steps"][0]["status"] == "pending" and case["due_date"] is not None
    assert case["determination"] is None and case["decision"] is None
    # And it is on the township's task list
    tasks = ok(api("township_reviewer").get("/api/cases/tasks"))
    assert [(t["application_id"], t["step_code"]) for t in tasks["items"]] == [(case["id"], "acceptance")]
    assert ok(api("county_verifier").get("/api/cases/tasks"))["items"] == []
    # When every step is done through the API and the county approves
    case = to_county_approval_via_api(api, clock, case)
    assert case["current_step"] == "county_approval"
    case = approve_via_api(api, clock, case)
    # Then the case is approved, with the determination explained and the decision
    assert case["status"] == "approved" and case["current_step"] == "notice"
    decision = case["decision"]
    assert decision["outcome"] == "approved" and decision["effective_month"] == "2021-10"
    assert decision["decided_on"] == "2021-09-12"
    det = case["determination"]
    assert det["eligible"] is True and det["rules_available"] is True
    assert det["monthly_amount"] == decision["amount"] == f"{Decision.objects.get().amount:.2f}"
    assert det["failed_tests"] == []
    assert det["trace"] and all({"name", "label", "value", "reference"} <= set(row) for row in det["trace"])
    assert any(row["label"] for row in det["trace"])
    assert det["parameters_used"] and all(p["path"] for p in det["parameters_used"])
    steps = {s["code"]: s for s in case["steps"]}
    assert steps["democratic_review"]["status"] == "skipped"
    assert steps["verification"]["record"] == {"result": "pass"}
    assert steps["county_approval"]["actor_name"] == "ca" and steps["county_approval"]["comment"] == "同意"
    assert case["publicities"][0]["stage"] == "initial" and case["home_visits"][0]["investigators"] == [
        "张调查",
        "李调查",
    ]
    recipient = Recipient.objects.get(household=household, program="dibao")
    # And the notice closes the case
    case = act(ca, case, "notice", payload={"delivered_on": "2021-09-13"})
    assert case["current_step"] == ""
    # And the recipient is visible through the API with its history and scheduled recheck
    listed = ok(ca.get("/api/recipients?program=dibao"))
    assert [r["id"] for r in listed["items"]] == [recipient.pk]
    assert listed["items"][0]["start_month"] == "2021-10" and listed["items"][0]["status"] == "active"
    rec = ok(ca.get(f"/api/recipients/{recipient.pk}"))
    assert [h["to_status"] for h in rec["history"]] == ["active"]
    assert [r["status"] for r in rec["rechecks"]] == ["scheduled"]
    assert AuditLog.objects.filter(subject_type="application", subject_id=str(case["id"])).count() >= 8


def test_the_case_list_filters_and_pages(api, clock, tree, actors):
    households = [make_household(actors.ad, tree.village, members=1) for _ in range(3)]
    vw = api("village_worker")
    ids = [intake_via_api(vw, h)["id"] for h in households]
    first = ok(vw.get("/api/cases?page_size=2&program=dibao"))
    assert [c["id"] for c in first["items"]] == [ids[2], ids[1]]
    second = ok(vw.get(f"/api/cases?page_size=2&after={first['next_after']}"))
    assert [c["id"] for c in second["items"]] == [ids[0]] and second["next_after"] is None
    assert ok(vw.get("/api/cases?status=approved"))["items"] == []
    assert [c["id"] for c in ok(vw.get(f"/api/cases?household={households[1].pk}"))["items"]] == [ids[1]]


def test_a_bearer_token_works_like_the_session(api, clock, household, users):
    _, token = token_services.api_token_create(scope=scope_for(users.township_reviewer), name="脚本")
    case = intake_via_api(api("village_worker"), household)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    done = act(client, case, "acceptance")
    assert done["steps"][0]["status"] == "done" and done["steps"][0]["actor_name"] == "tr"


# --- refusals ------------------------------------------------------------------------------------------------------


def test_a_step_done_twice_or_with_a_stale_version_is_409(api, clock, household):
    tr = api("township_reviewer")
    case = intake_via_api(api("village_worker"), household)
    done = act(tr, case, "acceptance")
    again = post(tr, f"/api/cases/{case['id']}/steps/acceptance/complete", {"version": done["version"]})
    assert again.status_code == 409 and again.json()["code"] == "step_already_done"
    stale = post(tr, f"/api/cases/{case['id']}/steps/investigation/complete", {"version": case["version"]})
    assert stale.status_code == 409
    assert stale.json() == {
        "code": "stale_edit",
        "message": stale.json()["message"],
        "field": "version",
    }
    out_of_order = post(tr, f"/api/cases/{case['id']}/steps/publicity/complete", {"version": done["version"]})
    assert out_of_order.status_code == 409 and out_of_order.json()["code"] == "step_out_of_order"
    assert Application.objects.get(pk=case["id"]).current_step == "investigation"


def test_the_wrong_role_gets_403_and_supervisors_read_no_case(api, clock, household):
    case = intake_via_api(api("village_worker"), household)
    wrong = post(
        api("village_worker"), f"/api/cases/{case['id']}/steps/acceptance/complete", {"version": case["version"]}
    )
    assert wrong.status_code == 403 and wrong.json()["code"] == "forbidden"
    sv = api("supervisor")
    for url in ("/api/cases", f"/api/cases/{case['id']}", "/api/cases/tasks", "/api/recipients", "/api/rechecks"):
        assert sv.get(url).status_code == 403, url
    assert post(sv, "/api/spot-checks", {"program": "dibao"}).status_code == 403
    assert post(api("township_reviewer"), "/api/spot-checks", {"program": "dibao"}).status_code == 403


def test_a_case_outside_the_region_is_404(api, clock, household):
    case = intake_via_api(api("village_worker"), household)
    out = api("outsider")
    response = out.get(f"/api/cases/{case['id']}")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert post(out, f"/api/cases/{case['id']}/steps/acceptance/complete", {"version": 1}).status_code == 404
    assert ok(out.get("/api/cases"))["items"] == []
    assert out.get("/api/cases/999999").status_code == 404


def test_bad_input_is_422_naming_the_field(api, clock, household, tree, actors):
    tr, ca = api("township_reviewer"), api("county_approver")
    case = intake_via_api(api("village_worker"), household)
    # a refusal without written reasons
    missing = post(tr, f"/api/cases/{case['id']}/refuse", {"version": case["version"], "step_code": "acceptance"})
    assert missing.status_code == 422 and missing.json()["field"] == "reasons"
    case = act(tr, case, "acceptance")
    # a home visit with one investigator, and a malformed date
    visit = {"version": case["version"], "level": "township", "visited_on": D0.isoformat(), "findings": "x"}
    one = post(tr, f"/api/cases/{case['id']}/visits", {**visit, "investigators": ["张"]})
    assert one.status_code == 422 and one.json()["field"] == "investigators"
    bad_date = post(
        tr, f"/api/cases/{case['id']}/visits", {**visit, "investigators": ["张", "李"], "visited_on": "9/1"}
    )
    assert bad_date.status_code == 422 and bad_date.json()["field"] == "visited_on"
    # act-first help with a negative amount, or money as a JSON number
    other = make_household(actors.ad, tree.village2, members=1)
    act_first = {"household_id": other.pk, "applicant_id": other.head_id, "reason": "火灾", "amount": "-100.00"}
    negative = post(ca, "/api/cases/act-first", act_first)
    assert negative.status_code == 422 and negative.json()["field"] == "amount"
    number = post(ca, "/api/cases/act-first", {**act_first, "amount": 100.5})
    assert number.status_code == 422 and number.json()["field"] == "amount"
    # an unknown program on intake
    unknown = post(
        api("village_worker"),
        "/api/cases",
        {"program": "castle", "household_id": other.pk, "applicant_id": other.head_id, "received_on": "2021-09-01"},
    )
    assert unknown.status_code == 422 and unknown.json()["field"] == "program"


def test_a_refusal_with_reasons_decides_the_case(api, clock, household):
    case = intake_via_api(api("village_worker"), household)
    case = to_county_approval_via_api(api, clock, case)
    ca = api("county_approver")
    ok(post(ca, "/api/spot-checks", {"program": "dibao"}), 201)
    case = detail(ca, case["id"])
    blank = post(
        ca,
        f"/api/cases/{case['id']}/refuse",
        {"version": case["version"], "step_code": "county_approval", "reasons": ["  "]},
    )
    assert blank.status_code == 422 and blank.json()["code"] == "reasons_required"
    refused = ok(
        post(
            ca,
            f"/api/cases/{case['id']}/refuse",
            {"version": case["version"], "step_code": "county_approval", "reasons": ["家庭人均收入高于当地低保标准"]},
        )
    )
    assert refused["status"] == "refused" and refused["current_step"] == "notice"
    assert refused["decision"]["reasons"] == ["家庭人均收入高于当地低保标准"]
    assert refused["decision"]["amount"] == "0.00" and refused["determination"]["trace"]


def test_act_first_help_opens_a_case_paid_now(api, clock, household):
    clock.today = dt.date(2026, 3, 2)
    created = ok(
        post(
            api("township_reviewer"),
            "/api/cases/act-first",
            {"household_id": household.pk, "applicant_id": household.head_id, "amount": "800.00", "reason": "火灾"},
        ),
        201,
    )
    assert created["kind"] == "act_first" and created["program"] == "temporary_assistance"
    assert created["steps"][0]["status"] == "done" and created["steps"][0]["record"]["amount"] == "800.00"
    assert created["decision"]["amount"] == "800.00" and created["decision"]["act_first"] is True


def test_objections_are_recorded_and_resolved(api, clock, household):
    tr = api("township_reviewer")
    case = intake_via_api(api("village_worker"), household)
    case = act(tr, case, "acceptance")
    clock.today = D0 + dt.timedelta(days=1)
    post(
        tr,
        f"/api/cases/{case['id']}/visits",
        {
            "version": case["version"],
            "level": "township",
            "visited_on": clock.today.isoformat(),
            "investigators": ["甲", "乙"],
            "findings": "属实",
        },
    )
    case = act(tr, detail(tr, case["id"]), "investigation")
    case = act(api("county_verifier"), case, "verification", payload={"result": "pass"})
    case = act(tr, case, "democratic_review", "skip", reason="无异议")
    case = act(tr, case, "township_opinion")
    publicity = ok(
        post(
            tr,
            f"/api/cases/{case['id']}/publicity",
            {"version": case["version"], "start_date": clock.today.isoformat(), "place": "公开栏"},
        ),
        201,
    )
    objection = ok(
        post(
            tr,
            f"/api/cases/{case['id']}/objections",
            {
                "version": publicity["case_version"],
                "publicity_id": publicity["id"],
                "received_on": clock.today.isoformat(),
                "content": "有车辆",
                "real_name": True,
            },
        ),
        201,
    )
    assert objection["status"] == "open"
    clock.today = D0 + dt.timedelta(days=9)
    blocked = post(tr, f"/api/cases/{case['id']}/steps/publicity/complete", {"version": objection["case_version"]})
    assert blocked.status_code == 422 and blocked.json()["code"] == "objection_open"
    resolved = ok(
        post(
            tr,
            f"/api/cases/{case['id']}/objections/{objection['id']}/resolve",
            {"version": objection["case_version"], "upheld": False, "resolution": "车辆已报废"},
        )
    )
    assert resolved["status"] == "dismissed"
    again = post(
        tr,
        f"/api/cases/{case['id']}/objections/{objection['id']}/resolve",
        {"version": resolved["case_version"], "upheld": False, "resolution": "再次"},
    )
    assert again.status_code == 409
    page = detail(tr, case["id"])
    assert page["disputed"] is True and "有异议或举报" in page["county_visit_required"]
    assert page["publicities"][0]["objections"][0]["resolution"] == "车辆已报废"


# --- recipients, rechecks, changes, deaths ------------------------------------------------------------------------


def test_recipient_status_changes_and_rechecks_through_the_api(api, clock, household):
    case = dibao_case_approved_via_api(api, clock, household)
    ca, tr = api("county_approver"), api("township_reviewer")
    recipient = Recipient.objects.get(application_id=case["id"])
    clock.today = dt.date(2021, 11, 3)
    body = {"version": recipient.version, "to_status": "suspended", "reason": "外出务工待核实"}
    malformed = post(ca, f"/api/recipients/{recipient.pk}/status", {**body, "effective_month": "2021-1"})
    assert malformed.status_code == 422 and malformed.json()["field"] == "effective_month"
    assert post(tr, f"/api/recipients/{recipient.pk}/status", {**body, "effective_month": "2021-12"}).status_code == 403
    changed = ok(post(ca, f"/api/recipients/{recipient.pk}/status", {**body, "effective_month": "2021-12"}))
    assert changed["status"] == "suspended" and [h["to_status"] for h in changed["history"]] == ["active", "suspended"]
    stale = post(ca, f"/api/recipients/{recipient.pk}/status", {**body, "effective_month": "2021-12"})
    assert stale.status_code == 409 and stale.json()["field"] == "version"
    assert [r["id"] for r in ok(ca.get("/api/recipients?status=suspended"))["items"]] == [recipient.pk]
    assert ok(ca.get("/api/recipients?status=active"))["items"] == []
    assert ca.get("/api/recipients?status=castle").json()["field"] == "status"
    assert api("outsider").get(f"/api/recipients/{recipient.pk}").status_code == 404
    # the scheduled recheck is listed and opened as a recheck case
    recheck = ok(ca.get("/api/rechecks?within_days=366"))[0]
    assert recheck["recipient_id"] == recipient.pk and recheck["status"] == "scheduled"
    opened = ok(post(tr, f"/api/rechecks/{recheck['id']}/open", {}))
    assert opened["status"] == "open" and opened["application_id"]
    assert post(tr, f"/api/rechecks/{recheck['id']}/open", {}).status_code == 409
    assert detail(tr, opened["application_id"])["kind"] == "recheck"


def test_change_reports_and_deaths_through_the_api(api, clock, household):
    case = dibao_case_approved_via_api(api, clock, household)
    vw = api("village_worker")
    clock.today = dt.date(2021, 11, 3)
    report = ok(
        post(
            vw,
            "/api/change-reports",
            {"household_id": household.pk, "kind": "income", "reported_on": "2021-11-02", "details": {"note": "务工"}},
        ),
        201,
    )
    assert report["kind"] == "income" and report["details"] == {"note": "务工"}
    bad = post(vw, "/api/change-reports", {"household_id": household.pk, "kind": "castle", "reported_on": "2021-11-02"})
    assert bad.status_code == 422 and bad.json()["field"] == "kind"
    member = household.memberships.exclude(person_id=household.head_id).get().person
    stale = post(vw, f"/api/persons/{member.pk}/death", {"version": member.version + 5, "death_date": "2021-11-01"})
    assert stale.status_code == 409
    death = ok(post(vw, f"/api/persons/{member.pk}/death", {"version": member.version, "death_date": "2021-11-01"}))
    assert death["person_id"] == member.pk and death["rechecks"]
    assert death["rechecks"][0]["reason"] == "death"
    assert Recipient.objects.get(application_id=case["id"]).status == "active"


def test_the_task_list_and_overdue_lists(api, clock, household):
    case = intake_via_api(api("village_worker"), household)
    clock.today = D0 + dt.timedelta(days=60)
    tasks = ok(api("township_reviewer").get("/api/cases/tasks"))
    assert tasks["items"][0]["application_id"] == case["id"]
    overdue = ok(api("county_approver").get("/api/cases/overdue"))
    assert [c["id"] for c in overdue["cases"]] == [case["id"]]
    assert ok(api("village_worker").get("/api/cases/tasks"))["items"][0]["step_code"] == "acceptance"


def test_a_session_write_without_the_csrf_token_is_refused(users, clock, household, api):
    case = intake_via_api(api("village_worker"), household)
    client = Client(enforce_csrf_checks=True)
    client.force_login(users.township_reviewer)
    url = f"/api/cases/{case['id']}/steps/acceptance/complete"
    refused = post(client, url, {"version": case["version"]})
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    assert client.get(f"/api/cases/{case['id']}").status_code == 200  # reads need no token
    client.get("/")  # a page sets the csrftoken cookie, as a browser would have it
    token = client.cookies["csrftoken"].value
    done = client.post(url, {"version": case["version"]}, content_type=JSON, HTTP_X_CSRFTOKEN=token)
    assert done.status_code == 200, done.content.decode()


def test_a_step_may_be_entered_with_its_paper_date_but_not_in_the_future(api, clock, household):
    tr = api("township_reviewer")
    case = intake_via_api(api("village_worker"), household)
    received = Application.objects.get(pk=case["id"]).received_on
    future = post(
        tr,
        f"/api/cases/{case['id']}/steps/acceptance/complete",
        {"version": case["version"], "acted_on": (dt.date.today() + dt.timedelta(days=1)).isoformat()},
    )
    assert future.status_code == 422 and future.json()["field"] == "acted_on"
    done = post(
        tr,
        f"/api/cases/{case['id']}/steps/acceptance/complete",
        {"version": case["version"], "acted_on": str(received)},
    )
    assert done.status_code == 200
    step = Application.objects.get(pk=case["id"]).steps.get(code="acceptance")
    assert step.acted_on == received
