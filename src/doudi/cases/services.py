"""Case writes. Each runs in one transaction: lock the case, claim its version (a stale version is refused with
StaleEdit, so of two approvers acting at once one wins and the other is told), check role, region and step order,
write, and record the audit entry. See docs/cases.md for the workflow, time limits and roles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from doudi.cases import rules_input, sampling
from doudi.cases.choices import (
    KIN_POSITIONS,
    KIN_RELATIONS,
    LIVE_RECIPIENT_STATUSES,
    ONE_OFF_PROGRAMS,
    PERSONAL_PROGRAMS,
    RECHECK_MONTHS,
    RECIPIENT_TRANSITIONS,
    ApplicationStatus,
    ApprovalTier,
    CaseKind,
    ChangeKind,
    DeadlineUnit,
    Discovery,
    Level,
    ObjectionStatus,
    Outcome,
    Program,
    PublicityStage,
    RecheckCategory,
    RecheckReason,
    RecheckStatus,
    RecipientStatus,
    RuleSet,
    StepStatus,
)
from doudi.cases.models import (
    Application,
    CaseStep,
    ChangeReport,
    Decision,
    Determination,
    Holiday,
    HomeVisit,
    Objection,
    Publicity,
    Recheck,
    Recipient,
    RecipientStatusChange,
    SpotCheckBatch,
    WorkflowDefinition,
    WorkflowStep,
)
from doudi.cases.workdays import add_months, due_date, month_start, next_month, working_days_add
from doudi.core.choices import AuditAction, Role
from doudi.core.dates import parse_date
from doudi.core.errors import ApplicationError, NotFound, PermissionDenied, StaleEdit
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.core.services import audit_log_create, snapshot
from doudi.registry.models import Household, IncomeItem, Membership, Person

RULE_SET_2021_FROM = dt.date(2021, 7, 1)
INTAKE_ROLES = frozenset({Role.VILLAGE_WORKER, Role.TOWNSHIP_REVIEWER, Role.ADMIN})
CASE_OPEN_ROLES = frozenset({Role.TOWNSHIP_REVIEWER, Role.COUNTY_APPROVER, Role.ADMIN})
VISIT_ROLES = {
    Level.TOWNSHIP: frozenset({Role.TOWNSHIP_REVIEWER, Role.ADMIN}),
    Level.COUNTY: frozenset({Role.COUNTY_APPROVER, Role.COUNTY_VERIFIER, Role.ADMIN}),
}
CHANGE_REPORT_ROLES = frozenset({Role.VILLAGE_WORKER, Role.TOWNSHIP_REVIEWER, Role.COUNTY_APPROVER, Role.ADMIN})
KNOWN_GUARDS = frozenset(
    {
        "documents_complete",
        "home_visit",
        "authorised",
        "review_attendance",
        "publicity_closed:initial",
        "publicity_closed:approval",
        "spot_check_drawn",
        "county_visit_if_required",
        "ta_amount",
        "ta_tier",
    }
)
PUBLICITY_STEP = {"publicity": PublicityStage.INITIAL, "approval_publicity": PublicityStage.APPROVAL}
DEATH_RECHECK_MONTHS = 3  # 2022 兜底通知: re-check within 3 months of a member's death
CHANGE_RECHECK_DAYS = 10  # 特困人员认定办法 2021: re-assess within 10 working days of a reported change
MAX_REASON = 300
# Our programs → the rules package's programs; the two disability subsidies are one rules program with an
# output per subsidy.
RULES_PROGRAM: dict[str, str] = {
    Program.DIBAO: "dibao",
    Program.TEKUN: "tekun",
    Program.TEMPORARY_ASSISTANCE: "temporary",
    Program.DISABILITY_LIVING: "disability",
    Program.DISABILITY_NURSING: "disability",
    Program.FUNERAL: "funeral",
}
AMOUNT_OUTPUT: dict[str, str] = {
    Program.DISABILITY_LIVING: "disability_living_total",
    Program.DISABILITY_NURSING: "disability_nursing_total",
}
# Programs whose whole input the registry holds: a rules input error is a data error to fix before deciding.
# For the others (self-care assessment, funeral items …) an incomplete input is kept in the snapshot and the
# staff-assessed amount applies.
STRICT_RULES = frozenset({Program.DIBAO})


# --- small helpers ---------------------------------------------------------------------------------------
def _today(today: dt.date | None) -> dt.date:
    return today or timezone.localdate()


def _acting_date(step: CaseStep, on: dt.date) -> dt.date:
    """The date a step is done on. Offices enter paper records after the fact, so it may be earlier than today, but
    never before the step opened nor in the future: the step history stays in order."""
    if on > timezone.localdate():
        raise ApplicationError("invalid_date", "办理日期不能晚于今天", "acted_on")
    if step.opened_on is not None and on < step.opened_on:
        raise ApplicationError(
            "invalid_date", f"办理日期不能早于本环节开始日期（{step.opened_on.isoformat()}）", "acted_on"
        )
    return on


def _text(value: object, field: str, label: str, *, required: bool = True, max_length: int = 2000) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise ApplicationError("required", f"请填写{label}", field)
    if len(text) > max_length:
        raise ApplicationError("too_long", f"{label}不能超过{max_length}个字", field)
    return text


def _money(value: object, field: str, label: str = "金额") -> Decimal:
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise ApplicationError("invalid_amount", f"{label}应为不超过两位小数的金额", field)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ApplicationError("invalid_amount", f"{label}应为不超过两位小数的金额", field) from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ApplicationError("invalid_amount", f"{label}应为不小于0、不超过两位小数的金额", field)
    return amount.quantize(Decimal("0.01"))


def _reasons(reasons: Iterable[object]) -> list[str]:
    cleaned = [str(r).strip() for r in reasons if str(r or "").strip()]
    if not cleaned:
        raise ApplicationError("reasons_required", "不予批准须书面说明理由", "reasons")
    if any(len(r) > MAX_REASON for r in cleaned):
        raise ApplicationError("too_long", f"每条理由不能超过{MAX_REASON}个字", "reasons")
    return cleaned


def _forbid_supervisor(scope: Scope) -> None:
    if scope.role == Role.SUPERVISOR:
        raise PermissionDenied("监管角色只能查看汇总统计，不能办理案件")


def _require_role(scope: Scope, roles: Iterable[str], what: str) -> None:
    _forbid_supervisor(scope)
    allowed = set(roles)
    if scope.role != Role.ADMIN and scope.role not in allowed:
        names = "、".join(str(Role(r).label) for r in sorted(allowed) if r in Role.values)
        raise PermissionDenied(f"{what}须由{names}办理")


def rule_set_for(received_on: dt.date) -> str:
    return RuleSet.R2021 if received_on >= RULE_SET_2021_FROM else RuleSet.R2012


def subject_key(program: str, household_id: int, person_id: int | None) -> str:
    return f"p{person_id}" if program in PERSONAL_PROGRAMS and person_id else f"h{household_id}"


def _audit(
    scope: Scope,
    action: str,
    subject: Any,
    note: str = "",
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    household_id: int | None = None,
    region: str | None = None,
) -> None:
    audit_log_create(
        scope=scope,
        action=action,
        subject_type=type(subject).__name__.lower(),
        subject_id=subject.pk,
        region_code=region or getattr(subject, "region_id", None),
        household_id=household_id or getattr(subject, "household_id", None),
        before=before,
        after=after,
        note=note,
    )


def workflow_for(*, program: str, kind: str, rule_set: str, region: Region) -> WorkflowDefinition:
    """The most specific active definition whose region contains `region` (null region = everywhere)."""
    candidates = WorkflowDefinition.objects.filter(program=program, kind=kind, rule_set=rule_set, active=True)
    candidates = candidates.filter(Q(region__isnull=True) | Q(region__code__in=_path_codes(region.path)))
    best = sorted(candidates.select_related("region"), key=lambda d: (len(d.region.path) if d.region else 0, d.pk))
    if not best:
        raise ApplicationError(
            "no_workflow", f"未配置{Program(program).label}（{CaseKind(kind).label}）的审批流程", "program"
        )
    return best[-1]


def _path_codes(path: str) -> list[str]:
    return [c for c in path.split("/") if c]


def _responsible_regions(region: Region) -> dict[str, Region]:
    ancestors = Region.objects.filter(code__in=_path_codes(region.path))
    return {r.level: r for r in ancestors}


# --- locking and versions ----------------------------------------------------------------------------------
def _application_for_write(scope: Scope, application_id: int, version: int | None) -> Application:
    _forbid_supervisor(scope)
    app = (
        Application.objects.select_for_update()
        .filter(pk=application_id, region_path__startswith=scope.region_path)
        .first()
    )
    if app is None:
        raise NotFound("案件不存在或不在您的管辖范围内", "application_id")
    if version is not None:
        # Claim the version first: on PostgreSQL the row lock orders the writers; on SQLite the conditional
        # update takes the write lock. Whoever comes second sees a different version and is told.
        claimed = Application.objects.filter(pk=app.pk, version=version).update(version=F("version") + 1)
        if claimed != 1:
            raise StaleEdit("该案件已被其他人员办理或修改，请刷新后查看；您的操作未保存。")
        app.version = version + 1
    else:
        Application.objects.filter(pk=app.pk).update(version=F("version") + 1)
        app.version += 1
    return app


def _save(app: Application, fields: Iterable[str]) -> None:
    app.save(update_fields=[*fields, "updated_at"])


# --- intake --------------------------------------------------------------------------------------------
def _clean_kin(kin_declared: bool, kin_details: object) -> list[dict[str, str]]:
    details = kin_details or []
    if not isinstance(details, list):
        raise ApplicationError("invalid", "近亲属情况应为列表", "kin_details")
    if not kin_declared:
        if details:
            raise ApplicationError("invalid", "未申明近亲属关系时不应填写近亲属情况", "kin_details")
        return []
    if not details:
        raise ApplicationError("required", "申明了近亲属关系，请填写近亲属的姓名、关系和职务", "kin_details")
    out = []
    for i, row in enumerate(details):
        if not isinstance(row, Mapping):
            raise ApplicationError("invalid", "近亲属情况格式不正确", f"kin_details[{i}]")
        relation, position = row.get("relation"), row.get("position")
        if relation not in KIN_RELATIONS:
            raise ApplicationError(
                "invalid", f"近亲属关系应为：{'、'.join(KIN_RELATIONS.values())}", f"kin_details[{i}].relation"
            )
        if position not in KIN_POSITIONS:
            raise ApplicationError("invalid", "近亲属应为低保经办人员或村（居）委会成员", f"kin_details[{i}].position")
        out.append(
            {
                "name": _text(row.get("name"), f"kin_details[{i}].name", "近亲属姓名", max_length=40),
                "relation": str(relation),
                "position": str(position),
                "organisation": _text(
                    row.get("organisation"),
                    f"kin_details[{i}].organisation",
                    "工作单位",
                    required=False,
                    max_length=100,
                ),
            }
        )
    return out


def _clean_documents(definition: WorkflowDefinition, documents: Mapping[str, object] | None) -> dict[str, bool]:
    known: Mapping[str, str] = definition.config.get("documents", {})
    out = {code: False for code in known}
    for code, received in (documents or {}).items():
        if code not in known:
            raise ApplicationError("unknown_document", f"未知的申请材料：{code}", "documents")
        if not isinstance(received, bool):
            raise ApplicationError("invalid", "材料是否收到应为是/否", f"documents.{code}")
        out[code] = received
    return out


def _live_member(household: Household, person_id: int, field: str, label: str) -> Person:
    membership = (
        Membership.objects.select_related("person")
        .filter(household=household, person_id=person_id, end_date__isnull=True)
        .first()
    )
    if membership is None:
        raise ApplicationError("not_member", f"{label}不是该户的现有成员", field)
    if membership.person.death_date is not None:
        raise ApplicationError("deceased", f"{label}已登记死亡", field)
    return membership.person


def _open_case(
    *,
    scope: Scope,
    program: str,
    kind: str,
    household: Household,
    applicant: Person,
    subject: Person | None,
    received_on: dt.date,
    discovered_by: str,
    intake_level: str,
    kin_details: list[dict[str, str]] | None = None,
    documents: Mapping[str, object] | None = None,
    verification_authorised: bool = False,
    authorised_on: dt.date | None = None,
    request: Mapping[str, Any] | None = None,
    recipient: Recipient | None = None,
    case_due: dt.date | None = None,
) -> Application:
    region = household.region
    rule_set = rule_set_for(received_on)
    definition = workflow_for(program=program, kind=kind, rule_set=rule_set, region=region)
    key = subject_key(program, household.pk, subject.pk if subject else None)
    if Application.objects.filter(program=program, subject_key=key, status=ApplicationStatus.IN_PROGRESS).exists():
        raise ApplicationError(
            "duplicate_case", "该对象已有正在办理的同类案件，请勿重复受理", "household_id", status=409
        )
    total_due = due_date(received_on, definition.total_deadline_days, DeadlineUnit.WORKING)
    if case_due is not None:
        total_due = min(d for d in (total_due, case_due) if d is not None)
    try:
        with transaction.atomic():
            app = Application.objects.create(
                program=program,
                kind=kind,
                household=household,
                applicant=applicant,
                subject_person=subject,
                subject_key=key,
                region=region,
                region_path=region.path,
                workflow=definition,
                rule_set=rule_set,
                received_on=received_on,
                due_date=total_due,
                discovered_by=discovered_by,
                intake_level=intake_level,
                kin_declared=bool(kin_details),
                kin_details=kin_details or [],
                documents=_clean_documents(definition, documents),
                verification_authorised=verification_authorised,
                authorised_on=authorised_on if verification_authorised else None,
                request=dict(request or {}),
                recipient=recipient,
                created_by_id=scope.user_id or None,
            )
    except IntegrityError:
        raise ApplicationError(
            "duplicate_case", "该对象已有正在办理的同类案件，请勿重复受理", "household_id", status=409
        ) from None
    offices = _responsible_regions(region)
    steps = [
        CaseStep(
            application=app,
            order=s.order,
            code=s.code,
            name=s.name,
            level=s.level,
            roles=s.roles,
            optional=s.optional,
            decides=s.decides,
            refusable=s.refusable,
            guards=s.guards,
            deadline_days=s.deadline_days,
            deadline_unit=s.deadline_unit,
            basis=s.basis,
            responsible_region=offices.get(s.level),
        )
        for s in WorkflowStep.objects.filter(definition=definition).order_by("order")
    ]
    if not steps:
        raise ApplicationError("no_workflow", "审批流程没有配置环节", "program")
    CaseStep.objects.bulk_create(steps)
    _open_step(app, app.steps.order_by("order").first(), received_on)
    _audit(
        scope,
        AuditAction.CREATE,
        app,
        f"受理{Program(program).label}{CaseKind(kind).label}",
        after=snapshot(
            app, ["program", "kind", "rule_set", "received_on", "discovered_by", "kin_declared", "workflow", "due_date"]
        ),
    )
    return app


def _open_step(app: Application, step: CaseStep | None, on: dt.date) -> None:
    if step is None:
        app.current_step = ""
    else:
        step.status = StepStatus.PENDING
        step.opened_on = on
        step.due_date = due_date(on, step.deadline_days, step.deadline_unit)
        step.save(update_fields=["status", "opened_on", "due_date"])
        app.current_step = step.code
    _save(app, ["current_step"])


@transaction.atomic
def application_create(
    *,
    scope: Scope,
    program: str,
    household_id: int,
    applicant_id: int,
    received_on: dt.date | str,
    subject_person_id: int | None = None,
    documents: Mapping[str, object] | None = None,
    kin_declared: bool = False,
    kin_details: object = None,
    verification_authorised: bool = False,
    authorised_on: dt.date | str | None = None,
    discovered_by: str = Discovery.INTAKE,
    request: Mapping[str, Any] | None = None,
    today: dt.date | None = None,
) -> Application:
    """Intake by the village worker or the township, on the applicant's behalf or from active discovery."""
    _require_role(scope, INTAKE_ROLES, "受理申请")
    if program not in Program.values:
        raise ApplicationError("invalid", f"未知的救助项目：{program}", "program")
    if discovered_by not in (Discovery.INTAKE, Discovery.ACTIVE_DISCOVERY):
        raise ApplicationError("invalid", "申请来源应为依申请受理或主动发现", "discovered_by")
    received = parse_date(received_on, "received_on", "受理日期")
    if received > _today(today):
        raise ApplicationError("invalid_date", "受理日期不能晚于今天", "received_on")
    household = (
        Household.objects.select_for_update()
        .select_related("region")
        .filter(pk=household_id, region__path__startswith=scope.region_path)
        .first()
    )
    if household is None:
        raise NotFound("家庭不存在或不在您的管辖范围内", "household_id")
    applicant = _live_member(household, applicant_id, "applicant_id", "申请人")
    subject = None
    if program in PERSONAL_PROGRAMS:
        if subject_person_id is None:
            raise ApplicationError("required", "请选择救助对象（本人）", "subject_person_id")
        subject = _live_member(household, subject_person_id, "subject_person_id", "救助对象")
    elif subject_person_id is not None:
        raise ApplicationError("invalid", "该项目以家庭为单位申请，不需选择救助对象", "subject_person_id")
    key = subject_key(program, household.pk, subject.pk if subject else None)
    if Recipient.objects.filter(program=program, subject_key=key, status__in=LIVE_RECIPIENT_STATUSES).exists():
        raise ApplicationError(
            "already_recipient", "该对象已在享受该项救助，如情况变化请报告变更", "household_id", status=409
        )
    authorised = parse_date(authorised_on, "authorised_on", "授权日期") if verification_authorised else None
    if verification_authorised and authorised is None:
        raise ApplicationError("required", "请填写核对授权书签署日期", "authorised_on")
    level = Level.VILLAGE if scope.role == Role.VILLAGE_WORKER else Level.TOWNSHIP
    return _open_case(
        scope=scope,
        program=program,
        kind=CaseKind.NEW,
        household=household,
        applicant=applicant,
        subject=subject,
        received_on=received,
        discovered_by=discovered_by,
        intake_level=level,
        kin_details=_clean_kin(kin_declared, kin_details),
        documents=documents,
        verification_authorised=verification_authorised,
        authorised_on=authorised,
        request=request,
    )


