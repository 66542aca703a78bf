"""Issue 6, "done when": a person files a report on the public form (real-name, with a photo) and looks it up by
its tracking number; after the township accepts it, the lookup shows the new status — and never the reporter."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from doudi.complaints import attachments, services
from doudi.complaints.models import Complaint
from doudi.core.scope import scope_for

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
NAME, PHONE = "李举报", "13900001111"


def test_a_report_filed_on_the_public_form_is_looked_up_by_its_tracking_number(
    browser: Any, live_server: Any, tree: Any, users: Any, settings: Any
) -> None:
    settings.DOUDI_COMPLAINT_MIN_FILL_SECONDS = 1
    context = browser.new_context(base_url=live_server.url, locale="zh-CN")
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        # Given the public form of the village's county (no login)
        page.goto(f"/public/complaints/?region={tree.village.code}")
        expect(page.locator("#complaint-form")).to_be_visible()
        # When a person fills it in, real-name, with a photo
        page.select_option("#id_kind", "report")
        page.select_option("#id_program", "dibao")
        page.select_option("#id_region_code", tree.village.code)
        page.fill("#id_subject", "有车有房仍享受低保")
        page.fill("#id_description", "本村某户有一辆轿车和两套商品房，仍在享受低保。<script>alert(1)</script>")
        page.select_option("#id_anonymous", "0")
        page.fill("#id_reporter_name", NAME)
        page.fill("#id_reporter_phone", PHONE)
        page.fill("#id_reporter_address", "测试镇幸福路8号")
        page.set_input_files("#id_attachments", files=[{"name": "现场.png", "mimeType": "image/png", "buffer": PNG}])
        page.wait_for_timeout(1200)  # people take longer than the minimum fill time
        with page.expect_navigation():
            page.locator("#submit-complaint").click()
        # Then a tracking number is shown
        number = page.locator("#tracking-number").inner_text().strip()
        assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){4}", number), number
        expect(page.locator("#filed")).to_contain_text(tree.township.name)
        complaint = Complaint.objects.get()
        assert complaint.office == tree.township and not complaint.anonymous
        stored = complaint.attachments.get()
        assert attachments.path_of(stored.stored_name).read_bytes() == PNG

        # When the person looks it up (typed in lower case, with spaces)
        page.goto("/public/complaints/lookup/")
        page.fill("#id_number", number.lower().replace("-", " "))
        with page.expect_navigation():
            page.locator("#lookup-submit").click()
        expect(page.locator("#lookup-status")).to_have_attribute("data-status", "new")
        result = page.locator("#lookup-result").inner_text()
        assert NAME not in result and PHONE not in result and "script" not in result

        # And after the township accepts it, the lookup shows the new status
        services.complaint_accept(
            scope=scope_for(users.township_reviewer), complaint_id=complaint.pk, version=complaint.version
        )
        page.fill("#id_number", number)
        with page.expect_navigation():
            page.locator("#lookup-submit").click()
        expect(page.locator("#lookup-status")).to_have_attribute("data-status", "accepted")

        # A mistyped number is caught by its check character
        typo = number[:-1] + ("2" if number[-1] != "2" else "3")
        page.fill("#id_number", typo)
        with page.expect_navigation():
            page.locator("#lookup-submit").click()
        expect(page.locator(".field .error")).to_contain_text("校验位")
    finally:
        context.close()
