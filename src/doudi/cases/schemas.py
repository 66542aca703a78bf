"""API shapes of the case workflow. Outputs list their fields explicitly (never a model dump); money leaves as a
decimal string ("1234.50"), dates as YYYY-MM-DD, months as YYYY-MM.

Input schemas check types only; the services check meaning (roles, order, guards, amounts) and name the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema

from doudi.registry.schemas import Money, MoneyIn

VersionField = Field(description="读取案件时的版本号（version）；案件已被他人办理或修改时返回409")


# --- small pieces ------------------------------------------------------------------------------------------------


class KinIn(Schema):
    name: str
    relation: str = Field(description="spouse/parent/child/sibling/grandparent/grandchild", examples=["sibling"])
    position: str = Field(description="staff（低保经办人员）或 committee（村（居）委会成员）", examples=["committee"])
    organisation: str = ""


class KinOut(Schema):
    name: str
    relation: str
    position: str
    organisation: str = ""


class StepOut(Schema):
    code: str
    name: str
    order: int
    level: str
    roles: list[str]
    optional: bool
    decides: bool
    refusable: bool
    status: str
    status_label: str
    responsible_region_code: str | None
    responsible_region_name: str | None
    opened_on: dt.date | None
    due_date: dt.date | None
    overdue: bool
    actor_name: str | None
    acted_at: dt.datetime | None
    comment: str
    record: dict[str, Any] = Field(description="办理记录（评议人数、核对结果、建议金额等）")
    basis: str


class HomeVisitOut(Schema):
    id: int
    level: str
    visited_on: dt.date
    investigators: list[str]
    members_present: list[str]
    findings: str
    conforms: bool
    case_version: int = Field(description="登记后案件的版本号")


class ObjectionOut(Schema):
    id: int
    publicity_id: int
    received_on: dt.date
    content: str
    real_name: bool
    status: str
    status_label: str
    resolution: str
    resolved_on: dt.date | None
    case_version: int = Field(description="登记后案件的版本号")


class PublicityOut(Schema):
    id: int
    stage: str
    stage_label: str
    place: str
    start_date: dt.date
    end_date: dt.date
    objections: list[ObjectionOut]
    case_version: int = Field(description="登记后案件的版本号")


class TraceRowOut(Schema):
    name: str
    label: str
    value: Any = Field(description="测算值（金额为十进制文本）")
    reference: str | None


class ParameterUsedOut(Schema):
    path: str
    value: Any
    effective_from: dt.date | None
    reference: str | None
    confirmed: bool | None


class DeterminationOut(Schema):
    id: int
    as_of: dt.date
    rules_available: bool
    rules_version: str
    eligible: bool | None
    monthly_amount: Money | None
    failed_tests: list[str] = Field(description="不符合的条件（中文标签）")
    failed_test_codes: list[str]
    trace: list[TraceRowOut]
    parameters_used: list[ParameterUsedOut]
    message: str = Field("", description="规则引擎未提供测算或数据有误时的说明")


class DecisionOut(Schema):
    outcome: str
    outcome_label: str
    reasons: list[str]
    amount: Money
    decided_on: dt.date
    effective_month: str | None = Field(description="起始月份 YYYY-MM（一次性救助为空）")
    act_first: bool


# --- cases -------------------------------------------------------------------------------------------------------


class CaseListItemOut(Schema):
    id: int
    program: str
    program_label: str
    kind: str
    household_id: int
    household_number: str
    applicant_id: int
    applicant_name: str
    region_code: str
    region_name: str
    status: str
    status_label: str
    current_step: str
    received_on: dt.date
    due_date: dt.date | None
    overdue: bool
    version: int


class CasePageOut(Schema):
    items: list[CaseListItemOut]
    next_after: int | None = Field(description="下一页的 after 参数；为空表示没有更多")
    page_size: int


class CaseDetailOut(Schema):
    id: int
    program: str
    program_label: str
    kind: str
    rule_set: str
    status: str
    status_label: str
    current_step: str
    household_id: int
    household_number: str
    household_address: str
    region_code: str
    region_name: str
    applicant_id: int
    applicant_name: str
    subject_person_id: int | None
    subject_person_name: str | None
    received_on: dt.date
    due_date: dt.date | None
    overdue: bool
    discovered_by: str
    intake_level: str
    documents: dict[str, bool]
    documents_labels: dict[str, str]
    verification_authorised: bool
    authorised_on: dt.date | None
    kin_declared: bool
    kin_details: list[KinOut]
    disputed: bool
    spot_check_batch_id: int | None
    spot_check_selected: bool
    county_visit_required: list[str] = Field(description="须县级入户核查的原因（为空则不要求）")
    request: dict[str, Any]
    recipient_id: int | None = Field(description="复查案件：对应的救助对象")
    version: int
    steps: list[StepOut]
    home_visits: list[HomeVisitOut]
    publicities: list[PublicityOut]
    determination: DeterminationOut | None
    decision: DecisionOut | None


class TaskOut(Schema):
    application_id: int
    program: str
    program_label: str
    kind: str
    household_number: str
    applicant_name: str
    region_name: str
    step_code: str
    step_name: str
    level: str
    opened_on: dt.date | None
    due_date: dt.date | None
    overdue: bool
    version: int


class TaskListOut(Schema):
    items: list[TaskOut]
    overdue_steps: int
    overdue_cases: int


class OverdueCaseOut(Schema):
    id: int
    program: str
    household_number: str
    region_name: str
    current_step: str
    received_on: dt.date
    due_date: dt.date | None


class OverdueOut(Schema):
    steps: list[TaskOut]
    cases: list[OverdueCaseOut]
    act_first: list[TaskOut]


class CaseCreateIn(Schema):
    program: str = Field(examples=["dibao"])
    household_id: int
    applicant_id: int
    received_on: dt.date
    subject_person_id: int | None = Field(None, description="个人项目（特困、两项补贴、殡葬）的救助对象")
    documents: dict[str, bool] = Field(default_factory=dict, description="材料代码 → 是否收到")
    kin_declared: bool = False
    kin_details: list[KinIn] = Field(default_factory=list)
    verification_authorised: bool = False
    authorised_on: dt.date | None = None
    discovered_by: str = Field("intake", description="intake（依申请）或 active_discovery（主动发现）")
    request: dict[str, Any] = Field(default_factory=dict, description="临时救助：申请事项（type、reason…）")


ACTED_ON = "办理日期（补录纸质记录时可早于今天；不得早于本环节开始日期，不得晚于今天）；省略为今天"


class StepCompleteIn(Schema):
    version: int = VersionField
    acted_on: dt.date | None = Field(None, description=ACTED_ON)
    comment: str = ""
    payload: dict[str, Any] = Field(
        default_factory=dict,
        description="环节办理记录：民主评议 participants/villager_reps/conclusion；核对 result（pass/fail）；"
        "临时救助 amount（金额文本）、discussion；告知 delivered_on …",
    )


class StepSkipIn(Schema):
    version: int = VersionField
    acted_on: dt.date | None = Field(None, description=ACTED_ON)
    reason: str


class RefuseIn(Schema):
    version: int = VersionField
    acted_on: dt.date | None = Field(None, description=ACTED_ON)
    step_code: str = Field(description="作出不予批准决定的环节（当前环节）", examples=["county_approval"])
    reasons: list[str] = Field(description="书面理由，至少一条")
    comment: str = ""
    payload: dict[str, Any] = Field(default_factory=dict)


class DocumentsIn(Schema):
    version: int = VersionField
    documents: dict[str, bool] = Field(default_factory=dict)
    verification_authorised: bool | None = None
    authorised_on: dt.date | None = None


class HomeVisitIn(Schema):
    version: int = VersionField
    level: str = Field(examples=["township"], description="township 或 county")
    visited_on: dt.date
    investigators: list[str] = Field(description="调查人员（不少于2人）")
    findings: str
    members_present: list[str] = Field(default_factory=list)
    conforms: bool = True


class PublicityIn(Schema):
    version: int = VersionField
    step_code: str = Field("publicity", examples=["publicity"])
    start_date: dt.date
    place: str


class ObjectionIn(Schema):
    version: int = VersionField
    publicity_id: int
    received_on: dt.date
    content: str
    real_name: bool = False


class ObjectionResolveIn(Schema):
    version: int = VersionField
    upheld: bool
    resolution: str


class ActFirstIn(Schema):
    household_id: int
    applicant_id: int
    amount: MoneyIn
    reason: str
    paid_on: dt.date | None = None
    request_type: str = "emergency"
    documents: dict[str, bool] = Field(default_factory=dict)


# --- recipients, rechecks, changes, spot checks ---------------------------------------------------------------------


class RecipientOut(Schema):
    id: int
    program: str
    program_label: str
    household_id: int
    household_number: str
    person_id: int | None
    name: str | None = Field(description="个人项目为本人，家庭项目为户主")
    region_code: str
    region_name: str
    status: str
    status_label: str
    start_month: str
    end_month: str | None
    monthly_amount: Money
    recheck_category: str
    application_id: int
    version: int


class RecipientPageOut(Schema):
    items: list[RecipientOut]
    next_after: int | None
    page_size: int


class StatusChangeOut(Schema):
    from_status: str
    to_status: str
    effective_month: str
    monthly_amount: Money
    reason: str
    source: str
    application_id: int | None
    at: dt.datetime


class RecheckOut(Schema):
    id: int
    recipient_id: int
    household_id: int
    program: str
    due_date: dt.date
    category: str
    reason: str
    status: str
    status_label: str
    application_id: int | None
    overdue: bool
    note: str


class RecipientDetailOut(RecipientOut):
    history: list[StatusChangeOut]
    rechecks: list[RecheckOut]


class RecipientStatusIn(Schema):
    version: int = Field(description="读取救助对象时的版本号")
    to_status: str = Field(examples=["suspended"])
    reason: str
    effective_month: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-02"], description="生效月份 YYYY-MM")


class ChangeReportIn(Schema):
    household_id: int
    kind: str = Field(examples=["income"], description="income/membership/death/assets/other")
    reported_on: dt.date
    details: dict[str, Any] = Field(default_factory=dict)
    person_id: int | None = None
    person_version: int | None = Field(None, description="死亡报告：人员的版本号")
    death_date: dt.date | None = None


class ChangeReportOut(Schema):
    id: int
    household_id: int
    person_id: int | None
    kind: str
    reported_on: dt.date
    details: dict[str, Any]


class DeathIn(Schema):
    version: int = Field(description="读取人员时的版本号")
    death_date: dt.date


class DeathOut(Schema):
    person_id: int
    death_date: dt.date
    rechecks: list[RecheckOut] = Field(description="启动的家庭复查（3个月内完成）")


class SpotCheckIn(Schema):
    program: str = Field(examples=["dibao"])
    county_code: str | None = Field(None, description="默认为本人所在县")


class SpotCheckOut(Schema):
    id: int
    region_code: str
    region_name: str
    program: str
    ratio: str
    population: list[int]
    mandatory: list[int]
    sample: list[int]
    created_at: dt.datetime
