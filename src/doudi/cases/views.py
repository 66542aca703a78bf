"""Case workflow pages: my tasks, overdue lists, the kinship register, active discovery, intake, the case page and
every action on a case. Thin: each view resolves the caller's scope, reads through `cases.selectors` and writes
through `cases.services`; a refusal about the input re-renders the page with the field error (422), a refusal
about the case (already done, out of order, stale version) is the 409 page, wrong role 403, outside the region 404.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from doudi.cases import forms, selectors, services
from doudi.cases.choices import (
    KIN_POSITIONS,
    KIN_RELATIONS,
    ApplicationStatus,
    Level,
    ObjectionStatus,
    Program,
    StepStatus,
)
from doudi.cases.explain import explain_determination
from doudi.cases.models import CaseStep
from doudi.core.choices import Role
from doudi.core.errors import ApplicationError, PermissionDenied
from doudi.core.scope import Scope
from doudi.registry import selectors as registry_selectors
from doudi.verification import selectors as verification_selectors
from doudi.web.views import attempt, form_status, page, scoped

LIST_LIMIT = 200
INTAKE_PAGE_ROLES = services.INTAKE_ROLES  # the page is offered to exactly the roles the service accepts
ACT_FIRST_ROLES = services.CASE_OPEN_ROLES
DOCUMENT_ROLES = frozenset({Role.VILLAGE_WORKER, Role.TOWNSHIP_REVIEWER, Role.COUNTY_APPROVER, Role.ADMIN})
OBJECTION_ROLES = DOCUMENT_ROLES
RESOLVE_ROLES = frozenset({Role.TOWNSHIP_REVIEWER, Role.COUNTY_APPROVER, Role.ADMIN})
VISIT_LEVELS = {
    Role.TOWNSHIP_REVIEWER: (Level.TOWNSHIP,),
    Role.COUNTY_APPROVER: (Level.COUNTY,),
    Role.COUNTY_VERIFIER: (Level.COUNTY,),
    Role.ADMIN: (Level.TOWNSHIP, Level.COUNTY),
}
PUBLICITY_STEPS = {"publicity": "initial", "approval_publicity": "approval"}
CONCLUSION_LABELS = dict(forms.CONCLUSIONS)
RESULT_LABELS = dict(forms.RESULTS)


def _today() -> dt.date:
    return timezone.localdate()


def _version(data: dict[str, Any]) -> int:
    return int(data.get("version") or 0)


def _conflict(request: HttpRequest, exc: ApplicationError, application_id: int) -> HttpResponse:
    """The 409 page: the case changed, or the step is already done / not due; with a way back to the case."""
    return render(
        request,
        "cases/conflict.html",
        {"message": exc.message, "application_id": application_id},
        status=exc.status,
    )


# --- lists -------------------------------------------------------------------------------------------------------


@scoped
def task_list(request: HttpRequest, scope: Scope) -> HttpResponse:
    scope.require_personal()
    today = _today()
    tasks = list(selectors.tasks_for(scope=scope, today=today, limit=LIST_LIMIT))
    context = {
        "tasks": tasks,
        "today": today,
        "limit": LIST_LIMIT,
        "overdue_steps": selectors.overdue_steps(scope=scope, today=today).count(),
        "overdue_cases": selectors.overdue_cases(scope=scope, today=today).count(),
        "can_act_first": scope.role in ACT_FIRST_ROLES,
    }
    return page(request, scope, "cases/task_list.html", context)


@scoped
def overdue(request: HttpRequest, scope: Scope) -> HttpResponse:
    scope.require_personal()
    today = _today()
    context = {
        "today": today,
        "steps": list(selectors.overdue_steps(scope=scope, today=today)[:LIST_LIMIT]),
        "cases": list(
            selectors.overdue_cases(scope=scope, today=today).select_related("household", "region")[:LIST_LIMIT]
        ),
        "act_first": list(selectors.act_first_overdue(scope=scope, today=today)[:LIST_LIMIT]),
        "limit": LIST_LIMIT,
    }
    return page(request, scope, "cases/overdue.html", context)


@scoped
def kin_register(request: HttpRequest, scope: Scope) -> HttpResponse:
    rows = list(selectors.kin_register(scope=scope).select_related("household", "applicant", "region")[:LIST_LIMIT])
    context = {"rows": rows, "limit": LIST_LIMIT, "relations": KIN_RELATIONS, "positions": KIN_POSITIONS}
    return page(request, scope, "cases/kin_register.html", context)


@scoped
def discovery(request: HttpRequest, scope: Scope) -> HttpResponse:
    rows = list(selectors.discovery_candidates(scope=scope)[:LIST_LIMIT])
    context = {"rows": rows, "limit": LIST_LIMIT, "can_intake": scope.role in INTAKE_PAGE_ROLES}
    return page(request, scope, "cases/discovery.html", context)


# --- intake ------------------------------------------------------------------------------------------------------


def _household_id(request: HttpRequest) -> int | None:
    raw = request.GET.get("household") or request.POST.get("household") or ""
    return int(raw) if raw.isdigit() else None


def _member_choices(members: list[Any]) -> list[tuple[Any, Any]]:
    return [
        (m.person_id, f"{m.person.name}（{m.get_relation_display()}）") for m in members if m.person.death_date is None
    ]


@scoped
@require_http_methods(["GET", "POST"])
def application_new(request: HttpRequest, scope: Scope) -> HttpResponse:
    scope.require_personal()
    if scope.role not in INTAKE_PAGE_ROLES:
        raise PermissionDenied(_("您的角色不能受理救助申请"))
    household_id = _household_id(request)
    if household_id is None:
        return page(request, scope, "cases/application_form.html", {"detail": None, "form": None})
    detail = registry_selectors.household_detail(scope=scope, household_id=household_id)
    initial = {
        "received_on": _today(),
        "program": request.GET.get("program", ""),
        "discovered_by": request.GET.get("discovered_by", ""),
        "applicant_id": detail.household.head_id,
        "request_persons": len(detail.members) or 1,
    }
    subject = request.GET.get("person", "")
    if subject.isdigit():
        initial["subject_person_id"] = int(subject)
    program = (request.POST.get("program") if request.method == "POST" else None) or request.GET.get("program", "")
    form = forms.IntakeForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        members=_member_choices(detail.members),
        program=program,
    )

    def create(_data: dict[str, Any]) -> Any:
        return services.application_create(scope=scope, household_id=household_id, **form.service_values())

    app = attempt(form, create)
    if app is not None:
        messages.success(request, _("已受理申请，案件编号 %(id)s") % {"id": app.pk})
        return redirect("cases:application_detail", application_id=app.pk)
    context = {
        "detail": detail,
        "form": form,
        "program_label": Program(form.chosen_program).label if form.chosen_program else "",
        "programs": Program.choices,
        "carry": {k: request.GET.get(k, "") for k in ("discovered_by", "person") if request.GET.get(k)},
    }
    return page(request, scope, "cases/application_form.html", context, status=form_status(form))


@scoped
@require_http_methods(["GET", "POST"])
def act_first(request: HttpRequest, scope: Scope) -> HttpResponse:
    scope.require_personal()
    if scope.role not in ACT_FIRST_ROLES:
        raise PermissionDenied(_("先行救助须由乡镇（街道）审核人或县级审批人办理"))
    household_id = _household_id(request)
    if household_id is None:
        return page(request, scope, "cases/act_first.html", {"detail": None, "form": None})
    detail = registry_selectors.household_detail(scope=scope, household_id=household_id)
    form = forms.ActFirstForm(
        request.POST if request.method == "POST" else None,
        initial={"applicant_id": detail.household.head_id, "paid_on": _today()},
        members=_member_choices(detail.members),
    )

    def create(_data: dict[str, Any]) -> Any:
        return services.temporary_assistance_act_first(scope=scope, household_id=household_id, **form.service_values())

    app = attempt(form, create)
    if app is not None:
        messages.success(request, _("已先行救助，请在规定期限内补齐材料与审批手续"))
        return redirect("cases:application_detail", application_id=app.pk)
    return page(request, scope, "cases/act_first.html", {"detail": detail, "form": form}, status=form_status(form))


# --- the case page -----------------------------------------------------------------------------------------------


def _may(scope: Scope, roles: Any) -> bool:
    return scope.role == Role.ADMIN or scope.role in set(roles)


def _payload_lines(step: CaseStep) -> list[str]:
    """What was recorded at a step, in words."""
    p = step.payload or {}
    lines = []
    if "result" in p:
        lines.append(_("核对结果：%(v)s") % {"v": RESULT_LABELS.get(p["result"], p["result"])})
    if "participants" in p:
        lines.append(
            _("参加评议%(n)s人，其中村（居）民代表%(r)s人")
            % {"n": p.get("participants"), "r": p.get("villager_reps", "—")}
        )
    if "conclusion" in p:
        lines.append(_("评议结论：%(v)s") % {"v": CONCLUSION_LABELS.get(p["conclusion"], p["conclusion"])})
    if "recommend" in p:
        lines.append(_("审核意见：%(v)s") % {"v": _("同意") if p["recommend"] else _("不同意")})
    if "amount" in p:
        lines.append(_("金额：%(v)s 元") % {"v": p["amount"]})
    tier = p.get("tier")
    if isinstance(tier, dict) and tier.get("tier"):
        labels = {"township": _("乡镇（街道）审批"), "county": _("县级审批"), "one_case_one_discussion": _("一事一议")}
        lines.append(
            _("审批层级：%(tier)s（乡镇审批限额 %(ceiling)s 元）")
            % {"tier": labels.get(tier["tier"], tier["tier"]), "ceiling": tier.get("township_ceiling", "—")}
        )
    discussion = p.get("discussion")
    if isinstance(discussion, dict):
        lines.append(
            _("一事一议：%(date)s，%(n)s人参加，结论：%(c)s")
            % {
                "date": discussion.get("held_on", ""),
                "n": len(discussion.get("participants") or []),
                "c": discussion.get("conclusion", ""),
            }
        )
    if p.get("reasons"):
        lines.append(_("不予批准理由：%(v)s") % {"v": "；".join(str(r) for r in p["reasons"])})
    if p.get("delivered_on"):
        lines.append(_("送达日期：%(v)s") % {"v": p["delivered_on"]})
    return lines


def _complete_fields(step: CaseStep, program: str) -> list[str]:
    """The payload fields the current step asks for."""
    names: list[str] = []
    if step.code == "verification":
        names.append("result")
    if "review_attendance" in step.guards:
        names += ["held_on", "participants", "villager_reps", "conclusion"]
    if step.code == "township_opinion":
        names.append("recommend")
    if "ta_amount" in step.guards:
        names.append("amount")
    if step.decides and program != Program.DIBAO and "amount" not in names:
        names.append("amount")
    if "ta_tier" in step.guards and step.decides:
        names += ["discussion_held_on", "discussion_participants", "discussion_conclusion"]
    if step.code == "notice":
        names.append("delivered_on")
    return names


def _amount_label(step: CaseStep, program: str) -> str:
    if "ta_amount" in step.guards:
        return _("建议救助金额（元）")
    if program == Program.TEMPORARY_ASSISTANCE:
        return _("批准救助金额（元，不填按乡镇建议金额）")
    return _("核定金额（元，仅规则无法测算时填写）")


def _case_context(
    request: HttpRequest, scope: Scope, application_id: int, bound: dict[str, django_forms.Form]
) -> dict[str, Any]:
    data = selectors.case_page(scope=scope, application_id=application_id)
    app = data.application
    today = _today()
    in_progress = app.status == ApplicationStatus.IN_PROGRESS
    current = next((s for s in data.steps if s.code == app.current_step and s.status == StepStatus.PENDING), None)
    version = {"version": app.version}
    ctx: dict[str, Any] = {
        "app": app,
        "steps": [(s, _payload_lines(s)) for s in data.steps],
        "current": current,
        "visits": data.visits,
        "publicities": data.publicities,
        "decision": data.decision,
        "today": today,
        "members": [m for m in data.members if m.end_date is None],
        "document_labels": app.workflow.config.get("documents", {}),
        "county_visit_reasons": services.county_visit_required(app),
        "kin_relations": KIN_RELATIONS,
        "kin_positions": KIN_POSITIONS,
        "verification": verification_selectors.case_section_for(scope=scope, application=app, steps=data.steps),
    }
    if current is not None:
        can_act = _may(scope, current.roles)
        complete = bound.get("complete") or forms.StepCompleteForm(
            initial={**version}, auto_id="complete_%s"
        )
        complete.fields["amount"].label = _amount_label(current, app.program)
        ctx.update(
            can_act=can_act,
            complete_form=complete,
            complete_fields=[complete[name] for name in _complete_fields(current, app.program)],
            can_skip=current.optional and _may(scope, {*current.roles, *services.CASE_OPEN_ROLES}),
            skip_form=bound.get("skip")
            or forms.StepSkipForm(initial=version, auto_id="skip_%s"),
            can_refuse=current.refusable and can_act,
            refuse_form=bound.get("refuse")
            or forms.RefuseForm(
                initial={**version, "step_code": current.code}, auto_id="refuse_%s"
            ),
        )
        stage = PUBLICITY_STEPS.get(current.code)
        if stage and can_act and not any(p.stage == stage for p in data.publicities):
            ctx["publicity_form"] = bound.get("publicity") or forms.PublicityForm(
                initial={**version, "step_code": current.code, "start_date": today, "place": _("村务公开栏")},
                auto_id="publicity_%s",
            )
    if in_progress:
        if _may(scope, DOCUMENT_ROLES):
            ctx["documents_form"] = bound.get("documents") or forms.DocumentsForm(
                initial={
                    **version,
                    "documents": [code for code, ok in app.documents.items() if ok],
                    "verification_authorised": app.verification_authorised,
                    "authorised_on": app.authorised_on,
                },
                documents=ctx["document_labels"],
                auto_id="documents_%s",
            )
        levels = VISIT_LEVELS.get(Role(scope.role)) if scope.role in Role.values else None
        if levels:
            visit_form = bound.get("visit") or forms.HomeVisitForm(
                initial={**version, "visited_on": today, "level": levels[0]}, auto_id="visit_%s"
            )
            level_field = visit_form.fields["level"]
            assert isinstance(level_field, django_forms.ChoiceField)
            labels = {Level.TOWNSHIP: _("乡镇（街道）入户调查"), Level.COUNTY: _("县级入户核查")}
            level_field.choices = [(level, labels[level]) for level in levels]
            ctx["visit_form"] = visit_form
    objection_forms = []
    bound_objection = bound.get("objection")
    bound_resolve = bound.get("resolve")
    for publicity in data.publicities:
        add_form = None
        # Objections are recorded while the publicity's step is the current one.
        receiving = current is not None and PUBLICITY_STEPS.get(current.code) == publicity.stage
        if receiving and in_progress and _may(scope, OBJECTION_ROLES):
            if bound_objection is not None and str(bound_objection.data.get("publicity_id")) == str(publicity.pk):
                add_form = bound_objection
            else:
                add_form = forms.ObjectionForm(
                    initial={**version, "publicity_id": publicity.pk, "received_on": today},
                    auto_id=f"objection{publicity.pk}_%s",
                )
        rows = []
        for objection in publicity.objections.all():
            resolve_form = None
            if objection.status == ObjectionStatus.OPEN and in_progress and _may(scope, RESOLVE_ROLES):
                resolve_form = (
                    bound_resolve
                    if bound_resolve is not None and getattr(bound_resolve, "objection_id", None) == objection.pk
                    else forms.ObjectionResolveForm(initial=version, auto_id=f"resolve{objection.pk}_%s")
                )
            rows.append((objection, resolve_form))
        objection_forms.append((publicity, add_form, rows))
    ctx["publicity_rows"] = objection_forms
    if data.decision is not None:
        names = {str(m.person_id): m.person.name for m in data.members}
        ctx["explanation"] = explain_determination(data.decision.determination, names)
    return ctx


def _detail(
    request: HttpRequest,
    scope: Scope,
    application_id: int,
    bound: dict[str, django_forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    context = _case_context(request, scope, application_id, bound or {})
    return page(request, scope, "cases/application_detail.html", context, status=status)


@scoped
def application_detail(request: HttpRequest, scope: Scope, application_id: int) -> HttpResponse:
    return _detail(request, scope, application_id)


def _act(
    request: HttpRequest,
    scope: Scope,
    application_id: int,
    key: str,
    form: django_forms.Form,
    call: Callable[[dict[str, Any]], Any],
    success: str,
) -> HttpResponseBase:
    """Run one action; success → back to the case with a message; refusal → the case page with the error."""
    scope.require_personal()
    selectors.application_get(scope=scope, application_id=application_id)  # 404 outside the region
    assert isinstance(form, forms.CaseForm)
    try:
        result = attempt(form, call)
    except ApplicationError as exc:
        if exc.status == 409:
            return _conflict(request, exc, application_id)
        raise
    if result is not None:
        messages.success(request, success)
        return redirect("cases:application_detail", application_id=application_id)
    return _detail(request, scope, application_id, {key: form}, status=form_status(form))


def _step(scope: Scope, application_id: int, code: str) -> CaseStep | None:
    data = selectors.application_steps(scope=scope, application_id=application_id)
    return next((s for s in data if s.code == code), None)


@scoped
@require_POST
def step_complete(request: HttpRequest, scope: Scope, application_id: int, code: str) -> HttpResponseBase:
    step = _step(scope, application_id, code)
    form = forms.StepCompleteForm(request.POST, auto_id="complete_%s")

    def run(data: dict[str, Any]) -> Any:
        return services.step_complete(
            scope=scope,
            application_id=application_id,
            version=_version(data),
            step_code=code,
            comment=data.get("comment", ""),
            payload=form.payload(),
            today=data.get("acted_on"),
        )

    name = step.name if step else code
    return _act(request, scope, application_id, "complete", form, run, _("已办结“%(step)s”") % {"step": name})


@scoped
@require_POST
def step_skip(request: HttpRequest, scope: Scope, application_id: int, code: str) -> HttpResponseBase:
    step = _step(scope, application_id, code)
    form = forms.StepSkipForm(request.POST, auto_id="skip_%s")

    def run(data: dict[str, Any]) -> Any:
        return services.step_skip(
            scope=scope,
            application_id=application_id,
            version=_version(data),
            step_code=code,
            reason=data.get("reason", ""),
            today=data.get("acted_on"),
        )

    name = step.name if step else code
    return _act(request, scope, application_id, "skip", form, run, _("已跳过“%(step)s”") % {"step": name})


@scoped
@require_POST
def application_refuse(request: HttpRequest, scope: Scope, application_id: int) -> HttpResponseBase:
    app = selectors.application_get(scope=scope, application_id=application_id)
    code = request.POST.get("step_code") or app.current_step
    form = forms.RefuseForm(request.POST, auto_id="refuse_%s")

    def run(data: dict[str, Any]) -> Any:
        return services.application_refuse(
            scope=scope,
            application_id=application_id,
            version=_version(data),
            step_code=code,
            reasons=form.reason_list(),
            comment=data.get("comment", ""),
            today=data.get("acted_on"),
        )

    return _act(request, scope, application_id, "refuse", form, run, _("已作出不予批准决定，请送达书面通知"))


@scoped
@require_POST
def documents_update(request: HttpRequest, scope: Scope, application_id: int) -> HttpResponseBase:
    app = selectors.application_get(scope=scope, application_id=application_id)
    labels: dict[str, str] = app.workflow.config.get("documents", {})
    form = forms.DocumentsForm(request.POST, documents=labels, auto_id="documents_%s")

    def run(data: dict[str, Any]) -> Any:
        ticked = set(data.get("documents") or [])
        authorised = bool(data.get("verification_authorised"))
        return services.application_documents_update(
            scope=scope,
            application_id=application_id,
            version=_version(data),
            documents={code: code in ticked for code in labels},
            verification_authorised=authorised,
            authorised_on=data.get("authorised_on") if authorised else None,
        )

    return _act(request, scope, application_id, "documents", form, run, _("申请材料已更新"))


@scoped
@require_POST
def home_visit_add(request: HttpRequest, scope: Scope, application_id: int) -> HttpResponseBase:
    form = forms.HomeVisitForm(request.POST, auto_id="visit_%s")

    def run(data: dict[str, Any]) -> Any:
        return services.home_visit_record(
            scope=scope,
            application_id=application_id,
            version=_version(data),
            level=data.get("level") or Level.TOWNSHIP,
            visited_on=data.get("visited_on") or "",
            investigators=forms.split_names(data.get("investigators") or ""),
            members_present=forms.split_names(data.get("members_present") or ""),
            findings=data.get("findings") or "",
            conforms=data.get("conforms") is not False,
        )

    return _act(request, scope, application_id, "visit", form, run, _("已登记入户调查"))


@scoped
@require_POST
def publicity_start(request: HttpRequest, scope: Scope, application_id: int) -> HttpResponseBase:
    app = selectors.application_get(scope=scope, application_id=application_id)
    form = forms.PublicityForm(request.POST, auto_id="publicity_%s")

    def run(data: dict[str, Any]) -> Any:
        return services.publicity_start(
            scope=scope,
            application_id=application_id,
            version=_version(data),
            step_code=data.get("step_code") or app.current_step,
            start_date=data.get("start_date") or "",
            place=data.get("place") or "",
        )

    return _act(request, scope, application_id, "publicity", form, run, _("已开始公示"))


@scoped
@require_POST
def objection_add(request: HttpRequest, scope: Scope, application_id: int) -> HttpResponseBase:
    form = forms.ObjectionForm(request.POST, auto_id=f"objection{request.POST.get('publicity_id', '')}_%s")

    def run(data: dict[str, Any]) -> Any:
        return services.objection_record(
            scope=scope,
            application_id=application_id,
            version=_version(data),
            publicity_id=data.get("publicity_id") or 0,
            received_on=data.get("received_on") or "",
            content=data.get("content") or "",
            real_name=bool(data.get("real_name")),
        )

    return _act(request, scope, application_id, "objection", form, run, _("已登记公示异议，请及时核实"))


@scoped
@require_POST
def objection_resolve(request: HttpRequest, scope: Scope, application_id: int, objection_id: int) -> HttpResponseBase:
    form = forms.ObjectionResolveForm(request.POST, auto_id=f"resolve{objection_id}_%s")
    form.objection_id = objection_id  # type: ignore[attr-defined]

    def run(data: dict[str, Any]) -> Any:
        if data.get("upheld") is None:
            raise ApplicationError("required", _("请选择核实结论"), "upheld")
        return services.objection_resolve(
            scope=scope,
            application_id=application_id,
            version=_version(data),
            objection_id=objection_id,
            upheld=bool(data["upheld"]),
            resolution=data.get("resolution") or "",
        )

    return _act(request, scope, application_id, "resolve", form, run, _("已保存异议核实结论"))
