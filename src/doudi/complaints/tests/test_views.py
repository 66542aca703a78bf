"""Pages: the public form and lookup (abuse resistance: honeypot, fill-time token, rate limits, size limits, bad
attachments, markup escaped) and the staff pages (list, intake, detail and its forms, reply PDF, statistics)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from doudi.complaints import attachments, forms, public_views, services, tracking
from doudi.complaints.models import Complaint, Reporter
from doudi.complaints.tests.conftest import REPORTER, accept, file_public, version

NEW = "/public/complaints/"
LOOKUP = "/public/complaints/lookup/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 64
SCRIPT = "<script>alert('x')</script>"


def form_data(tree: Any, **extra: Any) -> dict[str, Any]:
    return {
        "county": tree.county.code,
        "kind": "report",
        "program": "dibao",
        "region_code": tree.village.code,
        "subject": "反映低保问题",
        "description": "某户不符合条件仍享受低保",
        "anonymous": "0",
        "reporter_name": REPORTER["name"],
        "reporter_phone": REPORTER["phone"],
        "reporter_address": REPORTER["address"],
        "website": "",
        "started": forms.form_token(time.time() - 60),
        **extra,
    }


def number_in(html: str) -> str:
    match = re.search(r'id="tracking-number">([0-9A-Z-]+)<', html)
    assert match, html[:2000]
    return match.group(1)


# --- public form ----------------------------------------------------------------------------------------------


def test_the_public_form_asks_for_the_county_then_lists_its_townships_and_villages(client, tree):
    page = client.get(NEW)
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert tree.county.name in page.content.decode() and 'name="subject"' not in page.content.decode()
    page = client.get(NEW, {"region": tree.village.code})
    html = page.content.decode()
    assert 'name="subject"' in html and tree.village.name in html and tree.other_village.name not in html
    assert f'value="{tree.village.code}" selected' in html
    assert 'name="website"' in html and 'aria-hidden="true"' in html  # the honeypot is hidden from people


def test_filing_on_the_public_form_shows_a_tracking_number_that_looks_it_up(client, tree):
    response = client.post(NEW, form_data(tree))
    assert response.status_code == 200, response.content.decode()[:3000]
    number = number_in(response.content.decode())
    complaint = Complaint.objects.get()
    assert tracking.normalise(number) == complaint.tracking_number
    assert complaint.channel == "portal" and not complaint.anonymous and complaint.office == tree.township
    found = client.post(LOOKUP, {"number": number.lower()})
    html = found.content.decode()
    assert found.status_code == 200 and 'data-status="new"' in html and tree.township.name in html
    for value in REPORTER.values():  # never the reporter, even to the holder of the number
        assert value not in html


def test_lookup_errors_tell_a_typo_from_an_unknown_number(client, tree):
    number = file_public(tree.village).tracking_number
    typo = number[:-1] + ("2" if number[-1] != "2" else "3")
    response = client.post(LOOKUP, {"number": typo})
    assert response.status_code == 422 and "校验位" in response.content.decode()
    unknown = tracking.generate()
    response = client.post(LOOKUP, {"number": unknown})
    assert response.status_code == 404 and "未找到" in response.content.decode()
    response = client.post(LOOKUP, {"number": SCRIPT})
    assert response.status_code == 422 and SCRIPT not in response.content.decode()
    assert client.get(LOOKUP, {"number": number}).status_code == 200  # GET never looks anything up
    assert "lookup-result" not in client.get(LOOKUP, {"number": number}).content.decode()


def test_a_filled_honeypot_is_refused_and_nothing_is_stored(client, tree):
    response = client.post(NEW, form_data(tree, website="http://spam.example"))
    assert response.status_code == 400 and "未通过校验" in response.content.decode()
    assert not Complaint.objects.exists()


@pytest.mark.parametrize(
    ("token", "status"),
    [("", 400), ("forged:token", 400), ("now", 400), ("old", 422)],
)
def test_the_form_token_must_be_ours_and_neither_too_fresh_nor_too_old(client, tree, settings, token, status):
    settings.DOUDI_COMPLAINT_MIN_FILL_SECONDS = 3
    value = {
        "now": forms.form_token(),
        "old": forms.form_token(time.time() - forms.TOKEN_MAX_AGE - 10),
    }.get(token, token)
    response = client.post(NEW, form_data(tree, started=value))
    assert response.status_code == status
    assert not Complaint.objects.exists()


def test_public_posts_are_rate_limited_per_client(client, tree):
    for _ in range(public_views.FILE_LIMITS[0].limit):
        assert client.post(NEW, form_data(tree)).status_code == 200
    response = client.post(NEW, form_data(tree))
    assert response.status_code == 429 and "过于频繁" in response.content.decode()
    assert Complaint.objects.count() == public_views.FILE_LIMITS[0].limit
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert other.post(NEW, form_data(tree)).status_code == 200  # another address has its own budget


def test_lookups_are_rate_limited(client, tree):
    for _ in range(public_views.LOOKUP_LIMITS[0].limit):
        assert client.post(LOOKUP, {"number": tracking.generate()}).status_code == 404
    response = client.post(LOOKUP, {"number": tracking.generate()})
    assert response.status_code == 429


def test_an_oversized_request_is_refused_before_it_is_read(client, tree, monkeypatch):
    monkeypatch.setattr(public_views, "MAX_REQUEST_BYTES", 2048)
    data = form_data(tree, description="长" * 1500)
    response = client.post(NEW, data)
    assert response.status_code == 413 and "过大" in response.content.decode()
    assert not Complaint.objects.exists()


def test_an_over_long_field_is_refused_by_the_form(client, tree):
    response = client.post(NEW, form_data(tree, subject="题" * 101))
    assert response.status_code == 422 and not Complaint.objects.exists()


def test_an_exe_renamed_jpg_is_refused_and_nothing_is_stored(client, tree):
    data = form_data(tree)
    data["attachments"] = [
        SimpleUploadedFile("ok.png", PNG, content_type="image/png"),
        SimpleUploadedFile("photo.jpg", EXE, content_type="image/jpeg"),
    ]
    response = client.post(NEW, data)
    assert response.status_code == 422 and "photo.jpg" in response.content.decode()
    assert not Complaint.objects.exists() and not Reporter.objects.exists()
    assert not attachments.attachment_dir().exists() or not any(attachments.attachment_dir().iterdir())


def test_script_in_fields_is_escaped_on_every_page(client, tree, users, actors):
    response = client.post(
        NEW, form_data(tree, subject=SCRIPT, description=f"{SCRIPT}\n第二行", reporter_name="<b>张</b>")
    )
    assert response.status_code == 200
    complaint = Complaint.objects.get()
    assert complaint.subject == SCRIPT  # stored as typed
    staff = Client()
    staff.force_login(users.township_reviewer)
    for url in (reverse("complaints:detail", args=[complaint.pk]), reverse("complaints:list")):
        html = staff.get(url).content.decode()
        assert SCRIPT not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
        assert "<b>张</b>" not in html
    accept(actors.tr, complaint)
    services.entry_add(
        scope=actors.tr, complaint_id=complaint.pk, version=version(complaint), text=SCRIPT, finding="partly"
    )
    services.complaint_answer(
        scope=actors.tr, complaint_id=complaint.pk, version=version(complaint), public_reply=SCRIPT, reply=SCRIPT
    )
    html = client.post(LOOKUP, {"number": complaint.tracking_number}).content.decode()
    assert SCRIPT not in html and "&lt;script&gt;" in html


# --- staff pages ----------------------------------------------------------------------------------------------


def login(users: Any, role: str) -> Client:
    client = Client()
    client.force_login(getattr(users, role))
    return client


def test_staff_page_access_by_role(tree, users):
    complaint = file_public(tree.village)
    detail = reverse("complaints:detail", args=[complaint.pk])
    tr, ca, sv, vw, out = (
        login(users, r) for r in ("township_reviewer", "county_approver", "supervisor", "village_worker", "outsider")
    )
    html = tr.get(detail).content.decode()
    assert REPORTER["name"] in html and REPORTER["phone"] in html  # the handling office
    html = ca.get(detail).content.decode()
    assert ca.get(detail).status_code == 200 and REPORTER["name"] not in html and REPORTER["phone"] not in html
    assert REPORTER["name"] not in tr.get(reverse("complaints:list")).content.decode()
    assert out.get(detail).status_code == 404
    assert sv.get(detail).status_code == 403 and sv.get(reverse("complaints:list")).status_code == 403
    assert vw.get(reverse("complaints:list")).status_code == 403
    stats = sv.get(reverse("complaints:statistics"))
    assert stats.status_code == 200 and "complaint-statistics" in stats.content.decode()
    assert complaint.subject not in stats.content.decode()
    assert vw.get(reverse("complaints:statistics")).status_code == 403


def test_hotline_intake_and_handling_through_the_pages(tree, users):
    ca = login(users, "county_approver")
    response = ca.post(
        reverse("complaints:new"),
        {
            "channel": "hotline",
            "kind": "complaint",
            "region_code": tree.village.code,
            "subject": "来电反映",
            "description": "低保金未按时发放",
            "anonymous": "0",
            "reporter_name": "来电人",
            "reporter_phone": "0898-1234567",
            "county_matter": "on",
        },
    )
    complaint = Complaint.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("complaints:detail", args=[complaint.pk])
    assert complaint.office == tree.county and complaint.created_by == users.county_approver
    detail = reverse("complaints:detail", args=[complaint.pk])
    assert tracking.display(complaint.tracking_number) in ca.get(detail).content.decode()
    assert ca.post(reverse("complaints:accept", args=[complaint.pk]), {"version": complaint.version}).status_code == 302
    stale = ca.post(reverse("complaints:entry_add", args=[complaint.pk]), {"version": 1, "text": "x"})
    assert stale.status_code == 409
    response = ca.post(
        reverse("complaints:entry_add", args=[complaint.pk]),
        {"version": version(complaint), "text": "已核实", "finding": "substantiated"},
    )
    assert response.status_code == 302
    missing = ca.post(
        reverse("complaints:answer", args=[complaint.pk]), {"version": version(complaint), "public_reply": "已处理"}
    )
    assert missing.status_code == 422 and "请填写书面答复" in missing.content.decode()
    response = ca.post(
        reverse("complaints:answer", args=[complaint.pk]),
        {"version": version(complaint), "public_reply": "已处理", "reply": "经核实已补发。"},
    )
    assert response.status_code == 302
    pdf = ca.get(reverse("complaints:reply_pdf", args=[complaint.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert (
        login(users, "township_reviewer").get(reverse("complaints:reply_pdf", args=[complaint.pk])).status_code == 404
    )
    assert ca.post(reverse("complaints:close", args=[complaint.pk]), {"version": version(complaint)}).status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == "closed"


def test_re_routing_through_the_page(tree, users):
    complaint = file_public(tree.village)
    ca = login(users, "county_approver")
    response = ca.post(
        reverse("complaints:reroute", args=[complaint.pk]),
        {"version": version(complaint), "to_office_code": tree.county.code, "reason": "县级督办"},
    )
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.office == tree.county
    assert login(users, "township_reviewer").get(reverse("complaints:detail", args=[complaint.pk])).status_code == 404


OPTION = re.compile(r"""<option[^>]*value=["'](\d{12})["']""")


def test_a_township_is_offered_only_to_send_the_complaint_up_to_its_county(tree, users, township2):
    """Matrix finding 1: the township's page lists no office (no other township, no county code) — a single
    "上报县级" button; the county approver's page offers its own county's townships."""
    complaint = file_public(tree.village)
    detail = reverse("complaints:detail", args=[complaint.pk])
    reroute = reverse("complaints:reroute", args=[complaint.pk])
    tr, ca = login(users, "township_reviewer"), login(users, "county_approver")
    html = tr.get(detail).content.decode()
    assert "上报县级处理" in html and 'name="to_office_code"' not in html
    assert township2.name not in html and not OPTION.findall(html)
    # A re-rendered form (422: reason missing) offers nothing more.
    response = tr.post(reroute, {"version": version(complaint), "reason": ""})
    html = response.content.decode()
    assert response.status_code == 422 and township2.name not in html and not OPTION.findall(html)
    county_html = ca.get(detail).content.decode()
    offered = set(OPTION.findall(county_html))
    assert offered == {tree.county.code}  # the complaint's own township handles it: only up to the county
    # The button sends the complaint to the county (a forged code for another township is not used).
    response = tr.post(
        reroute, {"version": version(complaint), "reason": "涉及其他乡镇", "to_office_code": township2.code}
    )
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.office == tree.county
    assert tr.get(detail).status_code == 404
    offered = set(OPTION.findall(ca.get(detail).content.decode()))
    assert offered == {tree.township.code}  # never a township the matter is not about
    response = ca.post(reroute, {"version": version(complaint), "reason": "改派二镇", "to_office_code": township2.code})
    assert response.status_code == 422
    response = ca.post(
        reroute, {"version": version(complaint), "reason": "退回乡镇", "to_office_code": tree.township.code}
    )
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.office == tree.township


@pytest.mark.parametrize("role", ["county_verifier", "village_worker"])
def test_complaint_action_pages_are_forbidden_to_roles_that_do_not_handle_complaints(tree, users, role):
    complaint = file_public(tree.village)
    outside = file_public(tree.other_village)
    client = login(users, role)
    for complaint_id in (complaint.pk, outside.pk, 999_999):
        assert client.get(reverse("complaints:detail", args=[complaint_id])).status_code == 403
        for name in ("accept", "reroute", "entry_add"):
            url = reverse(f"complaints:{name}", args=[complaint_id])
            assert client.post(url, {"version": 1, "reason": "x", "text": "x"}).status_code == 403
    complaint.refresh_from_db()
    assert complaint.status == "new" and complaint.office == tree.township


def test_attachments_download_for_the_handling_office_only(tree, users, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        complaint = file_public(tree.village, files=[SimpleUploadedFile("现场.png", PNG, content_type="image/png")])
    attachment = complaint.attachments.get()
    url = reverse("complaints:attachment", args=[complaint.pk, attachment.pk])
    response = login(users, "township_reviewer").get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PNG
    assert "attachment" in response["Content-Disposition"] and response["Content-Security-Policy"] == "sandbox"
    assert login(users, "county_approver").get(url).status_code == 404


def test_a_county_suspends_a_recipient_from_the_complaint_page(tree, users, actors, household):
    from doudi.complaints.tests.conftest import approved_recipient

    recipient = approved_recipient(actors, household)
    complaint = file_public(tree.village, county_matter=True)
    accept(actors.ca, complaint)
    ca = login(users, "county_approver")
    response = ca.post(
        reverse("complaints:entry_add", args=[complaint.pk]),
        {
            "version": version(complaint),
            "text": "经查属实，暂停救助待复查",
            "finding": "substantiated",
            "action": "suspend",
            "recipient_id": recipient.pk,
            "effective_month": "2022-02-01",
        },
    )
    assert response.status_code == 302
    recipient.refresh_from_db()
    assert recipient.status == "suspended"
    html = ca.get(reverse("complaints:detail", args=[complaint.pk])).content.decode()
    assert "暂停救助" in html and f"救助对象 {recipient.pk}" in html


def test_csrf_is_checked_after_the_size_check(tree, monkeypatch):
    browser = Client(enforce_csrf_checks=True)
    monkeypatch.setattr(public_views, "MAX_REQUEST_BYTES", 2048)
    assert browser.post(NEW, form_data(tree, description="长" * 1500)).status_code == 413
    assert browser.post(NEW, form_data(tree)).status_code == 403  # no CSRF token
    page = browser.get(NEW, {"county": tree.county.code}).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token
    response = browser.post(NEW, {**form_data(tree), "csrfmiddlewaretoken": token.group(1)})
    assert response.status_code == 200 and Complaint.objects.count() == 1
    assert browser.post(LOOKUP, {"number": "x" * 20000}).status_code == 413
