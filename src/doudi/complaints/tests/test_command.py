"""`manage.py complaints_remind`: records the day's reminders once and prints counts per office (no complaint data)."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from doudi.complaints import services
from doudi.complaints.models import Reminder


def test_the_reminder_command_records_and_summarises(tree, actors):
    services.complaint_create(
        scope=actors.ca,
        kind="report",
        channel="letter",
        region_code=tree.village.code,
        subject="来信举报张三",
        description="来信",
        received_on=timezone.localdate() - dt.timedelta(days=70),
    )
    out = io.StringIO()
    call_command("complaints_remind", stdout=out)
    report = json.loads(out.getvalue())
    assert report["new_reminders"] == {"acceptance_overdue": 1, "handling_overdue": 1, "handling_due_soon": 0}
    assert {(o["office"], o["kind"]) for o in report["offices"]} == {
        (tree.township.code, "acceptance_overdue"),
        (tree.township.code, "handling_overdue"),
    }
    assert "张三" not in out.getvalue()
    out = io.StringIO()
    call_command("complaints_remind", f"--county={tree.other_county.code}", stdout=out)
    assert json.loads(out.getvalue())["new_reminders"]["handling_overdue"] == 0
    assert Reminder.objects.count() == 2
    with pytest.raises(CommandError):
        call_command("complaints_remind", "--date=yesterday")


def test_demo_complaints_cover_the_lifecycle_once(tree, actors):
    from doudi.complaints.models import Complaint
    from doudi.complaints.seed import demo_complaints

    assert demo_complaints() == 6
    assert set(Complaint.objects.values_list("status", flat=True)) == {"new", "accepted", "investigating", "answered"}
    assert Complaint.objects.filter(channel="portal").count() == 3
    assert demo_complaints() == 0