@transaction.atomic
def application_documents_update(
    *,
    scope: Scope,
    application_id: int,
    version: int,
    documents: Mapping[str, object] | None = None,
    verification_authorised: bool | None = None,
    authorised_on: dt.date | str | None = None,
) -> Application:
    """Tick received documents and record the signed verification authorisation (2012 art. 12; 2021 art. 9)."""
    _require_role(scope, INTAKE_ROLES | CASE_OPEN_ROLES, "补充申请材料")
    app = _application_for_write(scope, application_id, version)
    before = snapshot(app, ["documents", "verification_authorised", "authorised_on"])
    if documents:
        merged = {**app.documents, **documents}
        app.documents = _clean_documents(app.workflow, merged)
    if verification_authorised is not None:
        app.verification_authorised = verification_authorised
        app.authorised_on = parse_date(authorised_on, "authorised_on", "授权日期") if verification_authorised else None
    _save(app, ["documents", "verification_authorised", "authorised_on"])
    _audit(
        scope,
        AuditAction.UPDATE,
        app,
        "申请材料",
        before=before,
        after=snapshot(app, ["documents", "verification_authorised", "authorised_on"]),
    )
    return app


# --- guards -----------------------------------------------------------------------------------------------
def _visits_ok(app: Application, level: str | None = None) -> bool:
    visits = HomeVisit.objects.filter(application=app)
    if level:
        visits = visits.filter(level=level)
    return any(len(v.investigators) >= 2 for v in visits)


