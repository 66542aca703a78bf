"""Demo complaints for `doudi demo`: a handful of reports and complaints in the demo county's villages, received over
the last ten weeks (so the lists show overdue, due-soon and answered ones). Synthetic text and reporters only.
Idempotent: does nothing when complaints exist."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from doudi.complaints import services
from doudi.complaints.models import Complaint
from doudi.core.models import Region
from doudi.core.scope import Scope

DEMO_COUNTY_PATH = "/460000000000/469001000000/"
ITEMS = (
    # days ago, kind, channel, program, subject, anonymous, county matter, progress
    (70, "report", "hotline", "dibao", "反映某户家有轿车仍享受低保", True, False, "investigating"),
    (40, "complaint", "letter", "dibao", "低保金连续两个月未到账", False, False, "new"),
    (55, "report", "portal", "tekun", "特困供养对象实际由子女赡养", True, False, "accepted"),
    (30, "report", "visit", "dibao", "村干部亲属违规纳入低保（演示）", False, True, "investigating"),
    (20, "complaint", "portal", "temporary_assistance", "临时救助申请长期无人答复", False, False, "answered"),
    (3, "report", "portal", "", "公示名单中有已去世人员", True, False, "new"),
)


def _scope(office: Region, role: str) -> Scope:
    return Scope(user_id=0, username="演示数据", role=role, region_code=office.code, region_path=office.path)


def demo_complaints() -> int:
    """Create the demo complaints (returns how many were created)."""
    if Complaint.objects.exists():
        return 0
    villages = list(Region.objects.filter(level="village", path__startswith=DEMO_COUNTY_PATH).order_by("code")[:6])
    if not villages:
        return 0
    county = Region.objects.get(path=DEMO_COUNTY_PATH)
    today = timezone.localdate()
    created = 0
    with transaction.atomic():
        for i, (days, kind, channel, program, subject, anonymous, county_matter, progress) in enumerate(ITEMS):
            village = villages[i % len(villages)]
            reporter = None if anonymous else {"name": f"演示举报人{i + 1}", "phone": "", "address": "演示地址"}
            complaint = services.complaint_create(
                scope=_scope(county, "county_approver"),
                kind=kind,
                channel="hotline" if channel == "portal" else channel,
                region_code=village.code,
                subject=subject,
                description=f"{subject}。（演示数据，非真实情况）",
                program=program,
                county_matter=county_matter,
                anonymous=anonymous,
                reporter=reporter,
                received_on=today - dt.timedelta(days=days),
            )
            Complaint.objects.filter(pk=complaint.pk).update(channel=channel)
            office = complaint.office
            handler = _scope(office, services.office_role(office))
            steps = ["accepted", "investigating", "answered"]
            if progress in steps:
                complaint = services.complaint_accept(
                    scope=handler,
                    complaint_id=complaint.pk,
                    version=complaint.version,
                    acted_on=today - dt.timedelta(days=days - 3),
                )
            if progress in steps[1:]:
                services.entry_add(
                    scope=handler,
                    complaint_id=complaint.pk,
                    version=complaint.version,
                    text="已安排入户调查核实（演示）",
                    finding="partly" if progress == "answered" else "",
                )
                complaint.refresh_from_db()
            if progress == "answered":
                services.complaint_answer(
                    scope=handler,
                    complaint_id=complaint.pk,
                    version=complaint.version,
                    public_reply="经核实，反映情况部分属实，已督促乡镇限期答复申请人。",
                    reply="经核实，……（演示答复）",
                )
            created += 1
    return created
