"""Complaint API: list scoped to the caller's offices, detail with the reporter only for the handling office,
adding a handling entry (201), stale version (409), wrong role (403), outside the region (404)."""

from __future__ import annotations

from typing import Any

from django.test import Client

from doudi.complaints.models import Entry
from doudi.complaints.tests.conftest import REPORTER, accept, file_public, version

JSON = "application/json"


def login(users: Any, role: str) -> Client:
    client = Client()
    client.force_login(getattr(users, role))
    return client


def test_list_and_detail_are_scoped_and_hide_the_reporter_from_other_offices(tree, users, actors):
    complaint = file_public(tree.village)
    file_public(tree.other_village, anonymous=True)
    tr, ca, out, sv = (login(users, r) for r in ("township_reviewer", "county_approver", "outsider", "supervisor"))
    page = tr.get("/api/complaints").json()
    assert [row["id"] for row in page["items"]] == [complaint.pk] and page["next_after"] is None
    assert "reporter" not in page["items"][0]
    detail = tr.get(f"/api/complaints/{complaint.pk}").json()
    assert detail["reporter"] == REPORTER and detail["handling_office"] is True and detail["tracking_number"]
    county_view = ca.get(f"/api/complaints/{complaint.pk}").json()
    assert county_view["reporter"] is None and county_view["tracking_number"] is None
    assert REPORTER["name"] not in str(county_view)
    assert out.get(f"/api/complaints/{complaint.pk}").status_code == 404
    assert sv.get("/api/complaints").status_code == 403
    assert Client().get("/api/complaints").status_code == 401


def test_keyset_paging(tree, users):
    ids = [file_public(tree.village, anonymous=True).pk for _ in range(3)]
    tr = login(users, "township_reviewer")
    first = tr.get("/api/complaints", {"page_size": 2}).json()
    assert [r["id"] for r in first["items"]] == ids[:2] and first["next_after"] == ids[1]
    second = tr.get("/api/complaints", {"page_size": 2, "after": first["next_after"]}).json()
    assert [r["id"] for r in second["items"]] == ids[2:] and second["next_after"] is None


def test_adding_a_handling_entry(tree, users, actors):
    complaint = file_public(tree.village)
    accept(actors.tr, complaint)
    tr = login(users, "township_reviewer")
    url = f"/api/complaints/{complaint.pk}/entries"
    response = tr.post(url, {"version": version(complaint), "text": "入户核实", "finding": "partly"}, content_type=JSON)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "investigating" and body["finding"] == "partly"
    assert body["entries"][-1]["kind"] == "finding"
    stale = tr.post(url, {"version": 1, "text": "x"}, content_type=JSON)
    assert stale.status_code == 409 and stale.json()["code"] == "stale_edit"
    bad = tr.post(url, {"version": version(complaint), "text": "x", "finding": "maybe"}, content_type=JSON)
    assert bad.status_code == 422 and bad.json()["field"] == "finding"
    county = login(users, "county_approver").post(url, {"version": version(complaint), "text": "x"}, content_type=JSON)
    assert county.status_code == 403
    assert Entry.objects.filter(complaint=complaint).count() == 3  # intake, accept, finding


def test_a_role_that_may_not_handle_complaints_gets_403_before_the_lookup(tree, users, actors):
    """Matrix finding 2: the county verifier and the village worker get 403 on every complaint route, whatever
    the id (in the region, outside it, not existing); a handling role outside the region gets 404."""
    inside = file_public(tree.village)
    accept(actors.tr, inside)
    outside = file_public(tree.other_village)
    for role in ("county_verifier", "village_worker"):
        client = login(users, role)
        assert client.get("/api/complaints").status_code == 403
        for complaint_id in (inside.pk, outside.pk, 999_999):
            assert client.get(f"/api/complaints/{complaint_id}").status_code == 403
            response = client.post(
                f"/api/complaints/{complaint_id}/entries",
                {"version": version(inside), "text": "x", "finding": "partly"},
                content_type=JSON,
            )
            assert response.status_code == 403, (role, complaint_id, response.content)
            assert response.json()["code"] == "forbidden"
    out = login(users, "outsider").post(
        f"/api/complaints/{inside.pk}/entries", {"version": version(inside), "text": "x"}, content_type=JSON
    )
    assert out.status_code == 404
    assert Entry.objects.filter(complaint=inside).count() == 2  # intake, accept: nothing was added