def county_visit_required(app: Application) -> list[str]:
    """Why a county home visit is compulsory for this case (empty when it is not)."""
    why = []
    if app.kin_declared:
        why.append("近亲属备案")
    if app.disputed:
        why.append("有异议或举报")
    if app.spot_check_selected:
        why.append("抽中入户核查")
    return why


def _check_guard(
    guard: str, app: Application, step: CaseStep, scope: Scope, payload: dict[str, Any], today: dt.date, approving: bool
) -> None:
    if guard == "documents_complete":
        labels: Mapping[str, str] = app.workflow.config.get("documents", {})
        missing = [labels.get(code, code) for code, ok in app.documents.items() if not ok]
        if missing:
            raise ApplicationError(
                "documents_missing",
                f"申请材料不全，请一次性告知申请人补齐：{'、'.join(missing)}",
                "documents",
                extra={"missing": missing},
            )
    elif guard == "home_visit":
        if not _visits_ok(app):
            raise ApplicationError("home_visit_required", "请先登记入户调查记录（调查人员不少于2人）", "home_visit")
    elif guard == "authorised":
        if not app.verification_authorised:
            raise ApplicationError(
                "authorisation_missing", "申请人尚未签署家庭经济状况核对授权书，不能发起核对", "verification_authorised"
            )
    elif guard == "review_attendance":
        _check_review(app, payload)
    elif guard.startswith("publicity_closed:"):
        _check_publicity(app, guard.split(":", 1)[1], today)
    elif guard == "spot_check_drawn":
        if approving and app.spot_check_batch_id is None:
            raise ApplicationError("spot_check_not_drawn", "请先抽取本批入户抽查样本，再作审批决定", "spot_check")
    elif guard == "county_visit_if_required":
        why = county_visit_required(app)
        if approving and why and not _visits_ok(app, Level.COUNTY):
            raise ApplicationError(
                "county_visit_required", f"该案件（{'、'.join(why)}）须由县级入户核查后方可审批", "home_visit"
            )
    elif guard == "ta_amount":
        amount = _money(payload.get("amount"), "payload.amount", "建议救助金额")
        if amount <= 0:
            raise ApplicationError("invalid_amount", "建议救助金额应大于0", "payload.amount")
        payload["amount"] = str(amount)
    elif guard == "ta_tier":
        _check_tier(app, scope, payload, today, approving)
    else:
        raise ApplicationError("unknown_guard", f"流程配置了未知的办理条件：{guard}", "guards")


def _check_review(app: Application, payload: dict[str, Any]) -> None:
    try:
        participants = int(payload.get("participants", 0))
        villager_reps = int(payload.get("villager_reps", 0))
    except (TypeError, ValueError):
        raise ApplicationError("invalid", "参会人数应为整数", "payload.participants") from None
    if participants < 1 or villager_reps < 0 or villager_reps > participants:
        raise ApplicationError("invalid", "请填写参会总人数和其中村（居）民代表人数", "payload.participants")
    # 2012 审核审批办法 art. 22: villagers' representatives at least two thirds of the participants.
    if villager_reps * 3 < participants * 2:
        raise ApplicationError(
            "review_quorum", "民主评议中村（居）民代表应不少于参加人员的三分之二", "payload.villager_reps"
        )
    conclusion = payload.get("conclusion")
    if conclusion not in ("pass", "fail", "further_check"):
        raise ApplicationError("invalid", "评议结论应为：通过、不通过或需进一步核实", "payload.conclusion")
    payload.update(participants=participants, villager_reps=villager_reps)
    if conclusion != "pass":
        app.disputed = True


def _check_publicity(app: Application, stage: str, today: dt.date) -> None:
    publicity = Publicity.objects.filter(application=app, stage=stage).first()
    if publicity is None:
        raise ApplicationError("publicity_not_started", "尚未发布公示", "publicity")
    if today <= publicity.end_date:
        raise ApplicationError(
            "publicity_not_ended", f"公示期至{publicity.end_date.isoformat()}，期满后方可办结", "publicity"
        )
    if publicity.objections.filter(status=ObjectionStatus.OPEN).exists():
        raise ApplicationError("objection_open", "公示期间收到的异议尚未核实处理", "objections")


def temporary_assistance_tier(
    *, amount: Decimal, region_code: str, as_of: dt.date, config: Mapping[str, Any]
) -> dict[str, Any]:
    """Who must approve a temporary-assistance amount: township up to the ceiling, county above it, 一事一议 for
    major hardship. Thresholds are multiples of the local monthly urban dibao standard (operator defaults in the
    workflow config; Hainan's own figures are unconfirmed, rules-cn §4.1)."""
    from doudi.policy.selectors import current_parameter_set
    from doudi.rules import RulesInputError

    params = current_parameter_set()  # the YAML values with operators' dated changes

    def multiple(path: str, key: str, default: str) -> Decimal:
        # The rules parameters win; the workflow config is the fallback for a rules package without them.
        if path in params:
            return Decimal(str(params.get(path, region_code, "urban", as_of).value))
        return Decimal(str(config.get(key, default)))

    try:
        standard = params.get("dibao.standard", region_code, "urban", as_of).value
        ceiling_multiple = multiple("temporary.township_ceiling_standard_multiple", "township_ceiling_multiple", "4")
        major_multiple = multiple("temporary.cap_standard_multiple", "major_hardship_multiple", "6")
    except RulesInputError as exc:
        raise ApplicationError("rules_input", f"无法取得当地救助标准：{exc.message}", "region_code") from None
    assert isinstance(standard, Decimal)
    ceiling = (standard * ceiling_multiple).quantize(Decimal("0.01"))
    major = (standard * major_multiple).quantize(Decimal("0.01"))
    if amount <= ceiling:
        tier = ApprovalTier.TOWNSHIP
    elif amount <= major:
        tier = ApprovalTier.COUNTY
    else:
        tier = ApprovalTier.ONE_CASE_ONE_DISCUSSION
    return {
        "tier": str(tier),
        "standard": str(standard),
        "township_ceiling": str(ceiling),
        "major_threshold": str(major),
    }


def _ta_amount(app: Application, payload: Mapping[str, Any]) -> Decimal:
    raw = payload.get("amount", app.request.get("proposed_amount"))
    if raw is None:
        raise ApplicationError("required", "请先由乡镇提出建议救助金额", "payload.amount")
    return _money(raw, "payload.amount", "救助金额")


