"""Public pages: navigation, scoping to the region, the cache (a change shows on the next view), headers, no cookies;
the staff page for contact details."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from doudi.cases import disclosure
from doudi.cases import services as case_services
from doudi.core.models import AuditLog
from doudi.core.scope import scope_for
from doudi.portal.models import CountyContact
from doudi.registry import services as registry_services
from doudi.registry.models import Person
from doudi.testing.fixtures import PASSWORD, make_household

from .conftest import make_publicity, make_recipient


@pytest.fixture
def full_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disclosure, "name_masking_for", lambda code, on: disclosure.NameMasking.FULL)


@pytest.fixture
def caseload(tree: Any, admin_scope: Any, users: Any, full_names: None) -> dict[str, Any]:
    this_month = timezone.localdate().replace(day=1)
    here = make_household(admin_scope, tree.village, head_name="王本村")
    other = make_household(admin_scope, tree.village2, head_name="李乙村")
    outside = make_household(admin_scope, tree.other_village, head_name="赵外县")
    return {
        "here": make_recipient(here, start_month=this_month),
        "other": make_recipient(other, start_month=this_month),
        "outside": make_recipient(outside, start_month=this_month),
        "pending": make_publicity(
            make_household(admin_scope, tree.village, head_name="孙公示"),
            users.admin,
            start=timezone.localdate() - dt.timedelta(days=1),
        ),
    }


def _get(client: Client, url: str, **headers: Any) -> Any:
    response = client.get(url, headers=headers)
    return response


@pytest.mark.parametrize(
    "url",
    [
        "/public/",
        "/public/460000000000/",
        "/public/469001000000/",
        "/public/469001100000/",
        "/public/469001100201/",
        "/public/469001000000/changes/",
        "/public/469001100000/changes/?month=2026-01",
        "/public/469001000000/publicity/",
        "/public/469001000000/guide/",
        "/public/469001000000/guide/dibao/",
        "/public/469001000000/guide/tekun/",
        "/public/469001000000/guide/temporary_assistance/",
    ],
)
def test_public_pages_render_without_login(caseload: dict[str, Any], url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 200
    assert "社会救助信息公开" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/public/469001999999/",  # no such region
        "/public/469001100201/changes/",  # monthly lists: county or township only
        "/public/469001100201/publicity/",
        "/public/469001100000/guide/",  # the guide is per county
        "/public/469001000000/guide/funeral/",
        "/public/469001000000/changes/?month=2026-13",
        "/public/469001000000/changes/?month=1999-01",
        "/public/469001000000/changes/?month=abc",
    ],
)
def test_unknown_or_misplaced_pages_are_404(tree: Any, url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 404
    assert response["Cache-Control"] == "no-store"


def test_a_village_page_shows_its_own_recipients_only(caseload: dict[str, Any], tree: Any) -> None:
    html = Client().get(f"/public/{tree.village.code}/").content.decode()
    assert "王本村" in html
    assert "李乙村" not in html and "赵外县" not in html


def test_the_county_lists_cover_the_county_only(caseload: dict[str, Any], tree: Any) -> None:
    html = Client().get(f"/public/{tree.county.code}/changes/").content.decode()
    assert "王本村" in html and "李乙村" in html
    assert "赵外县" not in html
    publicity = Client().get(f"/public/{tree.township.code}/publicity/").content.decode()
    assert "孙公示" in publicity and "待核定" in publicity


def test_the_guide_shows_the_standard_in_force_with_its_reference(tree: Any) -> None:
    html = Client().get(f"/public/{tree.county.code}/guide/dibao/").content.decode()
    # 五指山 follows the province: 690 / 640 from 2023-09-01 (operator defaults, labelled as such)
    assert "690.00 元" in html and "640.00 元" in html and "2023-09-01" in html
    assert "运营默认值" in html
    assert "书面申请书" in html and "初审公示" in html


def test_a_change_shows_on_the_next_view_despite_the_cache(
    caseload: dict[str, Any], tree: Any, users: Any, django_assert_max_num_queries: Any
) -> None:
    client = Client()
    url = f"/public/{tree.village.code}/"
    assert "王本村" in client.get(url).content.decode()
    # an unchanged caseload is served from the cache: the fingerprint query only
    with django_assert_max_num_queries(1):
        assert "王本村" in client.get(url).content.decode()
    # a write in another village leaves this village's page in the cache
    make_household(scope_for(users.admin), tree.village2)
    with django_assert_max_num_queries(1):
        assert "王本村" in client.get(url).content.decode()
    # when an officer marks the applicant confidential (an audited registry write)
    recipient = caseload["here"]
    person = Person.objects.get(pk=recipient.application.applicant_id)
    registry_services.person_update(
        scope=scope_for(users.county_approver), person_id=person.pk, version=person.version, data={"confidential": True}
    )
    # then the next view no longer names them
    assert "王本村" not in client.get(url).content.decode()


def test_a_termination_shows_on_the_next_view(caseload: dict[str, Any], tree: Any, users: Any) -> None:
    client = Client()
    url = f"/public/{tree.village2.code}/"
    assert "李乙村" in client.get(url).content.decode()
    recipient = caseload["other"]
    case_services.recipient_status_change(
        scope=scope_for(users.county_approver),
        recipient_id=recipient.pk,
        version=recipient.version,
        to_status="terminated",
        reason="家庭收入超过标准",
        effective_month=timezone.localdate().replace(day=1),
    )
    assert "李乙村" not in client.get(url).content.decode()


def test_public_responses_revalidate_send_no_referrer_and_set_no_cookie(caseload: dict[str, Any], tree: Any) -> None:
    client = Client()
    response = client.get(f"/public/{tree.village.code}/")
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "public, no-cache"
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert not response.cookies
    # a browser revalidating an unchanged page gets 304 without a body
    again = client.get(f"/public/{tree.village.code}/", headers={"If-None-Match": response["ETag"]})
    assert again.status_code == 304 and again.content == b""
    assert client.post(f"/public/{tree.village.code}/").status_code == 405


def test_a_logged_in_officer_sees_the_public_page_and_no_staff_data(
    caseload: dict[str, Any], tree: Any, users: Any
) -> None:
    client = Client()
    assert client.login(username="ca", password=PASSWORD)
    response = client.get(f"/public/{tree.village.code}/")
    html = response.content.decode()
    assert response.status_code == 200
    for staff_only in ("退出", "待办", "政策参数", "家庭户查询"):
        assert staff_only not in html
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies


def test_the_cached_page_is_per_language(caseload: dict[str, Any], tree: Any) -> None:
    client = Client()
    zh = client.get("/public/").content.decode()
    client.cookies["django_language"] = "en"
    en_response = client.get("/public/")
    assert en_response.status_code == 200
    assert "Cookie" in en_response["Vary"]
    assert zh != en_response.content.decode() or 'lang="en"' in en_response.content.decode()


# --- staff: contact details --------------------------------------------------------------------------------------

CONTACT = {"office": "五指山市民政局", "address": "五指山市政府大院", "phone": "0898-86620000", "hotline": "12345"}


def _post_contact(client: Client, county: str, version: str = "", **changes: str) -> Any:
    return client.post("/public/staff/contacts/", {"county_code": county, "version": version, **CONTACT, **changes})


def test_a_county_approver_publishes_the_contact_and_the_guide_shows_it_next_view(tree: Any, users: Any) -> None:
    public = Client()
    assert "12345" not in public.get(f"/public/{tree.county.code}/guide/").content.decode()
    staff = Client()
    assert staff.login(username="ca", password=PASSWORD)
    assert staff.get("/public/staff/contacts/").status_code == 200
    response = _post_contact(staff, tree.county.code)
    assert response.status_code == 302
    contact = CountyContact.objects.get(pk=tree.county.code)
    assert contact.version == 1
    assert AuditLog.objects.filter(subject_type="county_contact", subject_id=tree.county.code).count() == 1
    html = public.get(f"/public/{tree.county.code}/guide/").content.decode()
    assert "五指山市民政局" in html and "12345" in html
    # an edit carries the version the editor saw; a stale one is refused
    assert _post_contact(staff, tree.county.code, version="1", hotline="12349").status_code == 302
    assert _post_contact(staff, tree.county.code, version="1", hotline="12340").status_code == 409
    assert CountyContact.objects.get(pk=tree.county.code).hotline == "12349"


def test_contact_input_is_validated_with_the_field_named(tree: Any, users: Any) -> None:
    staff = Client()
    assert staff.login(username="ca", password=PASSWORD)
    response = _post_contact(staff, tree.county.code, phone="call <script>")
    assert response.status_code == 422
    assert "咨询电话" in response.content.decode()
    assert not CountyContact.objects.exists()


def test_contact_page_access(tree: Any, users: Any) -> None:
    assert Client().get("/public/staff/contacts/").status_code == 302  # to the login page
    worker = Client()
    assert worker.login(username="vw", password=PASSWORD)
    assert worker.get("/public/staff/contacts/").status_code == 403
    outsider = Client()
    assert outsider.login(username="out", password=PASSWORD)
    assert _post_contact(outsider, tree.county.code).status_code == 404
    admin = Client()
    assert admin.login(username="ad", password=PASSWORD)
    assert _post_contact(admin, tree.other_county.code).status_code == 302


def test_the_fingerprint_changes_with_every_audited_write(tree: Any, admin_scope: Any) -> None:
    before = disclosure.caseload_fingerprint()
    make_household(admin_scope, tree.village)
    assert disclosure.caseload_fingerprint() != before
    with CaptureQueriesContext(connection) as queries:
        disclosure.caseload_fingerprint()
    assert len(queries) == 1
