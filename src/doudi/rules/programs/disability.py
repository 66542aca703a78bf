"""残疾人两项补贴 (living subsidy for disabled persons in need; nursing subsidy for the severely disabled).

Legal basis (rules-cn.md §5): 国发〔2015〕52号 (from 2016-01-01) as summarised; Hainan amounts NOT
CONFIRMED (the shipped amounts are placeholders an operator must set).  特困 recipients and persons
receiving 工伤护理费 get neither subsidy.
"""

from __future__ import annotations

from typing import cast

import ibis
import ibis.expr.types as ir

from ..exprs import round_amount, zero
from ..model import Program
from ..schema import DISABILITY_INTELLECTUAL, DISABILITY_MENTAL

R_52 = "国务院关于全面建立困难残疾人生活补贴和重度残疾人护理补贴制度的意见 国发〔2015〕52号"

disability = Program(name="disability", label="残疾人两项补贴", reference=R_52)


def _b(value: ir.Value) -> ir.BooleanValue:
    return cast(ir.BooleanValue, value)


P = disability.parameter
P("disability_living_amount", "disability.living.amount", dtype="money", label="生活补贴标准（元/人/月）")
P("disability_nursing_amount", "disability.nursing.amount", dtype="money", label="护理补贴标准（元/人/月）")
P("disability_nursing_max_grade", "disability.nursing.max_grade", dtype="int", label="护理补贴残疾等级上限")
P("disability_nursing_intellectual_mental_max_grade", "disability.nursing.intellectual_mental_max_grade",
  dtype="int", label="护理补贴智力/精神残疾等级上限")
P("disability_living_requires_dibao", "disability.living.requires_dibao", dtype="bool", label="生活补贴限低保家庭")

V = disability.variable


@V(entity="member", dtype="bool", label="持证残疾人", reference=R_52)
def disability_member_disabled(t: ir.Table) -> ir.Value:
    return t.disability_category.notnull() & t.disability_grade.notnull()


@V(entity="member", dtype="bool", label="不享受两项补贴（特困、工伤护理）",
   reference=f"{R_52} (与特困供养、工伤护理费不重复)")
def disability_member_excluded(t: ir.Table) -> ir.Value:
    return t.tekun_recipient.fill_null(False) | t.work_injury_care.fill_null(False)


@V(entity="member", dtype="bool", label="符合困难残疾人生活补贴条件", reference=R_52,
   uses=["disability_member_disabled", "disability_member_excluded", "disability_living_requires_dibao",
         "dibao_recipient"])
def disability_member_living_eligible(t: ir.Table) -> ir.Value:
    household_ok = ~_b(t.disability_living_requires_dibao) | t.dibao_recipient.fill_null(False)
    return _b(t.disability_member_disabled) & ~_b(t.disability_member_excluded) & household_ok


@V(entity="member", dtype="bool", label="符合重度残疾人护理补贴条件", reference=R_52,
   uses=["disability_member_disabled", "disability_member_excluded", "disability_nursing_max_grade",
         "disability_nursing_intellectual_mental_max_grade"])
def disability_member_nursing_eligible(t: ir.Table) -> ir.Value:
    """一级、二级 (or extended intellectual/mental grades) needing long-term care."""
    grade = t.disability_grade
    severe = (grade <= t.disability_nursing_max_grade) | (
        t.disability_category.isin([DISABILITY_INTELLECTUAL, DISABILITY_MENTAL])
        & (grade <= t.disability_nursing_intellectual_mental_max_grade)
    )
    return (_b(t.disability_member_disabled) & ~_b(t.disability_member_excluded) & _b(severe).fill_null(False)
            & t.long_term_care.fill_null(False))


@V(entity="member", dtype="money", label="生活补贴", reference=R_52,
   uses=["disability_member_living_eligible", "disability_living_amount"])
def disability_member_living_subsidy(t: ir.Table) -> ir.Value:
    return ibis.ifelse(_b(t.disability_member_living_eligible), t.disability_living_amount, zero())


@V(entity="member", dtype="money", label="护理补贴", reference=R_52,
   uses=["disability_member_nursing_eligible", "disability_nursing_amount"])
def disability_member_nursing_subsidy(t: ir.Table) -> ir.Value:
    return ibis.ifelse(_b(t.disability_member_nursing_eligible), t.disability_nursing_amount, zero())


disability.aggregate(
    "disability_living_total", entity="household", source="member", how="sum", dtype="money",
    label="生活补贴合计", reference=R_52, uses=["disability_member_living_subsidy"],
    value=lambda t: t.disability_member_living_subsidy,
)
disability.aggregate(
    "disability_nursing_total", entity="household", source="member", how="sum", dtype="money",
    label="护理补贴合计", reference=R_52, uses=["disability_member_nursing_subsidy"],
    value=lambda t: t.disability_member_nursing_subsidy,
)
disability.aggregate(
    "disability_any_member_test_passed", entity="household", source="member", how="any", dtype="bool",
    label="至少一人符合任一补贴", reference=R_52,
    uses=["disability_member_living_eligible", "disability_member_nursing_eligible"],
    value=lambda t: _b(t.disability_member_living_eligible) | _b(t.disability_member_nursing_eligible),
)


@V(entity="household", dtype="bool", label="享受残疾人两项补贴", reference=R_52,
   uses=["disability_any_member_test_passed"])
def disability_eligible(t: ir.Table) -> ir.Value:
    return t.disability_any_member_test_passed


@V(entity="household", dtype="amount", label="月补贴金额（元）", reference="rounding rule docs/rules.md",
   uses=["disability_living_total", "disability_nursing_total"])
def disability_amount(t: ir.Table) -> ir.Value:
    return round_amount(t.disability_living_total + t.disability_nursing_total)


disability.eligible = "disability_eligible"
disability.amount = "disability_amount"
disability.tests = ("disability_any_member_test_passed",)
disability.outputs = ("disability_living_total", "disability_nursing_total")