def _check_tier(app: Application, scope: Scope, payload: dict[str, Any], today: dt.date, approving: bool) -> None:
    amount = _ta_amount(app, payload)
    info = temporary_assistance_tier(amount=amount, region_code=app.region_id, as_of=today, config=app.workflow.config)
    tier = info["tier"]
    if tier != ApprovalTier.TOWNSHIP and scope.role not in (Role.COUNTY_APPROVER, Role.ADMIN):
        raise PermissionDenied(f"救助金额{amount}元超过乡镇审批限额{info['township_ceiling']}元，须报县级民政部门审批")
    if approving and tier == ApprovalTier.ONE_CASE_ONE_DISCUSSION:
        if app.kind == CaseKind.ACT_FIRST:
            raise ApplicationError("major_hardship", "重大生活困难须一事一议，不适用先行救助，请走一般程序", "amount")
        discussion = payload.get("discussion")
        if (
            not isinstance(discussion, Mapping)
            or not discussion.get("held_on")
            or not discussion.get("conclusion")
            or len(discussion.get("participants") or []) < 3
        ):
            raise ApplicationError(
                "discussion_required",
                f"救助金额超过{info['major_threshold']}元，属重大生活困难，须一事一议（记录日期、参加人员不少于3人、结论）",
                "payload.discussion",
            )
    payload["tier"] = info


# --- acting on steps ----------------------------------------------------------------------------------------
def _step_for_action(
    app: Application, scope: Scope, step_code: str, extra_roles: frozenset[str] = frozenset()
) -> CaseStep:
    step = CaseStep.objects.filter(application=app, code=step_code).first()
    if step is None:
        raise ApplicationError("unknown_step", f"该案件没有“{step_code}”环节", "step_code", status=404)
    if step.status in (StepStatus.DONE, StepStatus.REJECTED, StepStatus.SKIPPED):
        raise ApplicationError("step_already_done", f"“{step.name}”环节已办结，不能重复办理", "step_code", status=409)
    if app.current_step != step.code:
        current = CaseStep.objects.filter(application=app, code=app.current_step).first()
        where = f"当前应办理“{current.name}”" if current else "该案件已办结"
        raise ApplicationError("step_out_of_order", f"不能办理“{step.name}”：{where}", "step_code", status=409)
    _require_role(scope, {*step.roles, *extra_roles}, f"“{step.name}”环节")
    return step


def _close_step(
    step: CaseStep, scope: Scope, status: str, comment: str, payload: Mapping[str, Any], today: dt.date
) -> None:
    step.status = status
    step.actor_id = scope.user_id or None
    step.acted_at = timezone.now()
    step.acted_on = today
    step.comment = comment
    step.payload = dict(payload)
    step.save(update_fields=["status", "actor", "acted_at", "acted_on", "comment", "payload"])


def _advance(app: Application, step: CaseStep, today: dt.date) -> None:
    nxt = (
        CaseStep.objects.filter(application=app, order__gt=step.order, status=StepStatus.WAITING)
        .order_by("order")
        .first()
    )
    _open_step(app, nxt, today)


@transaction.atomic
def step_complete(
    *,
    scope: Scope,
    application_id: int,
    version: int,
    step_code: str,
    comment: str = "",
    payload: Mapping[str, Any] | None = None,
    today: dt.date | None = None,
) -> Application:
    """Complete the current step (approve, when it is the deciding step) and open the next one."""
    on = _today(today)
    app = _application_for_write(scope, application_id, version)
    step = _step_for_action(app, scope, step_code)
    _acting_date(step, on)
    data: dict[str, Any] = dict(payload or {})
    comment = _text(comment, "comment", "意见", required=False)
    for guard in step.guards:
        _check_guard(guard, app, step, scope, data, on, approving=True)
    if step.code == "township_opinion" and "amount" in data:
        app.request = {**app.request, "proposed_amount": data["amount"]}
    if step.code == "verification" and data.get("result") not in (None, "pass", "fail"):
        raise ApplicationError("invalid", "核对结果应为：符合或不符合", "payload.result")
    if step.decides:
        _decide(scope, app, step, Outcome.APPROVED, [], data, on)
    _close_step(step, scope, StepStatus.DONE, comment, data, on)
    _advance(app, step, on)
    _save(app, ["disputed", "request", "status"])
    _audit(
        scope,
        AuditAction.UPDATE,
        app,
        f"办结环节“{step.name}”",
        after={"step": step.code, "status": step.status, "comment": comment, "payload": data},
    )
    return app


@transaction.atomic
def step_skip(
    *, scope: Scope, application_id: int, version: int, step_code: str, reason: str, today: dt.date | None = None
) -> Application:
    """Skip an optional step (e.g. 民主评议 under the 2021 rules when nobody objected)."""
    on = _today(today)
    app = _application_for_write(scope, application_id, version)
    # Whether an optional step is needed is the township's or county's call on the case.
    step = _step_for_action(app, scope, step_code, extra_roles=CASE_OPEN_ROLES)
    _acting_date(step, on)
    if not step.optional:
        raise ApplicationError("step_required", f"“{step.name}”是必经环节，不能跳过", "step_code")
    reason = _text(reason, "reason", "跳过原因", max_length=MAX_REASON)
    _close_step(step, scope, StepStatus.SKIPPED, reason, {}, on)
    _advance(app, step, on)
    _audit(scope, AuditAction.UPDATE, app, f"跳过环节“{step.name}”", after={"step": step.code, "reason": reason})
    return app


@transaction.atomic
def application_refuse(
    *,
    scope: Scope,
    application_id: int,
    version: int,
    step_code: str,
    reasons: Iterable[object],
    comment: str = "",
    payload: Mapping[str, Any] | None = None,
    today: dt.date | None = None,
) -> Decision:
    """Refuse at a step that may refuse, with written reasons; the remaining steps are skipped and the refusal
    notice (3 days) opens."""
    on = _today(today)
    app = _application_for_write(scope, application_id, version)
    step = _step_for_action(app, scope, step_code)
    _acting_date(step, on)
    if not step.refusable:
        raise ApplicationError("not_refusable", f"“{step.name}”环节不能作出不予批准决定", "step_code")
    cleaned = _reasons(reasons)
    data: dict[str, Any] = dict(payload or {})
    if "ta_tier" in step.guards:
        _check_tier(app, scope, data, on, approving=False)
    decision = _decide(scope, app, step, Outcome.REFUSED, cleaned, data, on)
    _close_step(
        step,
        scope,
        StepStatus.REJECTED,
        _text(comment, "comment", "意见", required=False),
        {**data, "reasons": cleaned},
        on,
    )
    later = CaseStep.objects.filter(application=app, order__gt=step.order, status=StepStatus.WAITING)
    later.exclude(code="notice").update(status=StepStatus.SKIPPED, comment="不予批准，后续环节不再办理")
    notice = later.filter(code="notice").first()
    _open_step(app, notice, on)
    _save(app, ["status"])
    _audit(scope, AuditAction.UPDATE, app, f"“{step.name}”不予批准", after={"step": step.code, "reasons": cleaned})
    return decision


# --- determinations, decisions, recipients ----------------------------------------------------------------------
def _is_dibao_recipient(household: Household) -> bool:
    return Recipient.objects.filter(
        household=household, program=Program.DIBAO, status__in=LIVE_RECIPIENT_STATUSES
    ).exists()


def determination_create(*, scope: Scope, app: Application, as_of: dt.date, strict: bool) -> Determination:
    """Run the rules for the case and keep the input, output, trace and parameters used (the snapshot).

    Programs the rules package does not have yet are stored with rules_available = False, and staff amounts apply.
    """
    from doudi.policy.selectors import current_parameter_set
    from doudi.rules import PROGRAMS, RulesInputError, evaluate

    rules_program = RULES_PROGRAM.get(app.program, app.program)
    case = rules_input.household_case(app.household, as_of=as_of, dibao_recipient=_is_dibao_recipient(app.household))
    if rules_program in PROGRAMS:
        fields = PROGRAMS[rules_program].request_fields
        if fields:
            case["request"] = {k: v for k, v in app.request.items() if k in fields}
    output: dict[str, Any]
    eligible: bool | None
    amount: Decimal | None
    version = ""
    available = rules_program in PROGRAMS
    if not case["household"]["members"]:
        output, eligible, amount = {"error": "no_living_members", "message": "该户已无健在的家庭成员"}, False, None
    elif not available:
        output = {"rules_available": False, "message": "规则引擎尚未提供该项目的测算，按经办人员核定金额执行"}
        eligible, amount = None, None
    else:
        try:
            det = evaluate(rules_program, case, current_parameter_set())
        except RulesInputError as exc:
            if strict:
                raise ApplicationError(
                    "rules_input", f"测算数据有误（{exc.field}）：{exc.message}", exc.field
                ) from None
            output, eligible, amount = {"error": exc.code, "field": exc.field, "message": exc.message}, None, None
        else:
            output, eligible, amount, version = det.to_json(), det.eligible, det.monthly_amount, det.rules_version
            if app.program in AMOUNT_OUTPUT and det.outputs.get(AMOUNT_OUTPUT[app.program]) is not None:
                amount = Decimal(str(det.outputs[AMOUNT_OUTPUT[app.program]]))
    return Determination.objects.create(
        application=app,
        program=app.program,
        rules_program=rules_program if available else "",
        rules_available=available,
        rules_version=version,
        as_of=as_of,
        input=case,
        output=output,
        eligible=eligible,
        monthly_amount=amount,
        actor_id=scope.user_id or None,
    )


