"""Staff complaint pages under /complaints/: the handling office's list (overdue first), hotline intake, the detail
with its handling forms, the reply PDF, attachments and the statistics. Thin: selectors and services with the
caller's scope; refusals become field errors or the 403/404 page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from doudi.complaints import attachments as attachment_files
from doudi.complaints import documents, forms, selectors, services, tracking
from doudi.complaints.choices import Finding, Kind, Status
from doudi.complaints.models import Complaint
from doudi.core.errors import NotFound, PermissionDenied
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.web.views import attempt, form_status, page, scoped


def staff_region_choices(scope: Scope) -> list[tuple[str, Any]]:
    """Townships of the caller's region, each with its villages (grouped), for the intake form."""
    regions = list(
        scope.regions()
        .filter(level__in=("township", "village"))
        .order_by("path")
        .values_list("code", "name", "level", "parent_id")
    )
    return _grouped(regions)


def _grouped(regions: Sequence[tuple[str, str, str, str | None]]) -> list[tuple[str, Any]]:
    townships = [(code, name) for code, name, level, _parent in regions if level == "township"]
    villages: dict[str, list[tuple[str, str]]] = {}
    for code, name, level, parent in regions:
        if level == "village" and parent:
            villages.setdefault(parent, []).append((code, name))
    return [
        (name, [(code, _("%(name)s（乡镇本级）") % {"name": name}), *villages.get(code, [])])
        for code, name in townships
    ]


@scoped
@require_GET
def complaint_list(request: HttpRequest, scope: Scope) -> HttpResponse:
    form = forms.ListFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    filters = selectors.ListFilters(
        status=data.get("status", ""),
        kind=data.get("kind", ""),
        due=data.get("due", ""),
        mine=bool(data.get("mine")),
    )
    result = selectors.complaint_list(scope=scope, filters=filters)
    context = {
        "form": form,
        "result": result,
        "can_intake": scope.role in services.INTAKE_ROLES,
        "open_statuses": (Status.NEW, Status.ACCEPTED, Status.INVESTIGATING),
    }
    return page(request, scope, "complaints/list.html", context)


@scoped
@require_http_methods(["GET", "POST"])
def complaint_new(request: HttpRequest, scope: Scope) -> HttpResponse:
    if scope.role not in services.INTAKE_ROLES:
        raise PermissionDenied(_("登记投诉举报须由乡镇（街道）审核人、县级审批人或系统管理员办理"))
    form = forms.StaffComplaintForm(request.POST or None, regions=staff_region_choices(scope))

    def create(data: dict[str, Any]) -> Complaint:
        return services.complaint_create(
            scope=scope,
            kind=data["kind"],
            channel=data["channel"],
            region_code=data["region_code"],
            subject=data["subject"],
            description=data["description"],
            program=data["program"],
            county_matter=bool(data["county_matter"]),
            anonymous=form.is_anonymous(),
            reporter=form.reporter(),
            files=request.FILES.getlist("attachments"),
            received_on=data["received_on"] or None,
        )

    complaint = attempt(form, create) if request.method == "POST" else None
    if complaint is not None:
        messages.success(
            request,
            _("已登记，受理编号 %(number)s（请告知来电人，凭此编号查询办理情况）")
            % {"number": tracking.display(complaint.tracking_number)},
        )
        return redirect("complaints:detail", complaint_id=complaint.pk)
    return page(request, scope, "complaints/new.html", {"form": form}, status=form_status(form))


def _reroute_choices(scope: Scope, complaint: Complaint) -> tuple[list[tuple[str, str]], str]:
    """The offices the caller may choose from; or, for a township office, which may only send the complaint up to
    its county, no choice and the county's code (the page shows a button: neither the county's code nor the
    county's other townships are listed)."""
    county = services.escalation_target(scope, complaint)
    if county is not None:
        return [], county.code
    return [(r.code, r.name) for r in selectors.reroute_targets(scope=scope, complaint=complaint)], ""


