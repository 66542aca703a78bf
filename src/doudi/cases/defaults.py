"""The workflows shipped with doudi: data, installed by a migration and editable by operators afterwards.

Every time limit names its source (rules-cn.md §1.11, §3, §4). Where the national text gives no limit for a step,
the step has none and the whole-case limit (2021: 30 working days) covers it. Values marked "unconfirmed" are
operator defaults, not law (docs/cases.md lists them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TR, CA, CV = "township_reviewer", "county_approver", "county_verifier"


@dataclass(frozen=True)
class StepDef:
    code: str
    name: str
    level: str
    roles: tuple[str, ...]
    deadline_days: int | None = None
    deadline_unit: str = "working"
    optional: bool = False
    decides: bool = False
    refusable: bool = False
    guards: tuple[str, ...] = ()
    basis: str = ""


@dataclass(frozen=True)
class WorkflowDef:
    program: str
    kind: str
    rule_set: str
    name: str
    steps: tuple[StepDef, ...]
    total_deadline_days: int | None = None
    total_deadline_basis: str = ""
    config: dict[str, Any] = field(default_factory=dict)


D2012 = "最低生活保障审核审批办法（试行）民发〔2012〕220号"
D2021 = "最低生活保障审核确认办法（民政部2021）"
T2016 = "特困人员认定办法 民发〔2016〕178号"
T2021 = "特困人员认定办法 民发〔2021〕43号"
TA = "社会救助暂行办法 arts. 47–49; 民发〔2018〕23号"

DOCS_DIBAO = {
    "application_form": "书面申请书",
    "id_card": "居民身份证",
    "hukou_book": "户口簿",
    "income_proof": "家庭收入、财产情况声明及证明材料",
    "authorisation": "家庭经济状况核对授权书",
}
DOCS_TEKUN = {**DOCS_DIBAO, "self_care_assessment": "生活自理能力评估材料"}
DOCS_TA = {
    "application_form": "临时救助申请书",
    "id_card": "居民身份证",
    "hardship_proof": "困难情况证明（诊断、费用票据、事故证明等）",
}
DOCS_DISABILITY = {
    "application_form": "两项补贴申请审批表",
    "id_card": "居民身份证",
    "disability_cert": "第二代残疾人证",
}
DOCS_FUNERAL = {
    "application_form": "惠民殡葬补贴申请表",
    "id_card": "居民身份证",
    "death_certificate": "死亡证明",
}

ACCEPT = "documents_complete"
VISIT = "home_visit"
AUTH = "authorised"
REVIEW = "review_attendance"
PUB_INITIAL = "publicity_closed:initial"
PUB_APPROVAL = "publicity_closed:approval"
SPOT = "spot_check_drawn"
COUNTY_VISIT = "county_visit_if_required"
TA_AMOUNT = "ta_amount"
TA_TIER = "ta_tier"


def _notice(days: int, unit: str, basis: str) -> StepDef:
    return StepDef("notice", "决定告知（送达通知书）", "county", (CA, TR), days, unit, basis=basis)


def _dibao_2012() -> WorkflowDef:
    return WorkflowDef(
        "dibao",
        "new",
        "2012",
        "低保审核审批（2012年办法）",
        (
            StepDef(
                "acceptance",
                "受理",
                "township",
                (TR,),
                guards=(ACCEPT,),
                basis=f"{D2012} art. 13（材料不全一次性告知）",
            ),
            StepDef(
                "investigation",
                "家庭经济状况调查（入户调查）",
                "township",
                (TR,),
                10,
                guards=(VISIT,),
                basis=f"{D2012} art. 18：受理之日起10个工作日内完成",
            ),
            StepDef(
                "verification",
                "信息核对",
                "county",
                (CV,),
                guards=(AUTH,),
                basis=f"{D2012} art. 19(1)（授权：art. 12）；计入调查期限",
            ),
            StepDef(
                "democratic_review",
                "民主评议",
                "township",
                (TR,),
                5,
                guards=(REVIEW,),
                basis=f"{D2012} arts. 21–24：调查结束后5个工作日内",
            ),
            StepDef("township_opinion", "乡镇（街道）审核意见", "township", (TR,), basis=f"{D2012} art. 25"),
            StepDef(
                "publicity",
                "审核结果公示（7天）",
                "township",
                (TR,),
                guards=(PUB_INITIAL,),
                basis=f"{D2012} art. 25：公示7天",
            ),
            StepDef(
                "county_review",
                "县级审批（入户抽查）",
                "county",
                (CA,),
                5,
                refusable=True,
                guards=(SPOT, COUNTY_VISIT),
                basis=f"{D2012} art. 26：5个工作日内；抽查≥30%，近亲属、有异议案件100%入户",
            ),
            StepDef(
                "approval_publicity",
                "拟批准公示（7天）",
                "township",
                (TR, CA),
                guards=(PUB_APPROVAL,),
                basis=f"{D2012} art. 29：公示7天",
            ),
            StepDef(
                "decision",
                "批准决定",
                "county",
                (CA,),
                3,
                decides=True,
                refusable=True,
                basis=f"{D2012} art. 29：无异议3个工作日内批准",
            ),
            _notice(3, "calendar", f"{D2012} art. 26：不予批准3日内书面通知"),
        ),
        config={"documents": DOCS_DIBAO, "publicity_days": 7, "spot_check_ratio": "0.30"},
    )


def _dibao_2021() -> WorkflowDef:
    return WorkflowDef(
        "dibao",
        "new",
        "2021",
        "低保审核确认（2021年办法）",
        (
            StepDef("acceptance", "受理", "township", (TR,), guards=(ACCEPT,), basis=f"{D2021} art. 10"),
            StepDef(
                "investigation",
                "家庭经济状况调查（入户调查）",
                "township",
                (TR,),
                guards=(VISIT,),
                basis=f"{D2021} art. 15：受理后3个工作日内启动调查",
            ),
            StepDef(
                "verification",
                "信息核对",
                "county",
                (CV,),
                3,
                guards=(AUTH,),
                basis=f"{D2021} art. 17：收到核对请求3个工作日内启动",
            ),
            StepDef(
                "democratic_review",
                "民主评议（有异议时）",
                "township",
                (TR,),
                optional=True,
                guards=(REVIEW,),
                basis=f"{D2021} art. 19；关于改革完善社会救助制度的意见 item 24",
            ),
            StepDef("township_opinion", "乡镇（街道）初审意见", "township", (TR,), basis=f"{D2021} art. 19"),
            StepDef(
                "publicity",
                "初审公示（7天）",
                "township",
                (TR,),
                guards=(PUB_INITIAL,),
                basis=f"{D2021} art. 19：公示7天",
            ),
            StepDef(
                "county_approval",
                "县级审核确认（入户抽查）",
                "county",
                (CA,),
                10,
                decides=True,
                refusable=True,
                guards=(SPOT, COUNTY_VISIT),
                basis=f"{D2021} arts. 20–22：10个工作日内；单独登记及有举报案件必须入户",
            ),
            _notice(3, "working", f"{D2021} art. 23：不予确认3个工作日内书面告知"),
        ),
        total_deadline_days=30,
        total_deadline_basis=f"{D2021} art. 25；2022年兜底通知：原则上30个工作日（乡镇确认20个）",
        config={"documents": DOCS_DIBAO, "publicity_days": 7, "spot_check_ratio": "0.30"},
    )


def _tekun(rule_set: str) -> WorkflowDef:
    old = rule_set == "2012"
    basis = T2016 if old else T2021
    investigation_days, county_days = (20, 20) if old else (15, 15)
    unconfirmed = "（地方做法，全国时限未证实）" if old else ""
    return WorkflowDef(
        "tekun",
        "new",
        rule_set,
        f"特困人员认定（{'2016' if old else '2021'}年办法）",
        (
            StepDef("acceptance", "受理", "township", (TR,), guards=(ACCEPT,), basis=basis),
            StepDef(
                "investigation",
                "调查核实（含生活自理能力评估）",
                "township",
                (TR,),
                investigation_days,
                guards=(VISIT,),
                basis=f"{basis}：{investigation_days}个工作日内提出初审意见{unconfirmed}",
            ),
            StepDef("verification", "信息核对", "county", (CV,), guards=(AUTH,), basis=basis),
            StepDef(
                "democratic_review",
                "民主评议（视情）",
                "township",
                (TR,),
                optional=True,
                guards=(REVIEW,),
                basis=f"{T2021} art. 14：可视情组织民主评议",
            ),
            StepDef("township_opinion", "乡镇（街道）初审意见", "township", (TR,), basis=basis),
            StepDef(
                "publicity", "初审公示（7天）", "township", (TR,), guards=(PUB_INITIAL,), basis=f"{basis}：公示7天"
            ),
            StepDef(
                "county_approval",
                "县级审核确认（入户抽查）",
                "county",
                (CA,),
                county_days,
                decides=True,
                refusable=True,
                guards=(SPOT, COUNTY_VISIT),
                basis=f"{basis}：{county_days}个工作日内作出决定{unconfirmed}；抽查≥30%",
            ),
            _notice(3, "working", f"{T2021}：不予认定3个工作日内书面告知"),
        ),
        config={"documents": DOCS_TEKUN, "publicity_days": 7, "spot_check_ratio": "0.30"},
    )


TA_CONFIG: dict[str, Any] = {
    "documents": DOCS_TA,
    "publicity_days": 7,
    # Unconfirmed for Hainan (rules-cn §4.1, §4.3): multiples of the local monthly URBAN dibao standard.
    # Township ceiling: Hubei 2019 raised it to 4×; above 6× (Hainan 2021's in-principle one-off cap) a case is
    # treated as major hardship needing 一事一议.
    "township_ceiling_multiple": "4",
    "major_hardship_multiple": "6",
}


def _temporary(rule_set: str) -> list[WorkflowDef]:
    general = WorkflowDef(
        "temporary_assistance",
        "new",
        rule_set,
        "临时救助（一般程序）",
        (
            StepDef("acceptance", "受理", "township", (TR,), guards=(ACCEPT,), basis=f"{TA}：向乡镇（街道）申请"),
            StepDef("investigation", "调查（入户调查）", "township", (TR,), guards=(VISIT,), basis=TA),
            StepDef(
                "verification",
                "信息核对（支出型）",
                "county",
                (CV,),
                optional=True,
                guards=(AUTH,),
                basis="民发〔2018〕23号：支出型核对必需支出",
            ),
            StepDef(
                "township_opinion",
                "乡镇（街道）审核意见（建议救助金额）",
                "township",
                (TR,),
                guards=(TA_AMOUNT,),
                basis=TA,
            ),
            StepDef(
                "publicity",
                "公示（7天）",
                "township",
                (TR,),
                guards=(PUB_INITIAL,),
                basis="社会救助暂行办法 art. 48：审核并公示",
            ),
            StepDef(
                "approval",
                "审批（按金额分级：乡镇、县级、一事一议）",
                "township",
                (TR, CA),
                decides=True,
                refusable=True,
                guards=(TA_TIER,),
                basis="社会救助暂行办法 art. 48；民发〔2018〕23号：小额审批权委托乡镇，重大困难一事一议",
            ),
            _notice(3, "working", "社会救助暂行办法 art. 11（不予救助书面说明理由）"),
        ),
        config=TA_CONFIG,
    )
    act_first = WorkflowDef(
        "temporary_assistance",
        "act_first",
        rule_set,
        "临时救助（先行救助）",
        (
            StepDef(
                "act_first_relief",
                "先行救助",
                "township",
                (TR, CA),
                decides=True,
                guards=(TA_TIER,),
                basis="民发〔2018〕23号：急难型先行救助，免于核对、评议和公示",
            ),
            StepDef(
                "record_completion",
                "补齐材料与审批手续",
                "township",
                (TR, CA),
                5,
                guards=(ACCEPT,),
                basis="民发〔2018〕23号：紧急情况解除后补齐（5个工作日为未证实的运营默认值）",
            ),
        ),
        config=TA_CONFIG,
    )
    return [general, act_first]


def _disability(program: str, label: str, rule_set: str) -> WorkflowDef:
    basis = "国发〔2015〕52号；standards-cn §3.7"
    return WorkflowDef(
        program,
        "new",
        rule_set,
        label,
        (
            StepDef("acceptance", "受理", "township", (TR,), guards=(ACCEPT,), basis=basis),
            StepDef("township_review", "乡镇（街道）初审", "township", (TR,), basis=basis),
            StepDef("federation_review", "县残联审核意见", "county", (CA, CV), basis=basis),
            StepDef("county_approval", "县级民政审定", "county", (CA,), decides=True, refusable=True, basis=basis),
            _notice(3, "working", "社会救助暂行办法 art. 11（书面说明理由）"),
        ),
        config={"documents": DOCS_DISABILITY},
    )


def _funeral(rule_set: str) -> WorkflowDef:
    basis = "海南惠民殡葬（rules-cn §10.1）：县级民政审批"
    return WorkflowDef(
        "funeral",
        "new",
        rule_set,
        "惠民殡葬补贴",
        (
            StepDef("acceptance", "受理", "township", (TR,), guards=(ACCEPT,), basis=basis),
            StepDef("county_approval", "县级民政审批", "county", (CA,), decides=True, refusable=True, basis=basis),
            _notice(3, "working", "社会救助暂行办法 art. 11（书面说明理由）"),
        ),
        config={"documents": DOCS_FUNERAL},
    )


def _recheck(program: str, rule_set: str) -> WorkflowDef:
    basis = f"{D2012} art. 33；{D2021} art. 31；2022年兜底通知（成员死亡3个月内复核）"
    return WorkflowDef(
        program,
        "recheck",
        rule_set,
        "复查（核查调整）",
        (
            StepDef("investigation", "复查入户调查", "township", (TR,), guards=(VISIT,), basis=basis),
            StepDef("verification", "信息核对", "county", (CV,), optional=True, guards=(AUTH,), basis=basis),
            StepDef("township_opinion", "乡镇（街道）复查意见", "township", (TR,), basis=basis),
            StepDef(
                "county_approval",
                "县级复查决定（继续、调整、停发）",
                "county",
                (CA,),
                decides=True,
                refusable=True,
                basis=basis,
            ),
            _notice(3, "working", f"{D2021} art. 32：减发、停发书面说明理由"),
        ),
        config={"documents": {}},
    )


def default_workflows() -> list[WorkflowDef]:
    out: list[WorkflowDef] = [_dibao_2012(), _dibao_2021()]
    for rule_set in ("2012", "2021"):
        out.append(_tekun(rule_set))
        out.extend(_temporary(rule_set))
        out.append(_disability("disability_living", "困难残疾人生活补贴", rule_set))
        out.append(_disability("disability_nursing", "重度残疾人护理补贴", rule_set))
        out.append(_funeral(rule_set))
        for program in ("dibao", "tekun", "disability_living", "disability_nursing"):
            out.append(_recheck(program, rule_set))
    return out


def install_default_workflows(workflow_model: Any, step_model: Any) -> int:
    """Create the shipped definitions that are missing (idempotent; used by the data migration)."""
    created = 0
    for wf in default_workflows():
        exists = workflow_model.objects.filter(
            program=wf.program, kind=wf.kind, rule_set=wf.rule_set, region__isnull=True, name=wf.name
        ).exists()
        if exists:
            continue
        definition = workflow_model.objects.create(
            program=wf.program,
            kind=wf.kind,
            rule_set=wf.rule_set,
            region=None,
            name=wf.name,
            active=True,
            total_deadline_days=wf.total_deadline_days,
            total_deadline_basis=wf.total_deadline_basis,
            config=wf.config,
        )
        for order, step in enumerate(wf.steps, start=1):
            step_model.objects.create(
                definition=definition,
                order=order,
                code=step.code,
                name=step.name,
                level=step.level,
                roles=list(step.roles),
                deadline_days=step.deadline_days,
                deadline_unit=step.deadline_unit,
                optional=step.optional,
                decides=step.decides,
                refusable=step.refusable,
                guards=list(step.guards),
                basis=step.basis,
            )
        created += 1
    return created