def _failed_tests(det: Determination) -> list[str]:
    labels = {t["name"]: t["label"] for t in det.output.get("trace", [])}
    return [labels.get(name, name) for name in det.output.get("failed_tests", [])]


def _decide(
    scope: Scope,
    app: Application,
    step: CaseStep,
    outcome: str,
    reasons: list[str],
    payload: dict[str, Any],
    on: dt.date,
) -> Decision:
    approving = outcome == Outcome.APPROVED
    det = determination_create(scope=scope, app=app, as_of=on, strict=approving and app.program in STRICT_RULES)
    one_off = app.program in ONE_OFF_PROGRAMS
    amount = Decimal("0.00")
    if approving:
        if det.eligible is False:
            failed = _failed_tests(det) or [det.output.get("message", "")]
            raise ApplicationError(
                "rules_ineligible",
                f"测算结果不符合条件：{'、'.join(f for f in failed if f)}；如不予批准请书面说明理由",
                "determination",
                extra={"failed_tests": det.output.get("failed_tests", [])},
            )
        if app.program == Program.TEMPORARY_ASSISTANCE:
            amount = _ta_amount(app, payload)
        elif det.monthly_amount is not None and "amount" not in payload:
            amount = det.monthly_amount
        elif det.monthly_amount is None and "amount" in payload:
            amount = _money(payload["amount"], "payload.amount", "核定金额")
        elif det.monthly_amount is not None:
            raise ApplicationError("amount_from_rules", "该项目的金额由规则测算确定，不能手工填写", "payload.amount")
        else:
            raise ApplicationError(
                "amount_required", "规则引擎尚未提供该项目的测算，请填写核定的补贴金额", "payload.amount"
            )
        payload["amount"] = str(amount)
    decision = Decision.objects.create(
        application=app,
        outcome=outcome,
        reasons=reasons,
        amount=amount,
        decided_on=on,
        effective_month=None if one_off else next_month(on),
        determination=det,
        act_first=app.kind == CaseKind.ACT_FIRST,
        actor_id=scope.user_id or None,
    )
    app.status = ApplicationStatus.APPROVED if approving else ApplicationStatus.REFUSED
    if app.kind == CaseKind.RECHECK:
        _apply_recheck_decision(scope, app, decision, det)
    elif approving and not one_off:
        _recipient_create(scope, app, decision, det)
    elif approving and not decision.act_first and amount > 0:
        _one_off_payment_create(scope, app, decision, det)
    _audit(
        scope,
        AuditAction.CREATE,
        decision,
        f"{Outcome(outcome).label}",
        region=app.region_id,
        household_id=app.household_id,
        after=snapshot(decision),
    )
    return decision


def recheck_category_for(*, program: str, rule_set: str, household: Household, as_of: dt.date) -> str:
    """Recheck frequency by household category (2012 art. 33; 2021 art. 31; docs/cases.md explains the mapping)."""
    if program != Program.DIBAO:
        return RecheckCategory.YEARLY
    # Working age 16–59: born after as_of − 60 years and on or before as_of − 16 years.
    adult_from, adult_to = add_months(as_of, -60 * 12), add_months(as_of, -16 * 12)
    live = Membership.objects.filter(household=household, end_date__isnull=True, person__death_date__isnull=True)
    work_capable = live.filter(
        person__labour_capacity="full",
        person__birth_date__gt=adult_from,
        person__birth_date__lte=adult_to,
        person__student=False,
    ).exists()
    if not work_capable:
        return RecheckCategory.YEARLY
    if rule_set == RuleSet.R2021:
        return RecheckCategory.HALF_YEARLY
    unstable = (
        IncomeItem.objects.filter(household=household, kind__in=("wage", "business"))
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=as_of))
        .exists()
    )
    if unstable:
        return RecheckCategory.MONTHLY if household.hukou_type == "urban" else RecheckCategory.QUARTERLY
    return RecheckCategory.HALF_YEARLY


def _schedule_recheck(recipient: Recipient, from_month: dt.date) -> Recheck:
    months = RECHECK_MONTHS[RecheckCategory(recipient.recheck_category)]
    return Recheck.objects.create(
        recipient=recipient,
        due_date=add_months(from_month, months),
        category=recipient.recheck_category,
        reason=RecheckReason.SCHEDULED,
    )


def _history(
    recipient: Recipient,
    scope: Scope,
    from_status: str,
    reason: str,
    source: str,
    effective: dt.date,
    app: Application | None = None,
) -> None:
    RecipientStatusChange.objects.create(
        recipient=recipient,
        from_status=from_status,
        to_status=recipient.status,
        effective_month=effective,
        monthly_amount=recipient.monthly_amount,
        reason=reason[:MAX_REASON],
        source=source,
        application=app,
        actor_id=scope.user_id or None,
    )


def _recipient_create(scope: Scope, app: Application, decision: Decision, det: Determination) -> Recipient:
    assert decision.effective_month is not None
    category = recheck_category_for(
        program=app.program, rule_set=app.rule_set, household=app.household, as_of=decision.decided_on
    )
    try:
        with transaction.atomic():
            recipient = Recipient.objects.create(
                program=app.program,
                household=app.household,
                person=app.subject_person,
                subject_key=app.subject_key,
                region=app.region,
                region_path=app.region_path,
                status=RecipientStatus.ACTIVE,
                start_month=decision.effective_month,
                monthly_amount=decision.amount,
                determination=det,
                application=app,
                recheck_category=category,
            )
    except IntegrityError:
        raise ApplicationError("already_recipient", "该对象已在享受该项救助", "household_id", status=409) from None
    _history(recipient, scope, "", "审批通过，次月起发放", app.discovered_by, recipient.start_month, app)
    _schedule_recheck(recipient, recipient.start_month)
    _audit(scope, AuditAction.CREATE, recipient, "纳入救助", after=snapshot(recipient))
    return recipient


def _one_off_payment_create(scope: Scope, app: Application, decision: Decision, det: Determination) -> Recipient:
    """A one-off benefit (temporary assistance, funeral subsidy) approved through the normal procedure is paid in
    the county's payroll of the month of the decision: a recipient row payable for that one month only (start =
    end month), keyed by the application so that a household may receive again later. Act-first help was paid at
    once and has no payroll line."""
    month = decision.decided_on.replace(day=1)
    recipient = Recipient.objects.create(
        program=app.program,
        household=app.household,
        person=app.subject_person,
        subject_key=f"{app.subject_key}:a{app.pk}",
        region=app.region,
        region_path=app.region_path,
        status=RecipientStatus.ACTIVE,
        start_month=month,
        end_month=month,
        monthly_amount=decision.amount,
        determination=det,
        application=app,
        recheck_category=RecheckCategory.YEARLY,  # not used: a one-off benefit is never rechecked
    )
    _history(recipient, scope, "", "一次性救助，当月发放", app.discovered_by, month, app)
    _audit(scope, AuditAction.CREATE, recipient, "一次性救助纳入当月发放", after=snapshot(recipient))
    return recipient


def _apply_recheck_decision(scope: Scope, app: Application, decision: Decision, det: Determination) -> None:
    assert app.recipient_id is not None
    recipient = Recipient.objects.select_for_update().get(pk=app.recipient_id)
    before = snapshot(recipient)
    effective = next_month(decision.decided_on)
    old_status = recipient.status
    if decision.outcome == Outcome.APPROVED:
        recipient.monthly_amount = decision.amount
        in_exit = bool(det.output.get("outputs", {}).get("dibao_in_gradual_exit"))
        recipient.status = RecipientStatus.GRADUAL_EXIT if in_exit else RecipientStatus.ACTIVE
        reason = f"复查：继续享受，月金额{decision.amount}元"
    else:
        recipient.status = RecipientStatus.TERMINATED
        recipient.end_month = add_months(effective, -1)
        reason = "复查：停发（" + "；".join(decision.reasons) + "）"
    recipient.version += 1
    recipient.save()
    _history(recipient, scope, old_status, reason, app.discovered_by, effective, app)
    Recheck.objects.filter(application=app).update(status=RecheckStatus.DONE)
    if recipient.status != RecipientStatus.TERMINATED:
        recipient.recheck_category = recheck_category_for(
            program=app.program, rule_set=app.rule_set, household=app.household, as_of=decision.decided_on
        )
        recipient.save(update_fields=["recheck_category"])
        if not Recheck.objects.filter(recipient=recipient, status=RecheckStatus.SCHEDULED).exists():
            _schedule_recheck(recipient, effective)
    else:
        Recheck.objects.filter(recipient=recipient, status=RecheckStatus.SCHEDULED).update(
            status=RecheckStatus.CANCELLED, note="对象已停发"
        )
    _audit(scope, AuditAction.UPDATE, recipient, reason, before=before, after=snapshot(recipient))


