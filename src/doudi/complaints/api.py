"""Complaint endpoints for staff: list (scoped to the handling offices in the caller's region), detail (the
reporter only for the handling office), and adding a handling-record entry (which may act on a case through the
case services). Explicit schemas; roles, scope and versions are checked in the services and selectors."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from doudi.complaints import selectors, services, tracking
from doudi.complaints.models import Complaint, Entry
from doudi.core.api import ERRORS, ErrorOut, request_scope
from doudi.core.scope import Scope

router = Router(tags=["complaints"])
WRITE_ERRORS: dict[int | frozenset[int], Any] = {frozenset({401, 403, 404, 409, 422}): ErrorOut}
API_MAX_PAGE_SIZE = 500


class ComplaintRowOut(Schema):
    id: int
    kind: str
    channel: str
    program: str
    subject: str
    region_code: str
    region_name: str
    office_code: str
    office_name: str
    status: str
    anonymous: bool
    received_on: dt.date
    acceptance_due: dt.date
    handling_due: dt.date
    finding: str
    version: int


class ComplaintPageOut(Schema):
    items: list[ComplaintRowOut]
    next_after: int | None = Field(description="下一页的 after 参数；为空表示没有更多")
    page_size: int


class ReporterOut(Schema):
    name: str
    phone: str
    address: str


class EntryOut(Schema):
    id: int
    kind: str
    text: str
    finding: str
    action: str
    acted_on: dt.date
    actor: str
    recipient_id: int | None
    household_id: int | None
    from_office: str | None
    to_office: str | None


class ComplaintDetailOut(ComplaintRowOut):
    description: str
    county_matter: bool
    tracking_number: str | None = Field(description="只对承办单位显示")
    accepted_on: dt.date | None
    answered_on: dt.date | None
    closed_on: dt.date | None
    not_accepted_reason: str
    public_reply: str
    reply: str | None = Field(description="书面答复，只对承办单位显示")
    household_id: int | None
    application_id: int | None
    recipient_id: int | None
    reporter: ReporterOut | None = Field(description="举报人信息，只对承办单位显示；匿名为空")
    handling_office: bool = Field(description="调用者是否为承办单位")
    deadline_basis: dict[str, Any]
    entries: list[EntryOut]


class EntryIn(Schema):
    version: int = Field(description="读取投诉举报时的版本号")
    text: str = Field(max_length=services.MAX_TEXT)
    finding: str = Field(default="", examples=["substantiated"], description="substantiated / partly / unsubstantiated")
    action: str = Field(default="", examples=["recheck"], description="none / recheck / suspend / terminate / other")
    recipient_id: int | None = None
    recipient_version: int | None = Field(default=None, description="暂停、终止时：救助对象的版本号")
    effective_month: str | None = Field(
        default=None, pattern=r"^\d{4}-\d{2}$", examples=["2026-02"], description="暂停、终止的生效月份 YYYY-MM"
    )
    acted_on: dt.date | None = None


def _row(c: Complaint) -> dict[str, Any]:
    return {
        "id": c.pk,
        "kind": c.kind,
        "channel": c.channel,
        "program": c.program,
        "subject": c.subject,
        "region_code": c.region_id,
        "region_name": c.region.name,
        "office_code": c.office_id,
        "office_name": c.office.name,
        "status": c.status,
        "anonymous": c.anonymous,
        "received_on": c.received_on,
        "acceptance_due": c.acceptance_due,
        "handling_due": c.handling_due,
        "finding": c.finding,
        "version": c.version,
    }


def _entry(e: Entry) -> dict[str, Any]:
    return {
        "id": e.pk,
        "kind": e.kind,
        "text": e.text,
        "finding": e.finding,
        "action": e.action,
        "acted_on": e.acted_on,
        "actor": e.actor_name,
        "recipient_id": e.recipient_id,
        "household_id": e.household_id,
        "from_office": e.from_office_id,
        "to_office": e.to_office_id,
    }


def _detail(scope: Scope, complaint_id: int) -> dict[str, Any]:
    c = selectors.complaint_get(scope=scope, complaint_id=complaint_id)
    handling = services.is_handling_office(scope, c)
    reporter = selectors.reporter_for(scope=scope, complaint=c)
    return {
        **_row(c),
        "description": c.description,
        "county_matter": c.county_matter,
        "tracking_number": tracking.display(c.tracking_number) if handling else None,
        "accepted_on": c.accepted_on,
        "answered_on": c.answered_on,
        "closed_on": c.closed_on,
        "not_accepted_reason": c.not_accepted_reason,
        "public_reply": c.public_reply,
        "reply": c.reply if handling else None,
        "household_id": c.household_id,
        "application_id": c.application_id,
        "recipient_id": c.recipient_id,
        "reporter": (
            {"name": reporter.name, "phone": reporter.phone, "address": reporter.address} if reporter else None
        ),
        "handling_office": handling,
        "deadline_basis": c.deadline_basis,
        "entries": [_entry(e) for e in selectors.entries(scope=scope, complaint=c)],
    }


@router.get(
    "/complaints", response={200: ComplaintPageOut, **ERRORS}, url_name="complaint_list", summary="查询投诉举报"
)
def complaint_list(
    request: HttpRequest,
    status: str = "",
    kind: str = "",
    due: str = Query("", description="overdue（已超期）/ soon（即将到期）"),
    mine: bool = False,
    after: int | None = None,
    page_size: int = Query(selectors.PAGE_SIZE, ge=1, le=API_MAX_PAGE_SIZE),
) -> Any:
    filters = selectors.ListFilters(status=status, kind=kind, due=due, mine=mine, after=after)
    rows, next_after = selectors.complaint_page(scope=request_scope(request), filters=filters, page_size=page_size)
    return {"items": [_row(c) for c in rows], "next_after": next_after, "page_size": page_size}


@router.get(
    "/complaints/{int:complaint_id}",
    response={200: ComplaintDetailOut, **ERRORS},
    url_name="complaint_detail",
    summary="投诉举报详情",
)
def complaint_detail(request: HttpRequest, complaint_id: int) -> Any:
    return _detail(request_scope(request), complaint_id)


@router.post(
    "/complaints/{int:complaint_id}/entries",
    response={201: ComplaintDetailOut, **WRITE_ERRORS},
    url_name="complaint_entry_add",
    summary="添加办理记录（调查、结论、处理措施）",
)
def complaint_entry_add(request: HttpRequest, complaint_id: int, payload: EntryIn) -> Status[Any]:
    scope = request_scope(request)
    services.entry_add(
        scope=scope,
        complaint_id=complaint_id,
        version=payload.version,
        text=payload.text,
        finding=payload.finding,
        action=payload.action,
        recipient_id=payload.recipient_id,
        recipient_version=payload.recipient_version,
        effective_month=f"{payload.effective_month}-01" if payload.effective_month else None,
        acted_on=payload.acted_on,
    )
    return Status(201, _detail(scope, complaint_id))
