"""Complaint services and selectors: intake (public and staff), routing, deadlines from the parameters, the
reporter's identity per role, the handling record with a case action, re-routing, the lifecycle, statistics,
reminders, audit and atomicity."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from doudi.cases.choices import RecipientStatus
from doudi.cases.models import ChangeReport, Recheck, RecipientStatusChange
from doudi.complaints import attachments, documents, selectors, services
from doudi.complaints.choices import Status
from doudi.complaints.models import Attachment, Complaint, Entry, Reminder, Reporter
from doudi.complaints.tests.conftest import REPORTER, accept, approved_recipient, file_public, version
from doudi.core.errors import ApplicationError, NotFound, PermissionDenied, StaleEdit
from doudi.core.models import AuditLog
from doudi.core.scope import Scope, system_scope

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 64


def upload(name: str, content: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


# --- intake and routing -------------------------------------------------------------------------------------------


def test_a_public_report_goes_to_the_township_of_the_village(tree, actors):
    complaint = file_public(tree.village)
    assert complaint.office == tree.township and complaint.office_path == tree.township.path
    assert complaint.status == Status.NEW and complaint.channel == "portal" and complaint.created_by is None
    assert Reporter.objects.get(complaint=complaint).name == REPORTER["name"]
    assert Entry.objects.get(complaint=complaint).kind == "intake"


def test_a_matter_about_township_staff_goes_to_the_county(tree, actors):
    complaint = file_public(tree.village, county_matter=True)
    assert complaint.office == tree.county


def test_a_complaint_about_a_township_itself_goes_to_that_township(tree, actors):
    assert file_public(tree.township, anonymous=True).office == tree.township


def test_anonymous_complaints_keep_no_identity(tree, actors):
    complaint = file_public(tree.village, anonymous=True)
    assert complaint.anonymous and not Reporter.objects.filter(complaint=complaint).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"region_code": "469001000000"}, "region_code"),  # a county is not a village or township
        ({"region_code": "999999999999"}, "region_code"),
        ({"subject": "  "}, "subject"),
        ({"description": "x" * 5001}, "description"),
        ({"kind": "praise"}, "kind"),
        ({"program": "lottery"}, "program"),
        ({"reporter": {"name": "张三"}}, "reporter_phone"),  # real-name needs a way to answer
        ({"reporter": {"name": "张三", "phone": "call me maybe"}}, "reporter_phone"),
        ({"reporter": {"name": "", "phone": "13812345678"}}, "reporter_name"),
    ],
)
def test_bad_intake_names_the_field_and_stores_nothing(tree, actors, change, field):
    with pytest.raises(ApplicationError) as exc:
        file_public(tree.village, **change)
    assert exc.value.field == field
    assert not Complaint.objects.exists() and not AuditLog.objects.filter(subject_type="complaint").exists()


def test_staff_take_hotline_calls_in_their_region_only(tree, actors):
    complaint = services.complaint_create(
        scope=actors.ca,
        kind="complaint",
        channel="hotline",
        region_code=tree.village2.code,
        subject="低保金发放延迟",
        description="来电反映本月低保金未到账。",
        received_on=timezone.localdate() - dt.timedelta(days=3),
    )
    assert complaint.channel == "hotline" and complaint.created_by_id == actors.ca.user_id
    assert complaint.received_on == timezone.localdate() - dt.timedelta(days=3)
    with pytest.raises(NotFound):
        services.complaint_create(
            scope=actors.out,
            kind="complaint",
            channel="hotline",
            region_code=tree.village.code,
            subject="x",
            description="y",
        )
    for scope in (actors.vw, actors.cv, actors.sv):
        with pytest.raises(PermissionDenied):
            services.complaint_create(
                scope=scope,
                kind="complaint",
                channel="hotline",
                region_code=tree.village.code,
                subject="x",
                description="y",
            )
    with pytest.raises(ApplicationError) as exc:
        services.complaint_create(
            scope=actors.ca,
            kind="complaint",
            channel="portal",
            region_code=tree.village.code,
            subject="x",
            description="y",
        )
    assert exc.value.field == "channel"


# --- deadlines ----------------------------------------------------------------------------------------------------


def test_deadlines_come_from_the_dated_parameters_with_their_reference(tree, actors):
    complaint = file_public(tree.village)
    today = timezone.localdate()
    assert complaint.received_on == today
    assert complaint.acceptance_due == today + dt.timedelta(days=15)
    assert complaint.handling_due == today + dt.timedelta(days=60)
    basis = complaint.deadline_basis
    assert basis["handling"]["path"] == "complaints.handling_days" and basis["handling"]["confirmed"] is False
    assert "信访工作条例" in basis["handling"]["reference"]


def test_a_county_s_own_parameter_value_sets_its_deadlines(tree, actors):
    from doudi.policy import services as policy_services

    today = timezone.localdate()
    policy_services.parameter_value_add(
        scope=actors.ad,
        path="complaints.handling_days",
        region_code=tree.county.code,
        effective_from=today,
        value="30",
        reference="某县投诉举报办理规定（测试）",
    )
    assert file_public(tree.village).handling_due == today + dt.timedelta(days=30)
    assert file_public(tree.other_village).handling_due == today + dt.timedelta(days=60)


# --- identity -----------------------------------------------------------------------------------------------------


def test_only_the_handling_office_sees_the_reporter(tree, actors, users):
    complaint = file_public(tree.village)
    shown = selectors.complaint_get(scope=actors.tr, complaint_id=complaint.pk)
    assert selectors.reporter_for(scope=actors.tr, complaint=shown).name == REPORTER["name"]
    # The county sees its township's complaint, but not who filed it; neither does the administrator.
    for scope in (actors.ca, actors.ad):
        seen = selectors.complaint_get(scope=scope, complaint_id=complaint.pk)
        assert selectors.reporter_for(scope=scope, complaint=seen) is None
        assert selectors.attachments_for(scope=scope, complaint=seen) == []
    # A township reviewer's region with another role is not the handling office either.
    other_role = Scope(
        user_id=actors.tr.user_id,
        username="x",
        role="village_worker",
        region_code=tree.township.code,
        region_path=tree.township.path,
    )
    assert not services.is_handling_office(other_role, shown)
    with pytest.raises(NotFound):
        selectors.complaint_get(scope=actors.out, complaint_id=complaint.pk)
    for scope in (actors.sv, actors.vw, actors.cv):
        with pytest.raises(PermissionDenied):
            selectors.complaint_get(scope=scope, complaint_id=complaint.pk)


def test_the_reporter_never_reaches_the_audit_log_or_the_logs(tree, actors, caplog):
    caplog.set_level(logging.DEBUG)
    complaint = file_public(tree.village)
    accept(actors.tr, complaint)
    text = json.dumps(list(AuditLog.objects.values("before", "after", "note")), ensure_ascii=False)
    for value in REPORTER.values():
        assert value not in text
        assert value not in caplog.text
    assert AuditLog.objects.filter(subject_type="complaint", subject_id=str(complaint.pk)).count() == 2


# --- lifecycle ----------------------------------------------------------------------------------------------------


def test_the_lifecycle_new_accepted_investigating_answered_closed(tree, actors):
    complaint = file_public(tree.village)
    with pytest.raises(ApplicationError) as exc:
        services.entry_add(scope=actors.tr, complaint_id=complaint.pk, version=version(complaint), text="先调查")
    assert exc.value.code == "invalid_status"
    accept(actors.tr, complaint)
    services.entry_add(scope=actors.tr, complaint_id=complaint.pk, version=version(complaint), text="入户核实")
    complaint.refresh_from_db()
    assert complaint.status == Status.INVESTIGATING
    with pytest.raises(ApplicationError) as exc:
        services.complaint_answer(
            scope=actors.tr, complaint_id=complaint.pk, version=version(complaint), public_reply="已核实"
        )
    assert exc.value.code == "finding_required"
    services.entry_add(
        scope=actors.tr,
        complaint_id=complaint.pk,
        version=version(complaint),
        text="情况不属实",
        finding="unsubstantiated",
    )
    with pytest.raises(ApplicationError) as exc:  # real-name: the written reply is required
        services.complaint_answer(
            scope=actors.tr,
            complaint_id=complaint.pk,
            version=version(complaint),
            public_reply="经核实，反映情况不属实。",
        )
    assert exc.value.field == "reply"
    services.complaint_answer(
        scope=actors.tr,
        complaint_id=complaint.pk,
        version=version(complaint),
        public_reply="经核实，反映情况不属实。",
        reply="经入户核实，该户房产登记在他人名下。",
    )
    services.complaint_close(scope=actors.tr, complaint_id=complaint.pk, version=version(complaint))
    complaint.refresh_from_db()
    assert complaint.status == Status.CLOSED and complaint.finding == "unsubstantiated"
    assert [e.kind for e in Entry.objects.filter(complaint=complaint)] == [
        "intake",
        "accept",
        "note",
        "finding",
        "answer",
        "close",
    ]
    public = selectors.complaint_lookup(number=complaint.tracking_number)
    assert public.public_reply == "经核实，反映情况不属实。" and public.status_code == "closed"


def test_not_accepting_needs_a_reason_that_the_person_can_read(tree, actors):
    complaint = file_public(tree.village, anonymous=True)
    with pytest.raises(ApplicationError) as exc:
        services.complaint_not_accept(scope=actors.tr, complaint_id=complaint.pk, version=version(complaint), reason="")
    assert exc.value.field == "reason"
    services.complaint_not_accept(
        scope=actors.tr,
        complaint_id=complaint.pk,
        version=version(complaint),
        reason="不属于社会救助事项，请向住建部门反映",
    )
    public = selectors.complaint_lookup(number=complaint.tracking_number)
    assert public.status_code == "not_accepted" and "住建部门" in public.not_accepted_reason


def test_only_the_handling_office_handles_and_a_stale_version_is_refused(tree, actors):
    complaint = file_public(tree.village)
    with pytest.raises(PermissionDenied):
        accept(actors.ca, complaint)  # the county oversees, the township handles
    with pytest.raises(PermissionDenied):
        accept(actors.sv, complaint)
    with pytest.raises(NotFound):
        accept(actors.out, complaint)
    stale = version(complaint)
    accept(actors.tr, complaint)
    with pytest.raises(StaleEdit):
        services.entry_add(scope=actors.tr, complaint_id=complaint.pk, version=stale, text="x")


def test_re_routing_moves_the_complaint_and_its_identity_to_the_county(tree, actors):
    complaint = file_public(tree.village)
    with pytest.raises(ApplicationError) as exc:
        services.complaint_reroute(
            scope=actors.tr,
            complaint_id=complaint.pk,
            version=version(complaint),
            to_office_code=tree.other_county.code,
            reason="x",
        )
    assert exc.value.field == "to_office_code"
    services.complaint_reroute(
        scope=actors.tr,
        complaint_id=complaint.pk,
        version=version(complaint),
        to_office_code=tree.county.code,
        reason="涉及乡镇工作人员",
    )
    complaint.refresh_from_db()
    assert complaint.office == tree.county and complaint.county_matter
    with pytest.raises(NotFound):  # out of the township's lists now
        selectors.complaint_get(scope=actors.tr, complaint_id=complaint.pk)
    seen = selectors.complaint_get(scope=actors.ca, complaint_id=complaint.pk)
    assert selectors.reporter_for(scope=actors.ca, complaint=seen).name == REPORTER["name"]
    entry = Entry.objects.get(complaint=complaint, kind="reroute")
    assert (entry.from_office, entry.to_office, entry.text) == (tree.township, tree.county, "涉及乡镇工作人员")


def test_a_township_may_only_send_a_complaint_up_to_its_county(tree, actors, township2):
    """Matrix finding 1: a township office is offered (and may use) its county only — never the county's other
    townships; the county approver then sends the complaint down to another township."""
    complaint = file_public(tree.village)
    assert selectors.reroute_targets(scope=actors.tr, complaint=complaint) == [tree.county]
    assert services.escalates_only(actors.tr, complaint)
    with pytest.raises(ApplicationError) as exc:  # the service enforces the rule, not only the form
        services.complaint_reroute(
            scope=actors.tr,
            complaint_id=complaint.pk,
            version=version(complaint),
            to_office_code=township2.code,
            reason="应由二镇办理",
        )
    assert (exc.value.code, exc.value.field) == ("invalid_office", "to_office_code")
    assert "上报县级" in exc.value.message
    complaint.refresh_from_db()
    assert complaint.office == tree.township and not Entry.objects.filter(complaint=complaint, kind="reroute")
    # The county approver and an administrator choose between the county and the township of the region concerned
    # (never the current office, never another township: it could neither act in that village nor see it).
    assert selectors.reroute_targets(scope=actors.ca, complaint=complaint) == [tree.county]
    assert selectors.reroute_targets(scope=actors.ad, complaint=complaint) == [tree.county]
    assert not services.escalates_only(actors.ca, complaint)
    # Anyone else is offered nothing (and cannot re-route: 403 / 404 before any target is considered).
    for scope in (actors.out, actors.cv, actors.vw, actors.sv):
        assert selectors.reroute_targets(scope=scope, complaint=complaint) == []
    services.complaint_reroute(
        scope=actors.tr,
        complaint_id=complaint.pk,
        version=version(complaint),
        to_office_code=tree.county.code,
        reason="涉及其他乡镇",
    )
    complaint.refresh_from_db()
    assert selectors.reroute_targets(scope=actors.ca, complaint=complaint) == [tree.township]
    with pytest.raises(ApplicationError) as exc:  # a township the matter is not about
        services.complaint_reroute(
            scope=actors.ca,
            complaint_id=complaint.pk,
            version=version(complaint),
            to_office_code=township2.code,
            reason="改派二镇",
        )
    assert (exc.value.code, exc.value.field) == ("invalid_office", "to_office_code")
    services.complaint_reroute(
        scope=actors.ca,
        complaint_id=complaint.pk,
        version=version(complaint),
        to_office_code=tree.township.code,
        reason="退回乡镇办理",
    )
    complaint.refresh_from_db()
    assert complaint.office == tree.township and not complaint.county_matter


def test_a_county_approver_cannot_re_route_to_another_county(tree, actors):
    complaint = file_public(tree.village, county_matter=True)
    for code in (tree.other_county.code, tree.other_township.code, tree.village.code, "469001999999"):
        with pytest.raises(ApplicationError) as exc:
            services.complaint_reroute(
                scope=actors.ca, complaint_id=complaint.pk, version=version(complaint), to_office_code=code, reason="x"
            )
        assert (exc.value.code, exc.value.field) == ("invalid_office", "to_office_code")
    with pytest.raises(ApplicationError) as exc:
        services.complaint_reroute(
            scope=actors.ca,
            complaint_id=complaint.pk,
            version=version(complaint),
            to_office_code=tree.county.code,
            reason="x",
        )
    assert exc.value.code == "same_office"


@pytest.mark.parametrize("role", ["cv", "vw"])
def test_roles_that_do_not_handle_complaints_get_forbidden_before_the_lookup(tree, actors, role):
    """Matrix finding 2: a role that may not handle complaints is refused (403) whatever the id — in its region,
    outside it, or not existing — while a handling role outside the region gets 404."""
    scope = getattr(actors, role)
    inside = file_public(tree.village)
    accept(actors.tr, inside)
    outside = file_public(tree.other_village)
    for complaint_id in (inside.pk, outside.pk, 999_999):
        with pytest.raises(PermissionDenied):
            services.entry_add(scope=scope, complaint_id=complaint_id, version=1, text="x")
        with pytest.raises(PermissionDenied):
            services.complaint_reroute(
                scope=scope, complaint_id=complaint_id, version=1, to_office_code=tree.county.code, reason="x"
            )
    with pytest.raises(NotFound):
        services.entry_add(scope=actors.out, complaint_id=inside.pk, version=version(inside), text="x")
    with pytest.raises(NotFound):
        services.entry_add(scope=actors.tr, complaint_id=999_999, version=1, text="x")


# --- case actions -------------------------------------------------------------------------------------------------


def test_a_substantiated_report_terminates_the_recipient_through_the_case_services(tree, actors, household):
    recipient = approved_recipient(actors, household)
    complaint = file_public(tree.village, county_matter=True)
    accept(actors.ca, complaint)
    services.complaint_link(
        scope=actors.ca, complaint_id=complaint.pk, version=version(complaint), recipient_id=recipient.pk
    )
    recipient.refresh_from_db()
    entry = services.entry_add(
        scope=actors.ca,
        complaint_id=complaint.pk,
        version=version(complaint),
        text="经查该户隐瞒经营收入",
        finding="substantiated",
        action="terminate",
        recipient_id=recipient.pk,
        recipient_version=recipient.version,
        effective_month=dt.date(2022, 3, 1),
    )
    recipient.refresh_from_db()
    assert recipient.status == RecipientStatus.TERMINATED
    change = RecipientStatusChange.objects.filter(recipient=recipient).order_by("-pk").first()
    assert change is not None and f"登记号{complaint.pk}" in change.reason
    assert entry.recipient == recipient and entry.action == "terminate" and entry.household_id == household.pk
    complaint.refresh_from_db()
    assert complaint.finding == "substantiated" and complaint.recipient == recipient


def test_a_township_opens_a_recheck_but_cannot_terminate(tree, actors, household):
    recipient = approved_recipient(actors, household)
    complaint = file_public(tree.village)
    accept(actors.tr, complaint)
    recipient.refresh_from_db()
    with pytest.raises(ApplicationError) as exc:
        services.entry_add(
            scope=actors.tr,
            complaint_id=complaint.pk,
            version=version(complaint),
            text="属实",
            finding="partly",
            action="terminate",
            recipient_id=recipient.pk,
            recipient_version=recipient.version,
            effective_month="2022-03-01",
        )
    assert (exc.value.field, exc.value.status) == ("action", 403)
    assert not Entry.objects.filter(complaint=complaint, action="terminate").exists()
    entry = services.entry_add(
        scope=actors.tr,
        complaint_id=complaint.pk,
        version=version(complaint),
        text="部分属实，启动复查",
        finding="partly",
        action="recheck",
        recipient_id=recipient.pk,
    )
    report = ChangeReport.objects.get(household=household)
    assert report.details["complaint_id"] == complaint.pk
    assert Recheck.objects.filter(recipient=recipient, status="open").exists()
    assert entry.recipient == recipient


def test_an_unsubstantiated_finding_cannot_act_on_a_recipient(tree, actors, household):
    recipient = approved_recipient(actors, household)
    complaint = file_public(tree.village)
    accept(actors.tr, complaint)
    with pytest.raises(ApplicationError) as exc:
        services.entry_add(
            scope=actors.tr,
            complaint_id=complaint.pk,
            version=version(complaint),
            text="不属实",
            finding="unsubstantiated",
            action="recheck",
            recipient_id=recipient.pk,
        )
    assert exc.value.field == "action"


# --- reply PDF ----------------------------------------------------------------------------------------------------


def test_the_written_reply_pdf_is_for_the_handling_office_only(tree, actors):
    complaint = file_public(tree.village, description="<b>粗体</b> & <script>alert(1)</script>")
    accept(actors.tr, complaint)
    services.entry_add(
        scope=actors.tr, complaint_id=complaint.pk, version=version(complaint), text="核实", finding="partly"
    )
    services.complaint_answer(
        scope=actors.tr,
        complaint_id=complaint.pk,
        version=version(complaint),
        public_reply="部分属实，已整改。",
        reply="经核实 <script>x</script> 部分属实。\n已整改。",
    )
    pdf = documents.reply_pdf(scope=actors.tr, complaint_id=complaint.pk)
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    with pytest.raises(PermissionDenied):
        documents.reply_pdf(scope=actors.ca, complaint_id=complaint.pk)
    anonymous = file_public(tree.village, anonymous=True)
    with pytest.raises(ApplicationError) as exc:
        documents.reply_pdf(scope=actors.tr, complaint_id=anonymous.pk)
    assert exc.value.status == 409


# --- statistics and reminders -------------------------------------------------------------------------------------


def test_statistics_are_aggregates_per_region_for_supervisors(tree, actors):
    file_public(tree.village)
    file_public(tree.village2, anonymous=True, kind="complaint")
    file_public(tree.other_village, anonymous=True)
    rows = {r.code: r for r in selectors.statistics(scope=actors.sv)}
    # The province's supervisor: per city / county under the province
    county_row = next(
        r
        for r in rows.values()
        if tree.county.path.startswith(f"/460000000000/{r.code}/") or r.code == tree.county.code
    )
    assert county_row.total == 2 and county_row.by_kind == {"complaint": 1, "report": 1}
    per_township = {r.code: r for r in selectors.statistics(scope=actors.ca)}
    assert per_township[tree.township.code].by_status["new"] == 2
    # A report about the township that the county handles is not counted for the township itself.
    file_public(tree.village, anonymous=True, county_matter=True)
    assert sum(r.total for r in selectors.statistics(scope=actors.tr)) == 2
    assert sum(r.total for r in selectors.statistics(scope=actors.ca)) == 3
    with pytest.raises(PermissionDenied):
        selectors.statistics(scope=actors.vw)
    with pytest.raises(PermissionDenied):
        selectors.complaint_list(scope=actors.sv)


def _backdated(actors: Any, tree: Any, days_ago: int, **extra: Any) -> Complaint:
    return services.complaint_create(
        scope=actors.ca,
        kind="complaint",
        channel="letter",
        region_code=tree.village.code,
        subject="来信",
        description="来信反映",
        received_on=timezone.localdate() - dt.timedelta(days=days_ago),
        **extra,
    )


def test_the_list_puts_overdue_complaints_first(tree, actors):
    fresh = _backdated(actors, tree, 1)
    overdue = _backdated(actors, tree, 70)
    late_acceptance = _backdated(actors, tree, 20)
    page = selectors.complaint_list(scope=actors.tr)
    assert [c.pk for c in page.rows] == [overdue.pk, late_acceptance.pk, fresh.pk]
    due = selectors.complaint_list(scope=actors.tr, filters=selectors.ListFilters(due="overdue"))
    assert {c.pk for c in due.rows} == {overdue.pk, late_acceptance.pk}
    soon = selectors.complaint_list(scope=actors.tr, filters=selectors.ListFilters(due="soon"))
    assert {c.pk for c in soon.rows} == set()
    _backdated(actors, tree, 57)
    soon = selectors.complaint_list(scope=actors.tr, filters=selectors.ListFilters(due="soon"))
    assert len(soon.rows) == 1


def test_reminders_are_recorded_set_based_once_per_deadline(tree, actors, django_assert_max_num_queries):
    for days in (70, 70, 20, 57, 1):
        _backdated(actors, tree, days)
    with django_assert_max_num_queries(12):
        counts = services.reminders_record(scope=system_scope())
    assert counts == {"acceptance_overdue": 4, "handling_overdue": 2, "handling_due_soon": 1}
    assert services.reminders_record(scope=system_scope()) == {
        "acceptance_overdue": 0,
        "handling_overdue": 0,
        "handling_due_soon": 0,
    }
    assert Reminder.objects.count() == 7
    summary = selectors.reminder_summary(scope=system_scope())
    assert {(r["office"], r["kind"]): r["count"] for r in summary}[(tree.township.code, "acceptance_overdue")] == 4
    for _ in range(20):
        _backdated(actors, tree, 70)
    with django_assert_max_num_queries(12):  # the same statements for 20 more complaints
        services.reminders_record(scope=system_scope())
    with pytest.raises(PermissionDenied):
        services.reminders_record(scope=actors.tr)


# --- attachments and atomicity ------------------------------------------------------------------------------------


def test_attachments_are_checked_by_content_and_stored_on_commit(
    tree, actors, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        complaint = file_public(
            tree.village, files=[upload("现场.png", PNG), upload("材料.pdf", PDF, "application/pdf")]
        )
    stored = list(Attachment.objects.filter(complaint=complaint).order_by("pk"))
    assert [(a.original_name, a.content_type) for a in stored] == [
        ("现场.png", "image/png"),
        ("材料.pdf", "application/pdf"),
    ]
    for a in stored:
        assert attachments.path_of(a.stored_name).read_bytes() in (PNG, PDF)
        assert str(attachments.path_of(a.stored_name)).startswith(str(settings.VAR_DIR))
    assert not list(attachments.attachment_dir().glob(".tmp-*"))
    assert selectors.attachments_for(scope=actors.tr, complaint=complaint) == stored


@pytest.mark.parametrize(
    ("files", "code"),
    [
        ([upload("photo.jpg", EXE, "image/jpeg")], "file_type"),  # a .exe renamed .jpg
        ([upload("a.html", b"<html><script>alert(1)</script></html>", "image/png")], "file_type"),
        ([upload("empty.png", b"")], "empty_file"),
        ([upload(f"{i}.png", PNG) for i in range(attachments.MAX_FILES + 1)], "too_many_files"),
        ([upload("big.pdf", b"%PDF-" + b"0" * attachments.MAX_FILE_BYTES, "application/pdf")], "file_too_large"),
    ],
)
def test_bad_attachments_are_refused_and_nothing_is_stored(tree, actors, files, code):
    with pytest.raises(ApplicationError) as exc:
        file_public(tree.village, files=[upload("ok.png", PNG), *files][: attachments.MAX_FILES + 1])
    assert exc.value.code == code and exc.value.field == "attachments"
    assert not Complaint.objects.exists() and not Reporter.objects.exists()
    assert not attachments.attachment_dir().exists() or not any(attachments.attachment_dir().iterdir())


def test_a_failure_while_storing_leaves_no_complaint_and_no_file(tree, actors, monkeypatch):
    real_store = attachments.store
    calls: list[Path] = []

    def failing_store(file: Any, written: list[Path]) -> Any:
        if calls:
            raise OSError("disk full")
        result = real_store(file, written)
        calls.extend(written)
        return result

    monkeypatch.setattr(attachments, "store", failing_store)
    with pytest.raises(OSError):
        file_public(tree.village, files=[upload("1.png", PNG), upload("2.png", PNG)])
    assert calls and not calls[0].exists()
    assert not Complaint.objects.exists() and not Attachment.objects.exists() and not Reporter.objects.exists()
    assert not AuditLog.objects.filter(subject_type="complaint").exists()
    assert not any(attachments.attachment_dir().iterdir())


def test_stale_temporary_files_are_swept(tree, actors):
    directory = attachments.attachment_dir()
    directory.mkdir(parents=True)
    old = directory / ".tmp-old.png"
    old.write_bytes(PNG)
    young = directory / ".tmp-young.png"
    young.write_bytes(PNG)
    import os
    import time

    os.utime(old, (time.time() - 2 * 86400, time.time() - 2 * 86400))
    assert attachments.sweep_temporary() == 1
    assert young.exists() and not old.exists()


def test_script_in_fields_is_stored_as_plain_text(tree, actors):
    script = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    complaint = file_public(tree.village, subject=script[:100], description=f"前\x00{script}\x07后")
    complaint.refresh_from_db()
    assert complaint.subject == script[:100]
    assert complaint.description == f"前{script}后"  # control characters dropped, markup kept as typed


def test_the_list_and_statistics_take_a_fixed_number_of_queries(tree, actors, django_assert_max_num_queries):
    for _ in range(3):
        file_public(tree.village, anonymous=True)
    with django_assert_max_num_queries(4) as few:
        rows = selectors.complaint_list(scope=actors.ca).rows
        [(c.region.name, c.office.name) for c in rows]
        selectors.statistics(scope=actors.ca)
    for _ in range(10):
        file_public(tree.village2, anonymous=True)
    with django_assert_max_num_queries(len(few.captured_queries)):
        rows = selectors.complaint_list(scope=actors.ca).rows
        [(c.region.name, c.office.name) for c in rows]
        selectors.statistics(scope=actors.ca)