# --- home visits, publicity, objections ----------------------------------------------------------------------
@transaction.atomic
def home_visit_record(
    *,
    scope: Scope,
    application_id: int,
    version: int,
    level: str,
    visited_on: dt.date | str,
    investigators: Iterable[object],
    findings: str,
    members_present: Iterable[object] = (),
    conforms: bool = True,
    today: dt.date | None = None,
) -> HomeVisit:
    """入户调查 by the township, or the county's check visit; at least two investigators sign."""
    if level not in VISIT_ROLES:
        raise ApplicationError("invalid", "入户调查层级应为乡镇或县级", "level")
    _require_role(scope, VISIT_ROLES[Level(level)], f"{Level(level).label}入户调查")
    app = _application_for_write(scope, application_id, version)
    if app.status != ApplicationStatus.IN_PROGRESS:
        raise ApplicationError("case_closed", "案件已办结，不能再登记入户调查", "application_id", status=409)
    day = parse_date(visited_on, "visited_on", "入户日期")
    if day > _today(today) or day < app.received_on:
        raise ApplicationError("invalid_date", "入户日期应在受理日期与今天之间", "visited_on")
    names = list(dict.fromkeys(str(n).strip() for n in investigators if str(n or "").strip()))
    if len(names) < 2:
        raise ApplicationError("investigators_min_two", "入户调查人员不得少于2人", "investigators")
    visit = HomeVisit.objects.create(
        application=app,
        level=level,
        visited_on=day,
        investigators=names,
        members_present=[str(m).strip() for m in members_present if str(m or "").strip()],
        findings=_text(findings, "findings", "调查情况"),
        conforms=conforms,
        recorded_by_id=scope.user_id,
    )
    if not conforms:
        app.disputed = True
        _save(app, ["disputed"])
    _audit(
        scope,
        AuditAction.CREATE,
        visit,
        f"{Level(level).label}入户调查",
        region=app.region_id,
        household_id=app.household_id,
        after={"level": level, "visited_on": day, "investigators": len(names)},
    )
    return visit


@transaction.atomic
def publicity_start(
    *,
    scope: Scope,
    application_id: int,
    version: int,
    step_code: str,
    start_date: dt.date | str,
    place: str,
    today: dt.date | None = None,
) -> Publicity:
    app = _application_for_write(scope, application_id, version)
    step = _step_for_action(app, scope, step_code)
    if step.code not in PUBLICITY_STEP:
        raise ApplicationError("not_publicity", f"“{step.name}”不是公示环节", "step_code")
    stage = PUBLICITY_STEP[step.code]
    if Publicity.objects.filter(application=app, stage=stage).exists():
        raise ApplicationError("publicity_exists", "该环节已发布公示", "step_code", status=409)
    start = parse_date(start_date, "start_date", "公示开始日期")
    if start < (step.opened_on or app.received_on) or start > _today(today):
        raise ApplicationError("invalid_date", "公示开始日期应在本环节开始之后、今天或之前", "start_date")
    days = int(app.workflow.config.get("publicity_days", 7))
    publicity = Publicity.objects.create(
        application=app,
        stage=stage,
        place=_text(place, "place", "公示地点", max_length=100),
        start_date=start,
        end_date=start + dt.timedelta(days=days - 1),
        created_by_id=scope.user_id,
    )
    _audit(
        scope,
        AuditAction.CREATE,
        publicity,
        f"发布{PublicityStage(stage).label}",
        region=app.region_id,
        household_id=app.household_id,
        after=snapshot(publicity),
    )
    return publicity


@transaction.atomic
def objection_record(
    *,
    scope: Scope,
    application_id: int,
    version: int,
    publicity_id: int,
    received_on: dt.date | str,
    content: str,
    real_name: bool = False,
) -> Objection:
    _require_role(scope, CASE_OPEN_ROLES | {Role.VILLAGE_WORKER}, "登记公示异议")
    app = _application_for_write(scope, application_id, version)
    publicity = Publicity.objects.filter(pk=publicity_id, application=app).first()
    if publicity is None:
        raise NotFound("公示不存在", "publicity_id")
    day = parse_date(received_on, "received_on", "收到日期")
    if day < publicity.start_date:
        raise ApplicationError("invalid_date", "异议收到日期不能早于公示开始日期", "received_on")
    objection = Objection.objects.create(
        publicity=publicity,
        received_on=day,
        content=_text(content, "content", "异议内容"),
        real_name=real_name,
        recorded_by_id=scope.user_id,
    )
    app.disputed = True
    _save(app, ["disputed"])
    _audit(
        scope,
        AuditAction.CREATE,
        objection,
        "公示异议",
        region=app.region_id,
        household_id=app.household_id,
        after={"publicity": publicity.pk, "received_on": day, "real_name": real_name},
    )
    return objection


@transaction.atomic
def objection_resolve(
    *,
    scope: Scope,
    application_id: int,
    version: int,
    objection_id: int,
    upheld: bool,
    resolution: str,
    today: dt.date | None = None,
) -> Objection:
    _require_role(scope, CASE_OPEN_ROLES, "核实公示异议")
    app = _application_for_write(scope, application_id, version)
    objection = Objection.objects.filter(pk=objection_id, publicity__application=app).first()
    if objection is None:
        raise NotFound("异议不存在", "objection_id")
    if objection.status != ObjectionStatus.OPEN:
        raise ApplicationError("already_resolved", "该异议已核实处理", "objection_id", status=409)
    objection.status = ObjectionStatus.UPHELD if upheld else ObjectionStatus.DISMISSED
    objection.resolution = _text(resolution, "resolution", "核实情况")
    objection.resolved_by_id = scope.user_id
    objection.resolved_on = _today(today)
    objection.save()
    _audit(
        scope,
        AuditAction.UPDATE,
        objection,
        "核实公示异议",
        region=app.region_id,
        household_id=app.household_id,
        after={"status": objection.status},
    )
    return objection


# --- spot check ---------------------------------------------------------------------------------------------
@transaction.atomic
def spot_check_batch_create(*, scope: Scope, program: str, county_code: str | None = None) -> SpotCheckBatch:
    """Draw the county's home-visit sample among the cases now awaiting its approval (reproducible by batch id)."""
    _require_role(scope, {Role.COUNTY_APPROVER}, "抽取入户抽查样本")
    county = Region.objects.filter(code=county_code or scope.region_code).first()
    if county is None or not scope.covers(county) or county.level != "county":
        raise ApplicationError("not_county", "请选择本人管辖的县级区划", "county_code")
    pending = (
        CaseStep.objects.select_for_update(of=("self", "application"))
        .filter(
            status=StepStatus.PENDING,
            application__program=program,
            application__region_path__startswith=county.path,
            application__spot_check_batch__isnull=True,
            application__status=ApplicationStatus.IN_PROGRESS,
        )
        .select_related("application", "application__workflow")
    )
    cases = [s.application for s in pending if "spot_check_drawn" in s.guards]
    if not cases:
        raise ApplicationError("nothing_to_sample", "当前没有待县级审批、尚未抽查的案件", "program")
    ratio = max(Decimal(str(cases[0].workflow.config.get("spot_check_ratio", "0.30"))), sampling.MIN_RATIO)
    population = sorted(a.pk for a in cases)
    mandatory = sorted(a.pk for a in cases if county_visit_required(a))
    batch = SpotCheckBatch.objects.create(
        region=county,
        program=program,
        ratio=ratio,
        population=population,
        mandatory=mandatory,
        created_by_id=scope.user_id,
    )
    batch.sample = sampling.draw(batch.pk, population, mandatory, ratio)
    batch.save(update_fields=["sample"])
    Application.objects.filter(pk__in=population).update(spot_check_batch=batch, version=F("version") + 1)
    Application.objects.filter(pk__in=batch.sample).update(spot_check_selected=True)
    _audit(
        scope,
        AuditAction.CREATE,
        batch,
        f"入户抽查：{len(batch.sample)}/{len(population)}",
        after={"population": population, "mandatory": mandatory, "sample": batch.sample, "ratio": ratio},
    )
    return batch


