"""API: start a run, its status and progress, its hits (scoped), a hit's outcome; errors in the shared shape."""

from __future__ import annotations

from doudi.testing.fixtures import make_household, new_id
from doudi.verification.models import VerificationRun
from doudi.verification.tests.conftest import upload

JSON = "application/json"


def test_an_application_run_through_the_api(client_for, actors, case):
    upload(actors.cv, "vehicles", [f"{case.people[0].id_number},琼A1,car,100"])
    cv = client_for("county_verifier")
    response = cv.post(
        "/api/verification/runs", {"kind": "application", "application_id": case.app.pk}, content_type=JSON
    )
    assert response.status_code == 201, response.content
    run = response.json()
    assert run["status"] == "done" and run["progress"] == 100 and run["hits"] == 1
    assert run["hits_by_rule"]["vehicle"] == 1 and run["sources"][0]["kind"] == "vehicles"
    assert cv.get(f"/api/verification/runs/{run['id']}").json()["status"] == "done"
    hits = cv.get(f"/api/verification/runs/{run['id']}/hits").json()
    (hit,) = hits["items"]
    assert hit["rule"] == "vehicle" and hit["description"].startswith("家庭名下") and hits["next_after"] is None
    # the township records the outcome
    tr = client_for("township_reviewer")
    answer = tr.post(
        f"/api/verification/hits/{hit['id']}/outcome",
        {"version": hit["version"], "outcome": "confirmed", "reason": "属实"},
        content_type=JSON,
    )
    assert answer.status_code == 200 and answer.json()["outcome"] == "confirmed"
    stale = tr.post(
        f"/api/verification/hits/{hit['id']}/outcome",
        {"version": hit["version"], "outcome": "explained", "reason": "x"},
        content_type=JSON,
    )
    assert stale.status_code == 409 and stale.json()["code"] == "stale_edit"


def test_a_caseload_run_is_queued_and_refusals_share_the_error_shape(client_for, actors, tree):
    make_household(actors.ad, tree.village, members=1)
    upload(actors.cv, "deaths", [f"{new_id()},2024-01-01"])
    cv = client_for("county_verifier")
    response = cv.post(
        "/api/verification/runs", {"kind": "region", "region_code": tree.township.code}, content_type=JSON
    )
    assert response.status_code == 201 and response.json()["status"] == "queued"
    run_id = response.json()["id"]
    refused = client_for("county_approver").post("/api/verification/runs", {"kind": "caseload"}, content_type=JSON)
    assert refused.status_code == 403 and set(refused.json()) >= {"code", "message", "field"}
    assert client_for("outsider").get(f"/api/verification/runs/{run_id}").status_code == 404
    assert client_for("supervisor").get(f"/api/verification/runs/{run_id}/hits").status_code == 403
    bad = cv.post(
        "/api/verification/runs",
        {"kind": "region", "region_code": tree.township.code, "overrides": {"dibao.nothing": "1"}},
        content_type=JSON,
    )
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_parameter"
    assert VerificationRun.objects.count() == 1
