"""Case-workflow endpoints: tasks, cases and their steps, home visits, publicity, objections, act-first help,
recipients, rechecks, change reports, deaths and spot checks.

Each endpoint parses, calls one service or selector with the caller's scope, and shapes the answer with an explicit
field list. Roles, region scope, step order and optimistic locking (`version` → 409) live in the services and
selectors; supervisors get 403 from them on every case read and write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status

from doudi.cases import selectors, services
from doudi.cases.choices import (
    ApplicationStatus,
    ObjectionStatus,
    Outcome,
    Program,
    PublicityStage,
    RecheckStatus,
    RecipientStatus,
    StepStatus,
)
from doudi.cases.models import (
    Application,
    CaseStep,
    Decision,
    Determination,
    HomeVisit,
    Objection,
    Publicity,
    Recheck,
    Recipient,
    RecipientStatusChange,
    SpotCheckBatch,
)
from doudi.cases.schemas import (
    ActFirstIn,
    CaseCreateIn,
    CaseDetailOut,
    CasePageOut,
    ChangeReportIn,
    ChangeReportOut,
    DeathIn,
    DeathOut,
    DocumentsIn,
    HomeVisitIn,
    HomeVisitOut,
    ObjectionIn,
    ObjectionOut,
    ObjectionResolveIn,
    OverdueOut,
    PublicityIn,
    PublicityOut,
    RecheckOut,
    RecipientDetailOut,
    RecipientPageOut,
    RecipientStatusIn,
    RefuseIn,
    SpotCheckIn,
    SpotCheckOut,
    StepCompleteIn,
    StepSkipIn,
    TaskListOut,
)
from doudi.core.api import ERRORS, ErrorOut, request_scope
from doudi.core.scope import Scope

router = Router(tags=["cases"])
WRITE_ERRORS: dict[int | frozenset[int], Any] = {frozenset({401, 403, 404, 409, 422}): ErrorOut}


def _today() -> dt.date:
    return timezone.localdate()


def _month(value: dt.date | None) -> str | None:
    return f"{value:%Y-%m}" if value is not None else None


def _user_name(user: Any) -> str | None:
    return (user.full_name or user.username) if user is not None else None


# --- shaping (explicit fields only) ------------------------------------------------------------------------------


def _case_item(app: Application, today: dt.date) -> dict[str, Any]:
    return {
        "id": app.pk,
        "program": app.program,
        "program_label": str(Program(app.program).label),
        "kind": app.kind,
        "household_id": app.household_id,
        "household_number": app.household.number,
        "applicant_id": app.applicant_id,
        "applicant_name": app.applicant.name,
        "region_code": app.region_id,
        "region_name": app.region.name,
        "status": app.status,
        "status_label": str(ApplicationStatus(app.status).label),
        "current_step": app.current_step,
        "received_on": app.received_on,
        "due_date": app.due_date,
        "overdue": bool(app.status == ApplicationStatus.IN_PROGRESS and app.due_date and app.due_date < today),
        "version": app.version,
    }


def _step(step: CaseStep, today: dt.date) -> dict[str, Any]:
    region = step.responsible_region
    return {
        "code": step.code,
        "name": step.name,
        "order": step.order,
        "level": step.level,
        "roles": list(step.roles),
        "optional": step.optional,
        "decides": step.decides,
        "refusable": step.refusable,
        "status": step.status,
        "status_label": str(StepStatus(step.status).label),
        "responsible_region_code": region.code if region else None,
        "responsible_region_name": region.name if region else None,
        "opened_on": step.opened_on,
        "due_date": step.due_date,
        "overdue": bool(step.status == StepStatus.PENDING and step.due_date and step.due_date < today),
        "actor_name": _user_name(step.actor),
        "acted_at": step.acted_at,
        "comment": step.comment,
        "record": dict(step.payload or {}),
        "basis": step.basis,
    }


def _visit(visit: HomeVisit, case_version: int) -> dict[str, Any]:
    return {
        "id": visit.pk,
        "level": visit.level,
        "visited_on": visit.visited_on,
        "investigators": list(visit.investigators),
        "members_present": list(visit.members_present),
        "findings": visit.findings,
        "conforms": visit.conforms,
        "case_version": case_version,
    }


def _objection(objection: Objection, case_version: int) -> dict[str, Any]:
    return {
        "id": objection.pk,
        "publicity_id": objection.publicity_id,
        "received_on": objection.received_on,
        "content": objection.content,
        "real_name": objection.real_name,
        "status": objection.status,
        "status_label": str(ObjectionStatus(objection.status).label),
        "resolution": objection.resolution,
        "resolved_on": objection.resolved_on,
        "case_version": case_version,
    }


def _publicity(publicity: Publicity, case_version: int) -> dict[str, Any]:
    return {
        "id": publicity.pk,
        "stage": publicity.stage,
        "stage_label": str(PublicityStage(publicity.stage).label),
        "place": publicity.place,
        "start_date": publicity.start_date,
        "end_date": publicity.end_date,
        "objections": [_objection(o, case_version) for o in publicity.objections.all()],
        "case_version": case_version,
    }


def _determination(det: Determination | None) -> dict[str, Any] | None:
    if det is None:
        return None
    output: dict[str, Any] = det.output if isinstance(det.output, dict) else {}
    trace = [t for t in output.get("trace", []) if isinstance(t, dict)]
    labels = {t.get("name"): t.get("label") for t in trace}
    failed = [str(name) for name in output.get("failed_tests", [])]
    return {
        "id": det.pk,
        "as_of": det.as_of,
        "rules_available": det.rules_available,
        "rules_version": det.rules_version,
        "eligible": det.eligible,
        "monthly_amount": det.monthly_amount,
        "failed_tests": [str(labels.get(name) or name) for name in failed],
        "failed_test_codes": failed,
        "trace": [
            {
                "name": str(t.get("name", "")),
                "label": str(t.get("label", "")),
                "value": t.get("value"),
                "reference": t.get("reference"),
            }
            for t in trace
        ],
        "parameters_used": [
            {
                "path": str(p.get("path", "")),
                "value": p.get("value"),
                "effective_from": p.get("effective_from"),
                "reference": p.get("reference"),
                "confirmed": p.get("confirmed"),
            }
            for p in output.get("parameters_used", [])
            if isinstance(p, dict)
        ],
        "message": str(output.get("message", "")),
    }


def _decision(decision: Decision | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {
        "outcome": decision.outcome,
        "outcome_label": str(Outcome(decision.outcome).label),
        "reasons": [str(r) for r in decision.reasons],
        "amount": decision.amount,
        "decided_on": decision.decided_on,
        "effective_month": _month(decision.effective_month),
        "act_first": decision.act_first,
    }


def _case_detail(scope: Scope, application_id: int) -> dict[str, Any]:
    page = selectors.case_page(scope=scope, application_id=application_id)
    app = page.application
    today = _today()
    decision = page.decision
    return {
        **_case_item(app, today),
        "rule_set": app.rule_set,
        "household_address": app.household.address,
        "subject_person_id": app.subject_person_id,
        "subject_person_name": app.subject_person.name if app.subject_person else None,
        "discovered_by": app.discovered_by,
        "intake_level": app.intake_level,
        "documents": {str(k): bool(v) for k, v in (app.documents or {}).items()},
        "documents_labels": {str(k): str(v) for k, v in app.workflow.config.get("documents", {}).items()},
        "verification_authorised": app.verification_authorised,
        "authorised_on": app.authorised_on,
        "kin_declared": app.kin_declared,
        "kin_details": [
            {
                "name": str(k.get("name", "")),
                "relation": str(k.get("relation", "")),
                "position": str(k.get("position", "")),
                "organisation": str(k.get("organisation", "")),
            }
            for k in app.kin_details or []
        ],
        "disputed": app.disputed,
        "spot_check_batch_id": app.spot_check_batch_id,
        "spot_check_selected": app.spot_check_selected,
        "county_visit_required": services.county_visit_required(app),
        "request": dict(app.request or {}),
        "recipient_id": app.recipient_id,
        "steps": [_step(s, today) for s in page.steps],
        "home_visits": [_visit(v, app.version) for v in page.visits],
        "publicities": [_publicity(p, app.version) for p in page.publicities],
        "determination": _determination(decision.determination if decision else None),
        "decision": _decision(decision),
    }


def _case_version(scope: Scope, application_id: int) -> int:
    return selectors.application_get(scope=scope, application_id=application_id).version


def _task(step: CaseStep, today: dt.date) -> dict[str, Any]:
    app = step.application
    return {
        "application_id": app.pk,
        "program": app.program,
        "program_label": str(Program(app.program).label),
        "kind": app.kind,
        "household_number": app.household.number,
        "applicant_name": app.applicant.name,
        "region_name": app.region.name,
        "step_code": step.code,
        "step_name": step.name,
        "level": step.level,
        "opened_on": step.opened_on,
        "due_date": step.due_date,
        "overdue": bool(step.due_date and step.due_date < today),
        "version": app.version,
    }


def _recipient(recipient: Recipient) -> dict[str, Any]:
    person = recipient.person
    head = recipient.household.head
    return {
        "id": recipient.pk,
        "program": recipient.program,
        "program_label": str(Program(recipient.program).label),
        "household_id": recipient.household_id,
        "household_number": recipient.household.number,
        "person_id": recipient.person_id,
        "name": person.name if person else (head.name if head else None),
        "region_code": recipient.region_id,
        "region_name": recipient.region.name,
        "status": recipient.status,
        "status_label": str(RecipientStatus(recipient.status).label),
        "start_month": _month(recipient.start_month),
        "end_month": _month(recipient.end_month),
        "monthly_amount": recipient.monthly_amount,
        "recheck_category": recipient.recheck_category,
        "application_id": recipient.application_id,
        "version": recipient.version,
    }


def _recheck(recheck: Recheck, today: dt.date, recipient: Recipient | None = None) -> dict[str, Any]:
    owner = recipient or recheck.recipient
    return {
        "id": recheck.pk,
        "recipient_id": recheck.recipient_id,
        "household_id": owner.household_id,
        "program": owner.program,
        "due_date": recheck.due_date,
        "category": recheck.category,
        "reason": recheck.reason,
        "status": recheck.status,
        "status_label": str(RecheckStatus(recheck.status).label),
        "application_id": recheck.application_id,
        "overdue": bool(recheck.status in (RecheckStatus.SCHEDULED, RecheckStatus.OPEN) and recheck.due_date < today),
        "note": recheck.note,
    }


def _status_change(change: RecipientStatusChange) -> dict[str, Any]:
    return {
        "from_status": change.from_status,
        "to_status": change.to_status,
        "effective_month": _month(change.effective_month),
        "monthly_amount": change.monthly_amount,
        "reason": change.reason,
        "source": change.source,
        "application_id": change.application_id,
        "at": change.at,
    }


def _spot_check(batch: SpotCheckBatch) -> dict[str, Any]:
    return {
        "id": batch.pk,
        "region_code": batch.region_id,
        "region_name": batch.region.name,
        "program": batch.program,
        "ratio": f"{batch.ratio:.2f}",
        "population": [int(i) for i in batch.population],
        "mandatory": [int(i) for i in batch.mandatory],
        "sample": [int(i) for i in batch.sample],
        "created_at": batch.created_at,
    }


def _tasks(steps: Iterable[CaseStep], today: dt.date) -> list[dict[str, Any]]:
    return [_task(s, today) for s in steps]


# --- tasks and case lists -----------------------------------------------------------------------------------------


@router.get(
    "/cases/tasks", response={200: TaskListOut, **ERRORS}, url_name="case_task_list", summary="我的待办（按办理时限）"
)
def case_task_list(request: HttpRequest, limit: int = Query(200, ge=1, le=500)) -> Any:
    scope = request_scope(request)
    today = _today()
    steps = selectors.tasks_for(scope=scope, today=today, limit=limit)
    return {
        "items": _tasks(steps, today),
        "overdue_steps": selectors.overdue_steps(scope=scope, today=today).count(),
        "overdue_cases": selectors.overdue_cases(scope=scope, today=today).count(),
    }


@router.get(
    "/cases/overdue",
    response={200: OverdueOut, **ERRORS},
    url_name="case_overdue",
    summary="超期环节、超期案件和先行救助逾期未补办",
)
def case_overdue(request: HttpRequest, level: str = "", limit: int = Query(200, ge=1, le=500)) -> Any:
    scope = request_scope(request)
    today = _today()
    steps = selectors.overdue_steps(scope=scope, today=today, level=level or None).select_related(
        "application__household", "application__applicant"
    )
    cases = selectors.overdue_cases(scope=scope, today=today).select_related("household", "region")
    act_first = selectors.act_first_overdue(scope=scope, today=today).select_related(
        "application__household", "application__applicant"
    )
    return {
        "steps": _tasks(steps[:limit], today),
        "cases": [
            {
                "id": app.pk,
                "program": app.program,
                "household_number": app.household.number,
                "region_name": app.region.name,
                "current_step": app.current_step,
                "received_on": app.received_on,
                "due_date": app.due_date,
            }
            for app in cases[:limit]
        ],
        "act_first": _tasks(act_first[:limit], today),
    }


@router.get("/cases", response={200: CasePageOut, **ERRORS}, url_name="case_list", summary="查询案件")
def case_list(
    request: HttpRequest,
    program: str = "",
    status: str = "",
    kind: str = "",
    step: str = "",
    household: int | None = None,
    after: int | None = None,
    page_size: int = Query(selectors.API_PAGE_SIZE, ge=1, le=selectors.API_MAX_PAGE_SIZE),
) -> Any:
    rows, next_after = selectors.application_search(
        scope=request_scope(request),
        program=program,
        status=status,
        kind=kind,
        current_step=step,
        household_id=household,
        after=after,
        page_size=page_size,
    )
    today = _today()
    return {"items": [_case_item(a, today) for a in rows], "next_after": next_after, "page_size": page_size}


@router.post("/cases", response={201: CaseDetailOut, **WRITE_ERRORS}, url_name="case_create", summary="受理申请")
def case_create(request: HttpRequest, payload: CaseCreateIn) -> Status[Any]:
    scope = request_scope(request)
    app = services.application_create(
        scope=scope,
        program=payload.program,
        household_id=payload.household_id,
        applicant_id=payload.applicant_id,
        received_on=payload.received_on,
        subject_person_id=payload.subject_person_id,
        documents=payload.documents,
        kin_declared=payload.kin_declared,
        kin_details=[k.dict() for k in payload.kin_details],
        verification_authorised=payload.verification_authorised,
        authorised_on=payload.authorised_on,
        discovered_by=payload.discovered_by,
        request=payload.request,
    )
    return Status(201, _case_detail(scope, app.pk))


@router.post(
    "/cases/act-first",
    response={201: CaseDetailOut, **WRITE_ERRORS},
    url_name="case_act_first",
    summary="临时救助先行救助（先救助、后补办）",
)
def case_act_first(request: HttpRequest, payload: ActFirstIn) -> Status[Any]:
    scope = request_scope(request)
    app = services.temporary_assistance_act_first(
        scope=scope,
        household_id=payload.household_id,
        applicant_id=payload.applicant_id,
        amount=payload.amount,
        reason=payload.reason,
        paid_on=payload.paid_on,
        request_type=payload.request_type,
        documents=payload.documents,
    )
    return Status(201, _case_detail(scope, app.pk))


@router.get(
    "/cases/{int:application_id}",
    response={200: CaseDetailOut, **ERRORS},
    url_name="case_detail",
    summary="案件详情：环节、入户调查、公示、测算结果和决定",
)
def case_detail(request: HttpRequest, application_id: int) -> Any:
    return _case_detail(request_scope(request), application_id)


# --- acting on a case -------------------------------------------------------------------------------------------


@router.post(
    "/cases/{int:application_id}/steps/{code}/complete",
    response={200: CaseDetailOut, **WRITE_ERRORS},
    url_name="case_step_complete",
    summary="办结当前环节（作出决定的环节即为批准）",
)
def case_step_complete(request: HttpRequest, application_id: int, code: str, payload: StepCompleteIn) -> Any:
    scope = request_scope(request)
    services.step_complete(
        scope=scope,
        application_id=application_id,
        version=payload.version,
        step_code=code,
        comment=payload.comment,
        payload=payload.payload,
        today=payload.acted_on,
    )
    return _case_detail(scope, application_id)


@router.post(
    "/cases/{int:application_id}/steps/{code}/skip",
    response={200: CaseDetailOut, **WRITE_ERRORS},
    url_name="case_step_skip",
    summary="跳过可选环节（须说明原因）",
)
def case_step_skip(request: HttpRequest, application_id: int, code: str, payload: StepSkipIn) -> Any:
    scope = request_scope(request)
    services.step_skip(
        scope=scope,
        application_id=application_id,
        version=payload.version,
        step_code=code,
        reason=payload.reason,
        today=payload.acted_on,
    )
    return _case_detail(scope, application_id)


@router.post(
    "/cases/{int:application_id}/refuse",
    response={200: CaseDetailOut, **WRITE_ERRORS},
    url_name="case_refuse",
    summary="不予批准（须书面说明理由）",
)
def case_refuse(request: HttpRequest, application_id: int, payload: RefuseIn) -> Any:
    scope = request_scope(request)
    services.application_refuse(
        scope=scope,
        application_id=application_id,
        version=payload.version,
        step_code=payload.step_code,
        reasons=payload.reasons,
        comment=payload.comment,
        payload=payload.payload,
        today=payload.acted_on,
    )
    return _case_detail(scope, application_id)


@router.post(
    "/cases/{int:application_id}/documents",
    response={200: CaseDetailOut, **WRITE_ERRORS},
    url_name="case_documents",
    summary="补充申请材料、核对授权书",
)
def case_documents(request: HttpRequest, application_id: int, payload: DocumentsIn) -> Any:
    scope = request_scope(request)
    services.application_documents_update(
        scope=scope,
        application_id=application_id,
        version=payload.version,
        documents=payload.documents,
        verification_authorised=payload.verification_authorised,
        authorised_on=payload.authorised_on,
    )
    return _case_detail(scope, application_id)


@router.post(
    "/cases/{int:application_id}/visits",
    response={201: HomeVisitOut, **WRITE_ERRORS},
    url_name="case_visit_add",
    summary="登记入户调查（调查人员不少于2人）",
)
def case_visit_add(request: HttpRequest, application_id: int, payload: HomeVisitIn) -> Status[Any]:
    scope = request_scope(request)
    visit = services.home_visit_record(
        scope=scope,
        application_id=application_id,
        version=payload.version,
        level=payload.level,
        visited_on=payload.visited_on,
        investigators=payload.investigators,
        findings=payload.findings,
        members_present=payload.members_present,
        conforms=payload.conforms,
    )
    return Status(201, _visit(visit, _case_version(scope, application_id)))


@router.post(
    "/cases/{int:application_id}/publicity",
    response={201: PublicityOut, **WRITE_ERRORS},
    url_name="case_publicity_start",
    summary="发布公示（7天）",
)
def case_publicity_start(request: HttpRequest, application_id: int, payload: PublicityIn) -> Status[Any]:
    scope = request_scope(request)
    publicity = services.publicity_start(
        scope=scope,
        application_id=application_id,
        version=payload.version,
        step_code=payload.step_code,
        start_date=payload.start_date,
        place=payload.place,
    )
    return Status(201, _publicity(publicity, _case_version(scope, application_id)))


@router.post(
    "/cases/{int:application_id}/objections",
    response={201: ObjectionOut, **WRITE_ERRORS},
    url_name="case_objection_add",
    summary="登记公示期间的异议或举报",
)
def case_objection_add(request: HttpRequest, application_id: int, payload: ObjectionIn) -> Status[Any]:
    scope = request_scope(request)
    objection = services.objection_record(
        scope=scope,
        application_id=application_id,
        version=payload.version,
        publicity_id=payload.publicity_id,
        received_on=payload.received_on,
        content=payload.content,
        real_name=payload.real_name,
    )
    return Status(201, _objection(objection, _case_version(scope, application_id)))


@router.post(
    "/cases/{int:application_id}/objections/{int:objection_id}/resolve",
    response={200: ObjectionOut, **WRITE_ERRORS},
    url_name="case_objection_resolve",
    summary="核实处理异议",
)
def case_objection_resolve(
    request: HttpRequest, application_id: int, objection_id: int, payload: ObjectionResolveIn
) -> Any:
    scope = request_scope(request)
    objection = services.objection_resolve(
        scope=scope,
        application_id=application_id,
        version=payload.version,
        objection_id=objection_id,
        upheld=payload.upheld,
        resolution=payload.resolution,
    )
    return _objection(objection, _case_version(scope, application_id))


# --- recipients and dynamic management ----------------------------------------------------------------------------


@router.get(
    "/recipients", response={200: RecipientPageOut, **ERRORS}, url_name="recipient_list", summary="查询救助对象"
)
def recipient_list(
    request: HttpRequest,
    program: str = "",
    status: str = Query("live", description="live（正常、渐退、暂停）、all，或一个状态"),
    village: str = "",
    after: int | None = None,
    page_size: int = Query(selectors.RECIPIENT_PAGE_SIZE, ge=1, le=selectors.FOLLOWUP_LIST_LIMIT),
) -> Any:
    page = selectors.recipient_page(
        scope=request_scope(request),
        program=program,
        status=status,
        village_code=village,
        after=after,
        page_size=page_size,
    )
    return {"items": [_recipient(r) for r in page.items], "next_after": page.next_after, "page_size": page_size}


def _recipient_detail(scope: Scope, recipient_id: int) -> dict[str, Any]:
    detail = selectors.recipient_detail(scope=scope, recipient_id=recipient_id)
    today = _today()
    return {
        **_recipient(detail.recipient),
        "history": [_status_change(c) for c in detail.history],
        "rechecks": [_recheck(r, today, detail.recipient) for r in detail.rechecks],
    }


@router.get(
    "/recipients/{int:recipient_id}",
    response={200: RecipientDetailOut, **ERRORS},
    url_name="recipient_detail",
    summary="救助对象详情：状态变更和复查",
)
def recipient_detail(request: HttpRequest, recipient_id: int) -> Any:
    return _recipient_detail(request_scope(request), recipient_id)


@router.post(
    "/recipients/{int:recipient_id}/status",
    response={200: RecipientDetailOut, **WRITE_ERRORS},
    url_name="recipient_status",
    summary="变更救助对象状态（暂停、恢复、渐退、终止）",
)
def recipient_status(request: HttpRequest, recipient_id: int, payload: RecipientStatusIn) -> Any:
    scope = request_scope(request)
    services.recipient_status_change(
        scope=scope,
        recipient_id=recipient_id,
        version=payload.version,
        to_status=payload.to_status,
        reason=payload.reason,
        effective_month=f"{payload.effective_month}-01",
    )
    return _recipient_detail(scope, recipient_id)


@router.get(
    "/rechecks", response={200: list[RecheckOut], **ERRORS}, url_name="recheck_list", summary="到期和临近的复查"
)
def recheck_list(request: HttpRequest, within_days: int = Query(30, ge=0, le=366)) -> Any:
    today = _today()
    return [
        _recheck(r, today)
        for r in selectors.rechecks_due(scope=request_scope(request), today=today, within_days=within_days)
    ]


@router.post(
    "/rechecks/{int:recheck_id}/open",
    response={200: RecheckOut, **WRITE_ERRORS},
    url_name="recheck_open",
    summary="启动复查（开立复查案件）",
)
def recheck_open(request: HttpRequest, recheck_id: int) -> Any:
    recheck = services.recheck_open(scope=request_scope(request), recheck_id=recheck_id)
    return _recheck(recheck, _today())


@router.post(
    "/change-reports",
    response={201: ChangeReportOut, **WRITE_ERRORS},
    url_name="change_report_create",
    summary="登记家庭情况变更（启动复查）",
)
def change_report_create(request: HttpRequest, payload: ChangeReportIn) -> Status[Any]:
    report = services.change_report_create(
        scope=request_scope(request),
        household_id=payload.household_id,
        kind=payload.kind,
        reported_on=payload.reported_on,
        details=payload.details,
        person_id=payload.person_id,
        person_version=payload.person_version,
        death_date=payload.death_date,
    )
    return Status(
        201,
        {
            "id": report.pk,
            "household_id": report.household_id,
            "person_id": report.person_id,
            "kind": report.kind,
            "reported_on": report.reported_on,
            "details": dict(report.details or {}),
        },
    )


@router.post(
    "/persons/{int:person_id}/death",
    response={200: DeathOut, **WRITE_ERRORS},
    url_name="person_death",
    summary="登记死亡（次月停发本人待遇，3个月内复查家庭）",
)
def person_death(request: HttpRequest, person_id: int, payload: DeathIn) -> Any:
    rechecks = services.person_death_record(
        scope=request_scope(request), person_id=person_id, version=payload.version, death_date=payload.death_date
    )
    today = _today()
    return {
        "person_id": person_id,
        "death_date": payload.death_date,
        "rechecks": [_recheck(r, today) for r in rechecks],
    }


# --- spot checks -------------------------------------------------------------------------------------------------


@router.get(
    "/spot-checks", response={200: list[SpotCheckOut], **ERRORS}, url_name="spot_check_list", summary="入户抽查批次"
)
def spot_check_list(request: HttpRequest, program: str = "") -> Any:
    return [_spot_check(b) for b in selectors.spot_check_batches(scope=request_scope(request), program=program)]


@router.post(
    "/spot-checks",
    response={201: SpotCheckOut, **WRITE_ERRORS},
    url_name="spot_check_create",
    summary="抽取县级入户抽查样本（不少于30%）",
)
def spot_check_create(request: HttpRequest, payload: SpotCheckIn) -> Status[Any]:
    batch = services.spot_check_batch_create(
        scope=request_scope(request), program=payload.program, county_code=payload.county_code
    )
    return Status(201, _spot_check(batch))