def _detail(
    request: HttpRequest, scope: Scope, complaint: Complaint, bound: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    handling = services.is_handling_office(scope, complaint)
    initial = {"version": complaint.version}
    offices, up = _reroute_choices(scope, complaint)
    escalate = bool(up)
    built: dict[str, Any] = {
        "accept_form": forms.AcceptForm(initial=initial),
        "not_accept_form": forms.NotAcceptForm(initial=initial),
        "entry_form": forms.EntryForm(initial=initial),
        "link_form": forms.LinkForm(initial=initial),
        "reroute_form": forms.RerouteForm(initial=initial, offices=offices, escalate=escalate),
        "answer_form": forms.AnswerForm(initial=initial),
        "close_form": forms.CloseForm(initial=initial),
    }
    built.update(bound or {})
    context = {
        "complaint": complaint,
        "number": tracking.display(complaint.tracking_number),
        "handling": handling,
        "reporter": selectors.reporter_for(scope=scope, complaint=complaint),
        "entries": selectors.entries(scope=scope, complaint=complaint),
        "attachments": selectors.attachments_for(scope=scope, complaint=complaint),
        "can_reroute": (bool(offices) or escalate)
        and complaint.status in (Status.NEW, Status.ACCEPTED, Status.INVESTIGATING)
        and services.may_reroute(scope, complaint),
        "escalate": escalate,
        "deadline_basis": complaint.deadline_basis,
        **built,
    }
    return page(request, scope, "complaints/detail.html", context, status=status)


@scoped
@require_GET
def complaint_detail(request: HttpRequest, scope: Scope, complaint_id: int) -> HttpResponse:
    return _detail(request, scope, selectors.complaint_get(scope=scope, complaint_id=complaint_id))


def _act(
    request: HttpRequest,
    scope: Scope,
    complaint_id: int,
    name: str,
    form: forms.VersionForm,
    call: Callable[[dict[str, Any]], Any],
    done: str,
) -> HttpResponse:
    complaint = selectors.complaint_get(scope=scope, complaint_id=complaint_id)

    def run(data: dict[str, Any]) -> Any:
        version = data.pop("version")
        return call({**data, "version": complaint.version if version is None else version})

    if attempt(form, run) is not None:
        messages.success(request, done)
        return redirect("complaints:detail", complaint_id=complaint_id)
    complaint = selectors.complaint_get(scope=scope, complaint_id=complaint_id)
    return _detail(request, scope, complaint, {name: form}, status=form_status(form) or 422)


@scoped
@require_POST
def complaint_accept(request: HttpRequest, scope: Scope, complaint_id: int) -> HttpResponse:
    return _act(
        request,
        scope,
        complaint_id,
        "accept_form",
        forms.AcceptForm(request.POST),
        lambda d: services.complaint_accept(
            scope=scope, complaint_id=complaint_id, version=d["version"], acted_on=d["acted_on"] or None, note=d["note"]
        ),
        _("已受理"),
    )


@scoped
@require_POST
def complaint_not_accept(request: HttpRequest, scope: Scope, complaint_id: int) -> HttpResponse:
    return _act(
        request,
        scope,
        complaint_id,
        "not_accept_form",
        forms.NotAcceptForm(request.POST),
        lambda d: services.complaint_not_accept(
            scope=scope,
            complaint_id=complaint_id,
            version=d["version"],
            reason=d["reason"],
            acted_on=d["acted_on"] or None,
        ),
        _("已决定不予受理"),
    )


@scoped
@require_POST
def entry_add(request: HttpRequest, scope: Scope, complaint_id: int) -> HttpResponse:
    return _act(
        request,
        scope,
        complaint_id,
        "entry_form",
        forms.EntryForm(request.POST),
        lambda d: services.entry_add(
            scope=scope,
            complaint_id=complaint_id,
            version=d["version"],
            text=d["text"],
            finding=d["finding"],
            action=d["action"],
            recipient_id=d["recipient_id"],
            effective_month=d["effective_month"] or None,
            acted_on=d["acted_on"] or None,
        ),
        _("办理记录已保存"),
    )


@scoped
@require_POST
def complaint_link(request: HttpRequest, scope: Scope, complaint_id: int) -> HttpResponse:
    return _act(
        request,
        scope,
        complaint_id,
        "link_form",
        forms.LinkForm(request.POST),
        lambda d: services.complaint_link(
            scope=scope,
            complaint_id=complaint_id,
            version=d["version"],
            household_number=d["household_number"],
            application_id=d["application_id"],
            recipient_id=d["recipient_id"],
        ),
        _("已关联"),
    )


@scoped
@require_POST
def complaint_reroute(request: HttpRequest, scope: Scope, complaint_id: int) -> HttpResponse:
    complaint = selectors.complaint_get(scope=scope, complaint_id=complaint_id)
    # A township office's only target is its county: the button sends no code, the service gets the county's.
    offices, up = _reroute_choices(scope, complaint)
    return _act(
        request,
        scope,
        complaint_id,
        "reroute_form",
        forms.RerouteForm(request.POST, offices=offices, escalate=bool(up)),
        lambda d: services.complaint_reroute(
            scope=scope,
            complaint_id=complaint_id,
            version=d["version"],
            to_office_code=up or d["to_office_code"],
            reason=d["reason"],
        ),
        _("已转办"),
    )


@scoped
@require_POST
def complaint_answer(request: HttpRequest, scope: Scope, complaint_id: int) -> HttpResponse:
    return _act(
        request,
        scope,
        complaint_id,
        "answer_form",
        forms.AnswerForm(request.POST),
        lambda d: services.complaint_answer(
            scope=scope,
            complaint_id=complaint_id,
            version=d["version"],
            public_reply=d["public_reply"],
            reply=d["reply"],
            acted_on=d["acted_on"] or None,
        ),
        _("已答复"),
    )


@scoped
@require_POST
def complaint_close(request: HttpRequest, scope: Scope, complaint_id: int) -> HttpResponse:
    return _act(
        request,
        scope,
        complaint_id,
        "close_form",
        forms.CloseForm(request.POST),
        lambda d: services.complaint_close(
            scope=scope, complaint_id=complaint_id, version=d["version"], note=d["note"], acted_on=d["acted_on"] or None
        ),
        _("已办结"),
    )


@scoped
@require_GET
def reply_pdf(request: HttpRequest, scope: Scope, complaint_id: int) -> HttpResponse:
    content = documents.reply_pdf(scope=scope, complaint_id=complaint_id)
    response = HttpResponse(content, content_type="application/pdf")
    filename = f"投诉举报答复书-{complaint_id}.pdf"
    response["Content-Disposition"] = content_disposition_header(False, filename) or "inline"
    response["Cache-Control"] = "no-store"
    return response


@scoped
@require_GET
def attachment_download(request: HttpRequest, scope: Scope, complaint_id: int, attachment_id: int) -> HttpResponseBase:
    attachment = selectors.attachment_get(scope=scope, complaint_id=complaint_id, attachment_id=attachment_id)
    path = attachment_files.path_of(attachment.stored_name)
    if not path.is_file():
        raise NotFound("附件文件不存在", "attachment_id")
    response = FileResponse(path.open("rb"), content_type=attachment.content_type)
    # Always a download, never rendered in our origin (a PDF or image from the public is untrusted content).
    response["Content-Disposition"] = content_disposition_header(True, attachment.original_name) or "attachment"
    response["Cache-Control"] = "no-store"
    response["Content-Security-Policy"] = "sandbox"
    return response


@scoped
@require_GET
def statistics(request: HttpRequest, scope: Scope) -> HttpResponse:
    rows = selectors.statistics(scope=scope)

    def cells(row: selectors.StatRow) -> list[int]:
        return [
            *(row.by_kind[k] for k in Kind.values),
            *(row.by_status[s] for s in Status.values),
            *(row.by_finding[f] for f in Finding.values),
            row.overdue,
        ]

    table = [{"code": r.code, "name": r.name, "total": r.total, "cells": cells(r)} for r in rows]
    totals = [sum(column) for column in zip(*(row["cells"] for row in table), strict=True)] if table else []
    context = {
        "table": table,
        "total": sum(r.total for r in rows),
        "totals": totals,
        "kinds": Kind.choices,
        "statuses": Status.choices,
        "findings": Finding.choices,
        "region": Region.objects.filter(code=scope.region_code).first(),
        "list_url": reverse("complaints:list") if scope.role in selectors.LIST_ROLES else "",
    }
    return page(request, scope, "complaints/statistics.html", context)
