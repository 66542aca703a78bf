"""Pages: who may see and do what; the case page's verification section; uploads and downloads."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from django.utils import timezone

from doudi.testing.fixtures import make_household, new_id
from doudi.verification import services
from doudi.verification.models import Dispute, Hit, SourceBatch, VerificationRun
from doudi.verification.tests.conftest import csv_bytes, upload

ALL = ("village_worker", "township_reviewer", "county_approver", "county_verifier", "supervisor", "admin")


@pytest.mark.parametrize("role", ALL)
def test_the_index_renders_for_every_role_and_offers_runs_to_the_verification_centre(client_for, role, tree):
    response = client_for(role).get(reverse("verification:index"))
    assert response.status_code == 200
    page = response.content.decode()
    assert ('id="run-create-form"' in page) == (role in ("county_verifier", "admin"))


@pytest.mark.parametrize(
    ("role", "status", "upload_form"),
    [
        ("county_verifier", 200, True),
        ("admin", 200, True),
        ("county_approver", 200, False),
        ("township_reviewer", 403, False),
        ("village_worker", 403, False),
        ("supervisor", 403, False),
    ],
)
def test_the_sources_page_is_for_the_county(client_for, role, status, upload_form, tree):
    response = client_for(role).get(reverse("verification:source_list"))
    assert response.status_code == status
    assert ('id="source-upload-form"' in response.content.decode()) == upload_form


def _post_source(client, name, data, kind="vehicles"):
    return client.post(
        reverse("verification:source_list"),
        {
            "kind": kind,
            "department": "省公安厅交警总队",
            "period_start": "2024-01-01",
            "period_end": "2024-03-31",
            "received_on": "2024-04-02",
            "file": _named(name, data),
        },
    )


def _named(name, data):
    f = io.BytesIO(data)
    f.name = name
    return f


def test_uploading_a_source_and_downloading_its_rejects(client_for, tree):
    client = client_for("county_verifier")
    data = csv_bytes("id_number,plate,vehicle_type,value", [f"{new_id()},琼A1,car,100", "123,琼A2,car,100"])
    response = _post_source(client, "车辆.csv", data)
    batch = SourceBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("verification:source_detail", args=[batch.pk])
    page = client.get(response["Location"]).content.decode()
    assert "车辆.csv" in page and batch.sha256 in page and 'id="rejects-download"' in page
    download = client.get(reverse("verification:source_rejects", args=[batch.pk]))
    assert download.status_code == 200 and download["Cache-Control"] == "no-store"
    assert "身份证号无效" in download.content.decode("utf-8-sig")
    # the approver reads but cannot upload; the other county cannot read
    assert _post_source(client_for("county_approver"), "v.csv", data).status_code == 403
    assert client_for("outsider").get(reverse("verification:source_detail", args=[batch.pk])).status_code == 404


def test_a_refused_file_is_shown_on_the_form_naming_file_and_column(client_for, tree):
    data = csv_bytes("id_number,plate,value", [f"{new_id()},琼A1,100"])
    response = _post_source(client_for("county_verifier"), "veh.csv", data)
    assert response.status_code == 422
    page = response.content.decode()
    assert "veh.csv" in page and "vehicle_type" in page
    assert not SourceBatch.objects.exists()


def test_a_caseload_run_is_queued_from_the_page_and_shows_its_progress(client_for, actors, tree):
    make_household(actors.ad, tree.village, members=1)
    upload(actors.cv, "deaths", [f"{new_id()},2024-01-01"])
    client = client_for("county_verifier")
    response = client.post(reverse("verification:run_create"), {"kind": "region", "region_code": tree.township.code})
    run = VerificationRun.objects.get()
    assert response.status_code == 302 and run.status == "queued"
    page = client.get(response["Location"]).content.decode()
    assert 'hx-get="' + reverse("verification:run_progress", args=[run.pk]) in page
    partial = client.get(reverse("verification:run_progress", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and 'data-status="queued"' in partial.content.decode()
    # refused for the approver; a bad parameter override is shown on the form
    assert client_for("county_approver").post(reverse("verification:run_create"), {"kind": "yearly"}).status_code == 403
    bad = client.post(
        reverse("verification:run_create"),
        {"kind": "caseload", "region_code": tree.township.code, "overrides": "nonsense"},
    )
    assert bad.status_code == 422 and "参数路径=取值" in bad.content.decode()


def test_the_case_page_shows_the_verification_section_and_drives_the_step(client_for, actors, case):
    head = case.people[0]
    upload(actors.cv, "vehicles", [f"{head.id_number},琼A12345,car,80000.00"])
    case_url = reverse("cases:application_detail", args=[case.app.pk])
    cv = client_for("county_verifier")
    assert 'id="verification-run-form"' in cv.get(case_url).content.decode()
    # the township reviewer sees the section but cannot run the county's verification
    tr = client_for("township_reviewer")
    assert 'id="verification-run-form"' not in tr.get(case_url).content.decode()
    assert tr.post(reverse("verification:application_run", args=[case.app.pk])).status_code == 403
    # the verification centre runs it inline
    response = cv.post(reverse("verification:application_run", args=[case.app.pk]))
    assert response.status_code == 302 and response["Location"].startswith(case_url)
    hit = Hit.objects.get()
    page = cv.get(case_url).content.decode()
    assert f'id="verification-hit-{hit.pk}"' in page and "超过允许的 0 辆" in page and "dibao.assets" not in page
    assert "允许的机动车辆数" in page  # the parameter behind the threshold, with its reference
    # the applicant is told, disputes with a photo, the township explains it
    today = timezone.localdate().isoformat()
    notice = tr.post(
        reverse("verification:notice_add", args=[hit.run_id, case.household.pk]),
        {"notified_on": today, "method": "written", "back": case.app.pk},
    )
    assert notice.status_code == 302
    photo = _named("车辆照片.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    dispute = tr.post(
        reverse("verification:dispute_add", args=[hit.pk]),
        {"received_on": today, "statement": "车辆已报废", "evidence": [photo]},
    )
    assert dispute.status_code == 302
    evidence = Dispute.objects.get().evidence.get()
    file_response = cv.get(reverse("verification:evidence_file", args=[evidence.pk]))
    assert file_response.status_code == 200 and file_response["X-Content-Type-Options"] == "nosniff"
    assert client_for("outsider").get(reverse("verification:evidence_file", args=[evidence.pk])).status_code == 404
    bad = tr.post(reverse("verification:outcome_set", args=[hit.pk]), {"version": 1, "outcome": "explained"})
    assert bad.status_code == 422 and "核实情况" in bad.content.decode()
    assert (
        tr.post(
            reverse("verification:outcome_set", args=[hit.pk]),
            {"version": 1, "outcome": "explained", "reason": "已报废注销"},
        ).status_code
        == 302
    )
    page = cv.get(case_url).content.decode()
    assert 'id="verification-complete-form"' in page
    case.app.refresh_from_db()
    done = cv.post(
        reverse("verification:step_complete", args=[case.app.pk]), {"version": case.app.version, "acted_on": today}
    )
    assert done.status_code == 302
    assert 'id="verification-step-result"' in cv.get(case_url).content.decode()


def test_supervisors_and_other_counties_are_refused_the_case_actions(client_for, actors, case):
    upload(actors.cv, "vehicles", [f"{case.people[0].id_number},琼A1,car,1"])
    run = services.run_start_inline(scope=actors.cv, application_id=case.app.pk)
    hit = Hit.objects.get(run=run)
    assert client_for("supervisor").get(reverse("verification:outcome_set", args=[hit.pk])).status_code == 403
    # the other county's approver may not record disputes at all: the role is refused before the region (403);
    # roles that may, but elsewhere, get 404 (test_action_pages)
    assert client_for("outsider").get(reverse("verification:dispute_add", args=[hit.pk])).status_code == 403
    assert client_for("outsider").get(reverse("verification:run_detail", args=[run.pk])).status_code == 404
    run_page = client_for("supervisor").get(reverse("verification:run_detail", args=[run.pk]))
    assert run_page.status_code == 200 and 'id="run-hits"' not in run_page.content.decode()
    assert (
        'id="run-hits"'
        in client_for("village_worker").get(reverse("verification:run_detail", args=[run.pk])).content.decode()
    )