# --- temporary assistance: act first ------------------------------------------------------------------------
@transaction.atomic
def temporary_assistance_act_first(
    *,
    scope: Scope,
    household_id: int,
    applicant_id: int,
    amount: object,
    reason: str,
    paid_on: dt.date | str | None = None,
    request_type: str = "emergency",
    documents: Mapping[str, object] | None = None,
    today: dt.date | None = None,
) -> Application:
    """先行救助: help now (no verification, review or publicity), complete the record within the step's limit."""
    _require_role(scope, CASE_OPEN_ROLES, "先行救助")
    on = _today(today)
    paid = parse_date(paid_on or on, "paid_on", "救助日期")
    if paid > on:
        raise ApplicationError("invalid_date", "救助日期不能晚于今天", "paid_on")
    value = _money(amount, "amount", "救助金额")
    if value <= 0:
        raise ApplicationError("invalid_amount", "救助金额应大于0", "amount")
    household = (
        Household.objects.select_related("region")
        .filter(pk=household_id, region__path__startswith=scope.region_path)
        .first()
    )
    if household is None:
        raise NotFound("家庭不存在或不在您的管辖范围内", "household_id")
    applicant = _live_member(household, applicant_id, "applicant_id", "申请人")
    level = Level.COUNTY if scope.role == Role.COUNTY_APPROVER else Level.TOWNSHIP
    app = _open_case(
        scope=scope,
        program=Program.TEMPORARY_ASSISTANCE,
        kind=CaseKind.ACT_FIRST,
        household=household,
        applicant=applicant,
        subject=None,
        received_on=paid,
        discovered_by=Discovery.INTAKE,
        intake_level=level,
        documents=documents,
        request={
            "type": request_type,
            "reason": _text(reason, "reason", "困难情形", max_length=MAX_REASON),
            "proposed_amount": str(value),
        },
    )
    return step_complete(
        scope=scope,
        application_id=app.pk,
        version=app.version,
        step_code=app.current_step,
        comment=app.request["reason"],
        payload={"amount": str(value)},
        today=paid,
    )


# --- recipients: status, rechecks, changes, deaths --------------------------------------------------------------
def _recipient_for_write(scope: Scope, recipient_id: int, version: int | None) -> Recipient:
    _forbid_supervisor(scope)
    recipient = (
        Recipient.objects.select_for_update().filter(pk=recipient_id, region_path__startswith=scope.region_path).first()
    )
    if recipient is None:
        raise NotFound("救助对象不存在或不在您的管辖范围内", "recipient_id")
    if version is not None and recipient.version != version:
        raise StaleEdit()
    return recipient


def _set_status(
    scope: Scope,
    recipient: Recipient,
    to_status: str,
    reason: str,
    source: str,
    effective: dt.date,
    app: Application | None = None,
) -> None:
    if to_status not in RECIPIENT_TRANSITIONS[RecipientStatus(recipient.status)]:
        raise ApplicationError(
            "invalid_transition",
            f"救助对象状态不能从“{RecipientStatus(recipient.status).label}”变为“{RecipientStatus(to_status).label}”",
            "to_status",
            status=409,
        )
    before = snapshot(recipient)
    old = recipient.status
    recipient.status = to_status
    if to_status == RecipientStatus.TERMINATED:
        recipient.end_month = add_months(month_start(effective), -1)
        Recheck.objects.filter(recipient=recipient, status=RecheckStatus.SCHEDULED).update(
            status=RecheckStatus.CANCELLED, note="对象已终止"
        )
    recipient.version += 1
    recipient.save()
    _history(recipient, scope, old, reason, source, month_start(effective), app)
    _audit(
        scope,
        AuditAction.UPDATE if to_status != RecipientStatus.TERMINATED else AuditAction.END,
        recipient,
        reason,
        before=before,
        after=snapshot(recipient),
    )


@transaction.atomic
def recipient_status_change(
    *,
    scope: Scope,
    recipient_id: int,
    version: int,
    to_status: str,
    reason: str,
    effective_month: dt.date | str,
    today: dt.date | None = None,
) -> Recipient:
    """Suspend, resume, start a gradual exit or terminate, from the first day of `effective_month`."""
    _require_role(scope, {Role.COUNTY_APPROVER}, "变更救助对象状态")
    if to_status not in RecipientStatus.values:
        raise ApplicationError("invalid", f"未知状态：{to_status}", "to_status")
    recipient = _recipient_for_write(scope, recipient_id, version)
    effective = month_start(parse_date(effective_month, "effective_month", "生效月份"))
    if effective < recipient.start_month:
        raise ApplicationError("invalid_date", "生效月份不能早于起始月份", "effective_month")
    reason = _text(reason, "reason", "变更原因", max_length=MAX_REASON)
    _set_status(scope, recipient, to_status, reason, Discovery.CHANGE_REPORT, effective)
    return recipient


def _recheck_applicant(recipient: Recipient) -> Person:
    """Whom the recheck case is about: the recipient person, else a living member (the head first)."""
    if recipient.person is not None:
        return recipient.person
    live = Membership.objects.filter(household=recipient.household, end_date__isnull=True).select_related("person")
    members = sorted(live, key=lambda m: (m.person.death_date is not None, m.relation != "02", m.pk))
    if members:
        return members[0].person
    return recipient.application.applicant


def _open_recheck(
    scope: Scope, recipient: Recipient, reason: str, due: dt.date, on: dt.date, source: str, note: str = ""
) -> Recheck:
    """Open (or reuse) the recheck case of a recipient, due by `due`."""
    existing = (
        Application.objects.select_for_update()
        .filter(program=recipient.program, subject_key=recipient.subject_key, status=ApplicationStatus.IN_PROGRESS)
        .first()
    )
    if existing is not None and existing.kind != CaseKind.RECHECK:
        raise ApplicationError("duplicate_case", "该对象有正在办理的其他案件，请先办结", "recipient_id", status=409)
    if existing is None:
        household = recipient.household
        origin = recipient.application
        existing = _open_case(
            scope=scope,
            program=recipient.program,
            kind=CaseKind.RECHECK,
            household=household,
            applicant=_recheck_applicant(recipient),
            subject=recipient.person,
            received_on=on,
            discovered_by=source,
            intake_level=Level.TOWNSHIP,
            recipient=recipient,
            case_due=due,
            verification_authorised=origin.verification_authorised,
            authorised_on=origin.authorised_on,
        )
    elif existing.due_date is None or due < existing.due_date:
        Application.objects.filter(pk=existing.pk).update(due_date=due, version=F("version") + 1)
    recheck = Recheck.objects.filter(recipient=recipient, status=RecheckStatus.SCHEDULED).order_by("due_date").first()
    if recheck is not None and reason == RecheckReason.SCHEDULED:
        recheck.status, recheck.application = RecheckStatus.OPEN, existing
        recheck.save(update_fields=["status", "application"])
        return recheck
    return Recheck.objects.create(
        recipient=recipient,
        due_date=due,
        category=recipient.recheck_category,
        reason=reason,
        status=RecheckStatus.OPEN,
        application=existing,
        note=note,
    )


@transaction.atomic
def recheck_open(*, scope: Scope, recheck_id: int, today: dt.date | None = None) -> Recheck:
    """Start a scheduled recheck: opens a recheck case (investigation → … → county decision)."""
    _require_role(scope, CASE_OPEN_ROLES, "启动复查")
    recheck = (
        Recheck.objects.select_related("recipient")
        .filter(pk=recheck_id, recipient__region_path__startswith=scope.region_path)
        .first()
    )
    if recheck is None:
        raise NotFound("复查任务不存在或不在您的管辖范围内", "recheck_id")
    if recheck.status != RecheckStatus.SCHEDULED:
        raise ApplicationError("recheck_not_scheduled", "该复查已启动或已结束", "recheck_id", status=409)
    recipient = _recipient_for_write(scope, recheck.recipient_id, None)
    opened = _open_recheck(
        scope, recipient, RecheckReason.SCHEDULED, recheck.due_date, _today(today), Discovery.SCHEDULED
    )
    return opened


def _live_recipients_of(person: Person, household_ids: Iterable[int]) -> tuple[list[Recipient], list[Recipient]]:
    live = Recipient.objects.select_for_update().filter(status__in=LIVE_RECIPIENT_STATUSES)
    personal = list(live.filter(person=person))
    household = list(live.filter(person__isnull=True, household_id__in=list(household_ids)))
    return personal, household


def _apply_death(scope: Scope, person: Person, death_date: dt.date, on: dt.date) -> list[Recheck]:
    """Stop the deceased's own benefits from the next month; open the 3-month re-check of their household's."""
    households = (
        Membership.objects.filter(person=person)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=death_date))
        .values_list("household_id", flat=True)
    )
    personal, household_recipients = _live_recipients_of(person, households)
    stop_from = next_month(death_date)
    for recipient in personal:
        _set_status(scope, recipient, RecipientStatus.TERMINATED, "本人死亡，次月起停发", Discovery.DEATH, stop_from)
    rechecks = []
    for recipient in household_recipients:
        already = Recheck.objects.filter(
            recipient=recipient, reason=RecheckReason.DEATH, note__contains=f"person:{person.pk}"
        ).exists()
        if already:
            continue
        alive = (
            Membership.objects.filter(household=recipient.household, end_date__isnull=True)
            .exclude(person=person)
            .filter(person__death_date__isnull=True)
            .exists()
        )
        if not alive:
            _set_status(
                scope, recipient, RecipientStatus.TERMINATED, "家庭成员均已死亡，次月起停发", Discovery.DEATH, stop_from
            )
            continue
        rechecks.append(
            _open_recheck(
                scope,
                recipient,
                RecheckReason.DEATH,
                add_months(death_date, DEATH_RECHECK_MONTHS),
                on,
                Discovery.DEATH,
                note=f"家庭成员死亡 person:{person.pk}",
            )
        )
    return rechecks


