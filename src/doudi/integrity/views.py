"""Integrity pages under /integrity/ (docs/integrity.md §8): the overview (counts and coverage; supervisors see
aggregates only), the findings list and detail with assignment, resolution and dismissal, running the checks, and
the staff and cadre list with its import. Thin: integrity selectors and services with the caller's scope; a
refusal becomes a field error (422), a conflict message (409) or the 403/404 page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from doudi.cases.choices import Program, RecipientStatus, StepStatus
from doudi.core import idnumber
from doudi.core.choices import RegionLevel, Role
from doudi.core.errors import ApplicationError, NotFound, PermissionDenied
from doudi.core.scope import Scope
from doudi.core.selectors import region_list
from doudi.integrity import forms, selectors, services
from doudi.integrity.choices import OPEN_STATUSES, CheckCode, FindingStatus, StaffKind
from doudi.integrity.models import Finding
from doudi.web.views import attempt, download, form_status, page, scoped

LIST_LIMIT = 200
RUNS_SHOWN = 20
STAFF_PAGE_SIZE = 50
IMPORT_ERRORS_SHOWN = 200
RESULT_LABELS = {
    "pass": gettext_lazy("符合"),
    "fail": gettext_lazy("不符合"),
    "further_check": gettext_lazy("需进一步核实"),
}


def _require_role(scope: Scope, roles: frozenset[str], action: str) -> None:
    """Refuse by role before reading any input: the same roles the service accepts."""
    if scope.role not in roles:
        raise PermissionDenied(_("您的角色不能%(action)s") % {"action": action})


# --- overview --------------------------------------------------------------------------------------------------


@scoped
@require_GET
def overview(request: HttpRequest, scope: Scope) -> HttpResponse:
    if scope.role not in services.RUN_ROLES and scope.role != Role.SUPERVISOR:
        raise PermissionDenied(_("只有县级审批、核对人员和监管人员可以查看核查情况"))
    counts = selectors.finding_counts(scope=scope)
    count_rows = [
        {
            "code": code,
            "label": CheckCode(code).label,
            "cells": [by_status.get(status, 0) for status in FindingStatus.values],
        }
        for code, by_status in sorted(counts.items())
    ]
    supervisor = scope.role == Role.SUPERVISOR
    context = {
        "count_rows": count_rows,
        "statuses": [label for _value, label in FindingStatus.choices],
        # per township within a county; per county for the province-wide roles
        "coverage": selectors.verification_coverage(
            scope=scope, level="county" if scope.role in (Role.SUPERVISOR, Role.ADMIN) else "township"
        ),
        # Supervisors see aggregates only (counts, shares), never a finding about a person.
        "findings": None if supervisor else selectors.findings_list(scope=scope)[:LIST_LIMIT],
        "limit": LIST_LIMIT,
        "links": not supervisor,
    }
    return page(request, scope, "integrity/overview.html", context)


# --- findings list ---------------------------------------------------------------------------------------------


def _region_choices(scope: Scope) -> list[tuple[str, str]]:
    """The areas to filter by, each under its parent: townships and their villages within a county; counties
    and their townships for the province- or city-wide roles (a list of every village would be thousands long)."""
    counties = region_list(scope=scope, level=RegionLevel.COUNTY).exclude(code=scope.region_code)
    if counties.exists():
        upper, lower = list(counties), list(region_list(scope=scope, level=RegionLevel.TOWNSHIP))
    else:
        upper = list(region_list(scope=scope, level=RegionLevel.TOWNSHIP))
        lower = list(region_list(scope=scope, level=RegionLevel.VILLAGE))
    by_parent: dict[str, list[tuple[str, str]]] = {}
    for region in lower:
        by_parent.setdefault(region.parent_id or "", []).append((region.code, f"　{region.name}"))
    choices: list[tuple[str, str]] = []
    for region in upper:
        choices.append((region.code, region.name))
        choices.extend(by_parent.pop(region.code, []))
    for rest in by_parent.values():
        choices.extend(rest)
    return choices


@scoped
@require_GET
def finding_list(request: HttpRequest, scope: Scope) -> HttpResponse:
    scope.require_personal()
    county = scope.role in selectors.COUNTY_ROLES
    form = forms.FindingFilterForm(
        request.GET,
        regions=_region_choices(scope),
        assignees=selectors.assignee_filter_choices(scope=scope) if county else [],
    )
    result = None
    status = 200
    if form.is_valid():
        data = form.cleaned_data
        try:
            result = selectors.findings_page(
                scope=scope,
                check_code=data["check"],
                status=data["status"] or selectors.STATUS_OPEN,
                region_code=data["region"],
                assignee=data["assignee"],
                before=data["before"],
            )
        except ApplicationError as exc:
            if exc.status in (403, 404):
                raise
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            status = 422
    else:
        status = 422
    context = {"form": form, "result": result, "county": county}
    return page(request, scope, "integrity/finding_list.html", context, status=status)


# --- finding detail and actions --------------------------------------------------------------------------------


def _month(value: Any) -> str:
    return str(value)[:7] if value else "—"


def _label(choices: Any, value: Any) -> str:
    if value in (None, ""):
        return "—"
    return str(dict(choices).get(str(value), value))


def _evidence_rows(detail: selectors.FindingDetail) -> list[dict[str, Any]]:
    """The evidence of a finding in plain Chinese: labels, code values as their names, records as links the
    caller may open (no ID numbers: a person is named with the number masked)."""
    finding = detail.finding
    evidence: dict[str, Any] = finding.evidence if isinstance(finding.evidence, dict) else {}
    rows: list[dict[str, Any]] = []

    def add(label: str, value: Any, href: str = "") -> None:
        rows.append({"label": label, "value": "—" if value in (None, "") else value, "href": href})

    def household(key: str, label: str) -> None:
        if key not in evidence:
            return
        pk = evidence.get(key)
        found = detail.households.get(int(pk)) if pk else None
        if found is None:
            add(label, _("（不在您的管辖范围内）") if pk else None)
        else:
            add(label, found.number, reverse("web:household_detail", args=[found.pk]))

    def person(key: str, label: str) -> None:
        if key not in evidence:
            return
        pk = evidence.get(key)
        found = detail.persons.get(int(pk)) if pk else None
        add(label, f"{found.name}（{idnumber.mask(found.id_number)}）" if found else _("（不在您的管辖范围内）"))

    def recipient(key: str, program_key: str, label: str) -> None:
        if key not in evidence:
            return
        pk = evidence.get(key)
        href = reverse("cases:recipient_detail", args=[int(pk)]) if pk else ""
        add(label, _label(Program.choices, evidence.get(program_key)), href)

    def date(key: str, label: str, *, open_ended: str = "") -> None:
        if key in evidence:
            add(label, evidence.get(key) or open_ended or None)

    code = finding.check_code
    if code == CheckCode.DECEASED_RECIPIENT:
        date("death_date", _("死亡日期"))
        add(_("救助项目"), _label(Program.choices, evidence.get("program")))
        add(_("待遇状态"), _label(RecipientStatus.choices, evidence.get("status")))
        add(_("待遇起始月份"), _month(evidence.get("start_month")))
        add(_("待遇终止月份"), _month(evidence.get("end_month")) if evidence.get("end_month") else _("未设定"))
    elif code == CheckCode.EXCLUSIVE_PROGRAMS:
        recipient("first_recipient_id", "first_program", _("本人享受"))
        add(_("其状态"), _label(RecipientStatus.choices, evidence.get("first_status")))
        recipient("second_recipient_id", "second_program", _("同时享受"))
        add(_("其状态"), _label(RecipientStatus.choices, evidence.get("second_status")))
    elif code == CheckCode.TWO_HOUSEHOLDS:
        person("first_person_id", _("第一条人员登记"))
        person("second_person_id", _("第二条人员登记"))
        if "count" in evidence:
            add(_("同一身份号码的登记数"), evidence.get("count"))
        household("first_household_id", _("第一户"))
        date("first_start", _("第一户成员关系开始"))
        date("first_end", _("第一户成员关系结束"), open_ended=_("仍有效"))
        household("second_household_id", _("第二户"))
        date("second_start", _("第二户成员关系开始"))
        date("second_end", _("第二户成员关系结束"), open_ended=_("仍有效"))
    elif code == CheckCode.UNDECLARED_KIN:
        add(_("救助项目"), _label(Program.choices, evidence.get("program")))
        add(_("亲属关系"), evidence.get("relation"))
        add(_("对方人员类别"), _label(StaffKind.choices, evidence.get("staff_kind")))
        staff = finding.staff
        add(_("对方任职区域"), staff.region.name if staff is not None else evidence.get("staff_region"))
        date("staff_from", _("任职开始日期"))
        date("staff_to", _("任职结束日期"), open_ended=_("仍在任"))
    elif code == CheckCode.UNVERIFIED_APPROVAL:
        add(_("救助项目"), _label(Program.choices, evidence.get("program")))
        date("decided_on", _("批准日期"))
        authorised = evidence.get("authorised")
        add(_("已签署核对授权书"), _("是") if authorised == "yes" else _("否") if authorised == "no" else None)
        add(
            _("信息核对环节"),
            _label(StepStatus.choices, evidence.get("verification_status"))
            if evidence.get("verification_status")
            else _("无"),
        )
        add(_("信息核对结果"), _label(RESULT_LABELS.items(), evidence.get("verification_result")))
        date("verified_on", _("核对办结日期"))
    return rows


def _may_resolve(scope: Scope, finding: Finding) -> bool:
    return scope.role in services.MANAGE_ROLES or (
        finding.assignee_id is not None and finding.assignee_id == scope.user_id
    )


def _assignee_choices(scope: Scope, finding: Finding) -> list[tuple[int, str]]:
    roles = dict(Role.choices)
    return [
        (u.pk, f"{u.full_name or u.username}（{roles.get(u.role, u.role)}，{u.region.name if u.region else ''}）")
        for u in selectors.finding_assignees(scope=scope, finding=finding)
    ]


def _detail_page(
    request: HttpRequest,
    scope: Scope,
    finding_id: int,
    *,
    bound: dict[str, forms.FindingActionForm] | None = None,
    conflict: str = "",
    carry: dict[str, dict[str, Any]] | None = None,
    status: int = 200,
) -> HttpResponse:
    detail = selectors.finding_detail(scope=scope, finding_id=finding_id)
    finding = detail.finding
    is_open = finding.status in OPEN_STATUSES
    bound = bound or {}
    carry = carry or {}

    def initial(key: str, **current: Any) -> dict[str, Any]:
        # After a conflict the user's input is kept, with the finding's current version.
        return {**current, **carry.get(key, {}), "version": finding.version}

    action_forms: dict[str, forms.FindingActionForm] = {}
    if is_open and scope.role in services.MANAGE_ROLES:
        action_forms["assign"] = bound.get("assign") or forms.AssignForm(
            initial=initial("assign", assignee_id=finding.assignee_id),
            assignees=_assignee_choices(scope, finding),
            auto_id="assign_%s",
        )
        action_forms["dismiss"] = bound.get("dismiss") or forms.DismissForm(
            initial=initial("dismiss"), auto_id="dismiss_%s"
        )
    if is_open and _may_resolve(scope, finding):
        action_forms["resolve"] = bound.get("resolve") or forms.ResolveForm(
            initial=initial("resolve"), auto_id="resolve_%s"
        )
    links = []
    if finding.household_id and finding.household_id in detail.households:
        household = detail.households[finding.household_id]
        links.append(
            (_("家庭 %(number)s") % {"number": household.number}, reverse("web:household_detail", args=[household.pk]))
        )
    if finding.application_id:
        links.append((_("审批案件"), reverse("cases:application_detail", args=[finding.application_id])))
    if finding.recipient_id:
        links.append((_("保障对象"), reverse("cases:recipient_detail", args=[finding.recipient_id])))
    subject = detail.persons.get(finding.person_id) if finding.person_id else None
    context = {
        "detail": detail,
        "finding": finding,
        "evidence": _evidence_rows(detail),
        "links": links,
        "subject": subject,
        "subject_id": idnumber.mask(subject.id_number) if subject else "",
        "staff_id": idnumber.mask(finding.staff.id_number) if finding.staff else "",
        "forms": action_forms,
        "conflict": conflict,
        "is_open": is_open,
    }
    return page(request, scope, "integrity/finding_detail.html", context, status=status)


@scoped
@require_GET
def finding_detail(request: HttpRequest, scope: Scope, finding_id: int) -> HttpResponse:
    return _detail_page(request, scope, finding_id)


def _act(
    request: HttpRequest,
    scope: Scope,
    finding_id: int,
    key: str,
    form: forms.FindingActionForm,
    call: Callable[[dict[str, Any]], Any],
    success: str,
) -> HttpResponseBase:
    """Run one action; success → back to the finding with a message; a stale version or a finding closed
    meanwhile → the finding as it is now with the reason (409); other refusals → the field at fault (422)."""
    result = attempt(form, call)
    if result is not None:
        messages.success(request, success)
        return redirect("integrity:finding_detail", finding_id=finding_id)
    status = form_status(form)
    if status == 409:
        message = " ".join(str(e) for e in form.non_field_errors()) or _("该问题线索已被他人处理，请查看最新情况。")
        kept = {name: value for name, value in form.cleaned_data.items() if name != "version" and value}
        return _detail_page(request, scope, finding_id, conflict=message, carry={key: kept}, status=409)
    return _detail_page(request, scope, finding_id, bound={key: form}, status=status)


def _version(data: dict[str, Any]) -> int:
    return int(data.get("version") or 0)


@scoped
@require_POST
def finding_assign(request: HttpRequest, scope: Scope, finding_id: int) -> HttpResponseBase:
    _require_role(scope, services.MANAGE_ROLES, _("指派问题线索"))
    finding = selectors.finding_detail(scope=scope, finding_id=finding_id).finding  # 404 outside the region
    form = forms.AssignForm(request.POST, assignees=_assignee_choices(scope, finding), auto_id="assign_%s")

    def assign(data: dict[str, Any]) -> Any:
        return services.finding_assign(
            scope=scope, finding_id=finding_id, version=_version(data), assignee_id=data["assignee_id"]
        )

    return _act(request, scope, finding_id, "assign", form, assign, _("已指派承办人"))


@scoped
@require_POST
def finding_resolve(request: HttpRequest, scope: Scope, finding_id: int) -> HttpResponseBase:
    scope.require_personal()
    finding = selectors.finding_detail(scope=scope, finding_id=finding_id).finding  # 404 outside the region
    if not _may_resolve(scope, finding):
        raise PermissionDenied(_("只有县级审批人、系统管理员或该线索的承办人可以办结问题线索"))
    form = forms.ResolveForm(request.POST, auto_id="resolve_%s")

    def resolve(data: dict[str, Any]) -> Any:
        return services.finding_resolve(
            scope=scope, finding_id=finding_id, version=_version(data), resolution=data["resolution"]
        )

    return _act(request, scope, finding_id, "resolve", form, resolve, _("已登记整改情况，问题线索办结"))


@scoped
@require_POST
def finding_dismiss(request: HttpRequest, scope: Scope, finding_id: int) -> HttpResponseBase:
    _require_role(scope, services.MANAGE_ROLES, _("认定问题线索不属实"))
    selectors.finding_detail(scope=scope, finding_id=finding_id)  # 404 outside the region
    form = forms.DismissForm(request.POST, auto_id="dismiss_%s")

    def dismiss(data: dict[str, Any]) -> Any:
        return services.finding_dismiss(
            scope=scope, finding_id=finding_id, version=_version(data), resolution=data["resolution"]
        )

    return _act(request, scope, finding_id, "dismiss", form, dismiss, _("已认定经核实无问题，问题线索办结"))


# --- running the checks ----------------------------------------------------------------------------------------


def _run_rows(runs: list[Any]) -> list[dict[str, Any]]:
    labels = dict(CheckCode.choices)
    rows = []
    for run in runs:
        counts: dict[str, int] = run.counts or {}
        seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
        rows.append(
            {
                "run": run,
                "checks": [str(labels.get(code, code)) for code in run.checks or []],
                "counts": [(str(labels.get(code, code)), n) for code, n in counts.items()],
                "total": sum(counts.values()),
                "seconds": None if seconds is None else round(seconds, 1),
                "actor": (run.actor.full_name or run.actor.username) if run.actor else _("命令行"),
            }
        )
    return rows


@scoped
@require_http_methods(["GET", "POST"])
def run_list(request: HttpRequest, scope: Scope) -> HttpResponse:
    _require_role(scope, services.RUN_ROLES, _("运行比对核查"))
    form = forms.RunForm(request.POST if request.method == "POST" else None)

    def run_checks(data: dict[str, Any]) -> Any:
        return services.integrity_run(scope=scope, checks=data["checks"] or None, today=data["as_of"])

    run = attempt(form, run_checks)
    if run is not None:
        labels = dict(CheckCode.choices)
        parts = "；".join(
            _("%(check)s %(n)s 条") % {"check": labels.get(code, code), "n": n} for code, n in run.counts.items()
        )
        messages.success(
            request,
            _("比对核查已完成（基准日 %(as_of)s）：新发现问题线索 %(total)s 条。%(parts)s")
            % {"as_of": run.as_of.isoformat(), "total": sum(run.counts.values()), "parts": parts},
        )
        return redirect("integrity:run_list")
    counts = selectors.finding_counts(scope=scope)
    open_rows = [
        (CheckCode(code).label, sum(n for status, n in by_status.items() if status in OPEN_STATUSES))
        for code, by_status in sorted(counts.items())
    ]
    context = {
        "form": form,
        "runs": _run_rows(selectors.recent_runs(scope=scope, limit=RUNS_SHOWN)),
        "open_rows": open_rows,
        "today": timezone.localdate(),
    }
    return page(request, scope, "integrity/run_list.html", context, status=form_status(form))


# --- staff and cadre lists -------------------------------------------------------------------------------------


def _staff_page(
    request: HttpRequest,
    scope: Scope,
    *,
    import_form: forms.StaffImportForm | None = None,
    report: services.StaffImportInvalid | None = None,
    status: int = 200,
) -> HttpResponse:
    filters = forms.StaffFilterForm(request.GET)
    data = filters.cleaned_data if filters.is_valid() else {}
    members = selectors.staff_member_page(
        scope=scope,
        kind=data.get("kind") or "",
        current_on=None if data.get("terms") == "all" else timezone.localdate(),
        page=data.get("page") or 1,
        page_size=STAFF_PAGE_SIZE,
    )
    errors = list(report.errors[:IMPORT_ERRORS_SHOWN]) if report is not None else []
    context = {
        "filters": filters,
        "members": members,
        "import_form": import_form or forms.StaffImportForm(),
        "can_import": scope.role in services.MANAGE_ROLES,
        "report": report,
        "report_errors": errors,
        "report_total": int(report.extra.get("error_count", len(errors))) if report is not None else 0,  # type: ignore[call-overload]
        "formats": forms.TEMPLATE_FORMATS,
    }
    return page(request, scope, "integrity/staff_list.html", context, status=status)


@scoped
@require_http_methods(["GET", "POST"])
def staff_list(request: HttpRequest, scope: Scope) -> HttpResponse:
    if request.method != "POST":
        _require_role(scope, services.RUN_ROLES, _("查看经办人员和村干部名单"))
        return _staff_page(request, scope)
    _require_role(scope, services.MANAGE_ROLES, _("导入经办人员和村干部名单"))
    form = forms.StaffImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _staff_page(request, scope, import_form=form, status=422)
    upload = form.cleaned_data["file"]
    try:
        result = services.staff_import_upload(scope=scope, fileobj=upload, filename=upload.name)
    except services.StaffImportInvalid as exc:
        return _staff_page(request, scope, import_form=form, report=exc, status=422)
    except ApplicationError as exc:
        if exc.status in (403, 404):
            raise
        where = _("第%(row)s行：") % {"row": exc.row} if exc.row else ""
        form.add_error("file", f"{where}{exc.message}")
        return _staff_page(request, scope, import_form=form, status=exc.status)
    messages.success(
        request,
        _("名单已导入：共 %(rows)s 行，新增 %(created)s，更新 %(updated)s，未变 %(unchanged)s")
        % {"rows": result.rows, "created": result.created, "updated": result.updated, "unchanged": result.unchanged},
    )
    return redirect("integrity:staff_list")


@scoped
@require_GET
def staff_template(request: HttpRequest, scope: Scope, fmt: str) -> HttpResponse:
    _require_role(scope, services.RUN_ROLES, _("下载名单模板"))
    if fmt not in forms.TEMPLATE_FORMATS:
        raise NotFound()
    return download(forms.staff_template(fmt), f"doudi-staff-template.{fmt}", fmt)
