"""临时救助 (temporary assistance).

Legal basis (rules-cn.md §4): 社会救助暂行办法 arts. 47–50; 国发〔2014〕47号; 民发〔2018〕23号 (急难型 / 支出型,
先行救助, township approval ceiling, standards linked to the dibao standard, 一事一议 for major hardship).
Amount = urban dibao standard × persons × months (months limited by group), capped; above the cap the
case goes to 一事一议 (one-case-one-discussion) and the capped amount is what the rules can grant.
"""

from __future__ import annotations

from typing import cast

import ibis
import ibis.expr.types as ir

from ..exprs import mul, round_amount, zero
from ..model import Program

R_2018 = "民政部 财政部《关于进一步加强和改进临时救助工作的意见》民发〔2018〕23号"
R_ART = "社会救助暂行办法 arts. 47–50"

temporary = Program(name="temporary", label="临时救助", reference=f"{R_ART}; 国发〔2014〕47号; {R_2018}")
temporary.request_fields = ("type", "group", "persons", "months", "expense")


def _b(value: ir.Value) -> ir.BooleanValue:
    return cast(ir.BooleanValue, value)


P = temporary.parameter
P("temporary_standard", "dibao.standard", dtype="money", label="城市低保标准（元/人/月）", area="urban")
P("temporary_max_months_tekun", "temporary.max_months.tekun", dtype="int", label="最长救助月数（特困、孤儿）")
P("temporary_max_months_dibao", "temporary.max_months.dibao", dtype="int", label="最长救助月数（低保、建档立卡）")
P("temporary_max_months_other", "temporary.max_months.other", dtype="int", label="最长救助月数（其他）")
P("temporary_cap_multiple", "temporary.cap_standard_multiple", dtype="rate", label="一次性救助上限（标准倍数）")
P("temporary_township_ceiling_multiple", "temporary.township_ceiling_standard_multiple", dtype="rate",
  label="乡镇审批权限（标准倍数）")

V = temporary.variable


@V(entity="household", dtype="int", label="可救助月数上限", reference=f"{R_2018} (分类分档)",
   uses=["temporary_max_months_tekun", "temporary_max_months_dibao", "temporary_max_months_other"])
def temporary_months_limit(t: ir.Table) -> ir.Value:
    return ibis.cases(
        (t.request_group == "tekun", t.temporary_max_months_tekun),
        (t.request_group == "dibao", t.temporary_max_months_dibao),
        else_=t.temporary_max_months_other,
    )


@V(entity="household", dtype="int", label="核定救助月数", reference=R_2018, uses=["temporary_months_limit"])
def temporary_months(t: ir.Table) -> ir.Value:
    return ibis.least(t.request_months, t.temporary_months_limit)


@V(entity="household", dtype="money", label="按标准计算的救助金额（标准×人数×月数）", reference=R_2018,
   uses=["temporary_standard", "temporary_months"])
def temporary_formula_amount(t: ir.Table) -> ir.Value:
    return mul(t.temporary_standard, t.request_persons, t.temporary_months)


@V(entity="household", dtype="money", label="救助需求金额", reference=f"{R_2018} (支出型: 不超过必需支出)",
   uses=["temporary_formula_amount"])
def temporary_needed_amount(t: ir.Table) -> ir.Value:
    """For an expense-type request, no more than the expense itself."""
    return ibis.ifelse(t.request_type == "expense",
                       ibis.least(t.temporary_formula_amount, t.request_expense), t.temporary_formula_amount)


@V(entity="household", dtype="money", label="一次性救助上限", reference=R_2018,
   uses=["temporary_cap_multiple", "temporary_standard"])
def temporary_cap(t: ir.Table) -> ir.Value:
    return mul(t.temporary_cap_multiple, t.temporary_standard)


@V(entity="household", dtype="bool", label="一事一议", reference=f"{R_2018} (重大生活困难 一事一议)",
   uses=["temporary_needed_amount", "temporary_cap"])
def temporary_one_case_one_discussion(t: ir.Table) -> ir.Value:
    return t.temporary_needed_amount > t.temporary_cap


@V(entity="household", dtype="money", label="救助金额（取整前）", reference=R_2018,
   uses=["temporary_needed_amount", "temporary_cap"])
def temporary_amount_before_rounding(t: ir.Table) -> ir.Value:
    return ibis.least(t.temporary_needed_amount, t.temporary_cap)


@V(entity="household", dtype="amount", label="救助金额（元）", reference="rounding rule docs/rules.md",
   uses=["temporary_amount_before_rounding"])
def temporary_amount(t: ir.Table) -> ir.Value:
    return round_amount(t.temporary_amount_before_rounding)


@V(entity="household", dtype="money", label="乡镇（街道）审批权限", reference=f"{R_2018} (审批权限下放乡镇)",
   uses=["temporary_township_ceiling_multiple", "temporary_standard"])
def temporary_township_ceiling(t: ir.Table) -> ir.Value:
    return mul(t.temporary_township_ceiling_multiple, t.temporary_standard)


@V(entity="household", dtype="str", label="审批层级", reference=f"{R_ART} art. 48; {R_2018}",
   uses=["temporary_amount", "temporary_township_ceiling", "temporary_one_case_one_discussion"])
def temporary_approval_level(t: ir.Table) -> ir.Value:
    """township within its ceiling; county above it or for 一事一议."""
    within = (t.temporary_amount <= t.temporary_township_ceiling) & ~_b(t.temporary_one_case_one_discussion)
    return ibis.ifelse(within, "township", "county")


@V(entity="household", dtype="bool", label="可先行救助（急难型）", reference=f"{R_2018} (急难型 先行救助)")
def temporary_prior_assistance(t: ir.Table) -> ir.Value:
    return t.request_type == "emergency"


@V(entity="household", dtype="bool", label="救助金额大于零", reference=R_2018, uses=["temporary_amount"])
def temporary_amount_test_passed(t: ir.Table) -> ir.Value:
    return t.temporary_amount > zero()


@V(entity="household", dtype="bool", label="给予临时救助", reference=R_ART, uses=["temporary_amount_test_passed"])
def temporary_eligible(t: ir.Table) -> ir.Value:
    return t.temporary_amount_test_passed


temporary.eligible = "temporary_eligible"
temporary.amount = "temporary_amount"
temporary.tests = ("temporary_amount_test_passed",)
temporary.summary = {"standard": "temporary_standard"}
temporary.outputs = ("temporary_approval_level", "temporary_one_case_one_discussion", "temporary_prior_assistance",
                     "temporary_months")