@transaction.atomic
def person_death_record(
    *, scope: Scope, person_id: int, version: int, death_date: dt.date | str, today: dt.date | None = None
) -> list[Recheck]:
    """Record a death in the registry, stop the person's own benefits from the next month and open the re-check
    of their household's benefits within 3 months (2022 兜底通知)."""
    from doudi.registry.services import person_update

    _forbid_supervisor(scope)
    on = _today(today)
    day = parse_date(death_date, "death_date", "死亡日期")
    if day > on:
        raise ApplicationError("invalid_date", "死亡日期不能晚于今天", "death_date")
    person = person_update(scope=scope, person_id=person_id, version=version, data={"death_date": day})
    return _apply_death(scope, person, day, on)


@transaction.atomic
def deaths_apply(*, scope: Scope, today: dt.date | None = None) -> int:
    """Catch deaths recorded elsewhere (registry edits, imports, data matches): every live recipient whose person,
    or a member of whose household, has a death date and no stop or death re-check yet. Returns persons handled."""
    _require_role(scope, CASE_OPEN_ROLES, "处理死亡信息")
    on = _today(today)
    live = Recipient.objects.filter(region_path__startswith=scope.region_path, status__in=LIVE_RECIPIENT_STATUSES)
    personal = set(live.filter(person__death_date__isnull=False).values_list("person_id", flat=True))
    dead_members = Membership.objects.filter(
        household__in=live.filter(person__isnull=True).values("household_id"),
        person__death_date__isnull=False,
        end_date__isnull=True,
    ).values_list("person_id", flat=True)
    handled = 0
    for person in Person.objects.filter(pk__in=personal | set(dead_members)).order_by("pk"):
        assert person.death_date is not None
        _apply_death(scope, person, person.death_date, on)
        handled += 1
    return handled


@transaction.atomic
def change_report_create(
    *,
    scope: Scope,
    household_id: int,
    kind: str,
    reported_on: dt.date | str,
    details: Mapping[str, Any] | None = None,
    person_id: int | None = None,
    person_version: int | None = None,
    death_date: dt.date | str | None = None,
    today: dt.date | None = None,
) -> ChangeReport:
    """A household reports a change (2012 art. 32; 2021 art. 30): each live benefit of the household is re-checked.
    A death goes through person_death_record (stop next month, 3-month re-check)."""
    _require_role(scope, CHANGE_REPORT_ROLES, "登记家庭情况变更")
    if kind not in ChangeKind.values:
        raise ApplicationError("invalid", f"未知的变更事项：{kind}", "kind")
    on = _today(today)
    day = parse_date(reported_on, "reported_on", "报告日期")
    household = (
        Household.objects.select_related("region")
        .filter(pk=household_id, region__path__startswith=scope.region_path)
        .first()
    )
    if household is None:
        raise NotFound("家庭不存在或不在您的管辖范围内", "household_id")
    person = None
    if person_id is not None:
        person = Person.objects.filter(pk=person_id, memberships__household=household).distinct().first()
        if person is None:
            raise ApplicationError("not_member", "该人员不是本户成员", "person_id")
    report = ChangeReport.objects.create(
        household=household,
        person=person,
        kind=kind,
        reported_on=day,
        details=dict(details or {}),
        region_path=household.region.path,
        reported_by_id=scope.user_id or None,
    )
    _audit(
        scope,
        AuditAction.CREATE,
        report,
        f"变更报告：{ChangeKind(kind).label}",
        region=household.region_id,
        after={"kind": kind, "reported_on": day},
    )
    if kind == ChangeKind.DEATH:
        if person is None or person_version is None or death_date is None:
            raise ApplicationError("required", "死亡报告须选择人员并填写死亡日期", "death_date")
        person_death_record(scope=scope, person_id=person.pk, version=person_version, death_date=death_date, today=on)
        return report
    for recipient in Recipient.objects.select_for_update().filter(
        household=household, status__in=LIVE_RECIPIENT_STATUSES
    ):
        _open_recheck(
            scope,
            recipient,
            RecheckReason.CHANGE_REPORT,
            working_days_add(day, CHANGE_RECHECK_DAYS),
            on,
            Discovery.CHANGE_REPORT,
            note=f"变更报告 {report.pk}",
        )
    return report


# --- operators: holidays and workflow definitions -----------------------------------------------------------------
@transaction.atomic
def holiday_set(*, scope: Scope, date: dt.date | str, is_working_day: bool, note: str = "") -> Holiday:
    """Override the official calendar for one date (a local holiday, or a year the package does not know)."""
    if scope.role != Role.ADMIN:
        raise PermissionDenied("只有系统管理员可以维护节假日")
    day = parse_date(date, "date", "日期")
    holiday, created = Holiday.objects.update_or_create(
        date=day,
        defaults={
            "is_working_day": is_working_day,
            "note": _text(note, "note", "说明", required=False, max_length=100),
        },
    )
    audit_log_create(
        scope=scope,
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        subject_type="holiday",
        subject_id=day.isoformat(),
        after={"is_working_day": is_working_day, "note": holiday.note},
    )
    return holiday


@transaction.atomic
def holiday_delete(*, scope: Scope, date: dt.date | str) -> None:
    if scope.role != Role.ADMIN:
        raise PermissionDenied("只有系统管理员可以维护节假日")
    day = parse_date(date, "date", "日期")
    if Holiday.objects.filter(date=day).delete()[0]:
        audit_log_create(scope=scope, action=AuditAction.DELETE, subject_type="holiday", subject_id=day.isoformat())


@transaction.atomic
def workflow_definition_create(
    *,
    scope: Scope,
    program: str,
    kind: str,
    rule_set: str,
    name: str,
    steps: list[Mapping[str, Any]],
    region_code: str | None = None,
    config: Mapping[str, Any] | None = None,
    total_deadline_days: int | None = None,
    total_deadline_basis: str = "",
) -> WorkflowDefinition:
    """A region's own workflow (e.g. approval delegated to townships); it wins over wider ones for new cases."""
    if scope.role != Role.ADMIN:
        raise PermissionDenied("只有系统管理员可以配置审批流程")
    if program not in Program.values or kind not in CaseKind.values or rule_set not in RuleSet.values:
        raise ApplicationError("invalid", "救助项目、业务类型或适用办法不正确", "program")
    region = None
    if region_code:
        region = Region.objects.filter(code=region_code).first()
        if region is None or not scope.covers(region):
            raise ApplicationError("unknown_region", "区划不存在或不在管辖范围内", "region_code")
    if not steps:
        raise ApplicationError("required", "请配置流程环节", "steps")
    codes: set[str] = set()
    for i, s in enumerate(steps):
        code = str(s.get("code") or "")
        if not code or code in codes:
            raise ApplicationError("invalid", "环节代码不能为空或重复", f"steps[{i}].code")
        codes.add(code)
        if s.get("level") not in Level.values:
            raise ApplicationError("invalid", "办理层级不正确", f"steps[{i}].level")
        if not s.get("roles") or any(r not in Role.values or r == Role.SUPERVISOR for r in s["roles"]):
            raise ApplicationError("invalid", "可办理角色不正确", f"steps[{i}].roles")
        unknown = [g for g in s.get("guards", []) if g not in KNOWN_GUARDS]
        if unknown:
            raise ApplicationError("invalid", f"未知的办理条件：{'、'.join(unknown)}", f"steps[{i}].guards")
    if not any(s.get("decides") for s in steps):
        raise ApplicationError("invalid", "流程须有一个作出决定的环节", "steps")
    definition = WorkflowDefinition.objects.create(
        program=program,
        kind=kind,
        rule_set=rule_set,
        region=region,
        name=_text(name, "name", "名称", max_length=100),
        config=dict(config or {}),
        total_deadline_days=total_deadline_days,
        total_deadline_basis=total_deadline_basis,
    )
    WorkflowStep.objects.bulk_create(
        WorkflowStep(
            definition=definition,
            order=i,
            code=s["code"],
            name=s.get("name") or s["code"],
            level=s["level"],
            roles=list(s["roles"]),
            deadline_days=s.get("deadline_days"),
            deadline_unit=s.get("deadline_unit", DeadlineUnit.WORKING),
            optional=bool(s.get("optional")),
            decides=bool(s.get("decides")),
            refusable=bool(s.get("refusable")),
            guards=list(s.get("guards", [])),
            basis=s.get("basis", ""),
        )
        for i, s in enumerate(steps, start=1)
    )
    audit_log_create(
        scope=scope,
        action=AuditAction.CREATE,
        subject_type="workflowdefinition",
        subject_id=definition.pk,
        region_code=region.code if region else None,
        after={"program": program, "kind": kind, "rule_set": rule_set, "steps": [s["code"] for s in steps]},
    )
    return definition
