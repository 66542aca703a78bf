"""特困人员救助供养 (tekun, support for persons in extreme poverty).

Legal basis (rules-cn.md §2.2, §3): 社会救助暂行办法 arts. 14–21; 特困人员认定办法 民发〔2016〕178号
(2016-10-10 → 2021-06-30) and 民发〔2021〕43号 (from 2021-07-01), selected by date through dated parameters;
国发〔2016〕14号 for the support standard = basic-living standard + care standard.
Each member is assessed individually; the household amount is the sum for eligible members.
"""

from __future__ import annotations

from typing import cast

import ibis
import ibis.expr.types as ir

from ..exprs import full_years, money, mul, round_amount, zero
from ..model import Formula, Program
from ..schema import (
    DISABILITY_INTELLECTUAL,
    DISABILITY_MENTAL,
    DISABILITY_PHYSICAL,
    DISABILITY_VISUAL,
    SELF_CARE_ITEMS,
)

R_RULE = "特困人员认定办法 民发〔2016〕178号 / 民发〔2021〕43号"
R_CONDITIONS = f"社会救助暂行办法 art. 14; {R_RULE} (三个条件)"
R_SELF_CARE = "特困人员认定办法 2021 arts. 21–22 (six items; 2016 same)"
R_STANDARD = "国发〔2016〕14号 (基本生活标准 + 照料护理标准) as reported; rules-cn.md §2.2"

tekun = Program(name="tekun", label="特困人员救助供养", reference=f"社会救助暂行办法 arts. 14–21; {R_RULE}")
tekun.required_member_fields = ("labour_capacity", "has_able_supporter", "self_care", "support_mode")


def _b(value: ir.Value) -> ir.BooleanValue:
    return cast(ir.BooleanValue, value)


P = tekun.parameter
P("tekun_dibao_standard", "dibao.standard", dtype="money", label="低保标准（元/人/月）")
P("tekun_rule_version", "tekun.rule_version", dtype="str", label="特困人员认定办法版本")
P("tekun_elderly_age", "tekun.no_labour.elderly_age", dtype="int", label="老年人年龄")
P("tekun_minor_age", "tekun.minor_age", dtype="int", label="未成年人年龄上限")
P("tekun_intellectual_mental_max_grade", "tekun.no_labour.intellectual_mental_max_grade", dtype="int",
  label="无劳动能力智力/精神残疾等级上限")
P("tekun_physical_max_grade", "tekun.no_labour.physical_max_grade", dtype="int", label="无劳动能力肢体残疾等级上限")
P("tekun_visual_max_grade", "tekun.no_labour.visual_max_grade", dtype="int", label="无劳动能力视力残疾等级上限")
P("tekun_excluded_income_kinds", "tekun.income.excluded_kinds", dtype="list_str", label="不计入收入的类别")
P("tekun_basic_living_ratio", "tekun.basic_living.ratio", dtype="rate", label="基本生活标准（低保标准倍数）")
P("tekun_basic_living_minimum", "tekun.basic_living.minimum", dtype="money", label="基本生活标准下限")
P("tekun_care_base", "tekun.care.base", dtype="money", label="照料护理标准基数")
for mode in ("dispersed", "centralised"):
    for level in ("full", "partial", "none"):
        P(f"tekun_care_rate_{mode}_{level}", f"tekun.care.{mode}.{level}", dtype="rate",
          label=f"照料护理比例（{mode}/{level}）")

V = tekun.variable


@V(entity="member", dtype="int", label="年龄（周岁）", reference="中华人民共和国民法典 art. 17", uses=["as_of"])
def tekun_member_age(t: ir.Table) -> ir.Value:
    return full_years(t.birth_date, t.as_of)


@V(entity="member", dtype="bool", label="属于老年人、残疾人或未成年人", reference=R_CONDITIONS,
   uses=["tekun_member_age", "tekun_elderly_age", "tekun_minor_age"])
def tekun_member_in_covered_group(t: ir.Table) -> ir.Value:
    return ((t.tekun_member_age >= t.tekun_elderly_age) | (t.tekun_member_age < t.tekun_minor_age)
            | t.disability_category.notnull())


@V(entity="member", dtype="bool", label="无劳动能力", reference=f"{R_RULE} (无劳动能力)",
   uses=["tekun_member_age", "tekun_elderly_age", "tekun_minor_age", "tekun_intellectual_mental_max_grade",
         "tekun_physical_max_grade", "tekun_visual_max_grade"])
def tekun_member_no_labour_capacity(t: ir.Table) -> ir.Value:
    """≥60, minor, listed disability grades (by rule version), or assessed as having none."""
    cat, grade = t.disability_category, t.disability_grade
    disabled = (
        (cat.isin([DISABILITY_INTELLECTUAL, DISABILITY_MENTAL]) & (grade <= t.tekun_intellectual_mental_max_grade))
        | ((cat == DISABILITY_PHYSICAL) & (grade <= t.tekun_physical_max_grade))
        | ((cat == DISABILITY_VISUAL) & (grade <= t.tekun_visual_max_grade))
    )
    return ((t.tekun_member_age >= t.tekun_elderly_age) | (t.tekun_member_age < t.tekun_minor_age)
            | _b(disabled).fill_null(False) | (t.labour_capacity == "none"))


@V(entity="income", dtype="bool", label="不计入收入的类别", reference=f"{R_RULE} (无生活来源)",
   uses=["tekun_excluded_income_kinds"])
def tekun_income_excluded(t: ir.Table) -> ir.Value:
    return t.tekun_excluded_income_kinds.contains(t.kind)


tekun.aggregate(
    "tekun_member_income", entity="member", source="income", how="sum", dtype="money",
    label="个人月收入（不含豁免类别）", reference=f"{R_RULE} (无生活来源)", uses=["tekun_income_excluded"],
    value=lambda t: t.monthly_amount, where=lambda t: ~_b(t.tekun_income_excluded),
)


@V(entity="member", dtype="bool", label="无生活来源（收入低于低保标准）", reference=f"{R_RULE} (无生活来源)",
   uses=["tekun_member_income", "tekun_dibao_standard"])
def tekun_member_no_income_source(t: ir.Table) -> ir.Value:
    return t.tekun_member_income < t.tekun_dibao_standard


@V(entity="member", dtype="bool", label="无履行义务能力的法定义务人", reference=R_CONDITIONS)
def tekun_member_no_able_supporter(t: ir.Table) -> ir.Value:
    return ~_b(t.has_able_supporter.fill_null(True))


@V(entity="member", dtype="bool", label="符合特困人员条件", reference=R_CONDITIONS,
   uses=["tekun_member_in_covered_group", "tekun_member_no_labour_capacity", "tekun_member_no_income_source",
         "tekun_member_no_able_supporter"])
def tekun_member_eligible(t: ir.Table) -> ir.Value:
    return (_b(t.tekun_member_in_covered_group) & _b(t.tekun_member_no_labour_capacity)
            & _b(t.tekun_member_no_income_source) & _b(t.tekun_member_no_able_supporter)
            & (t.status == "present"))


@V(entity="member", dtype="int", label="不能自主完成的生活自理项目数", reference=R_SELF_CARE)
def tekun_member_self_care_lost_items(t: ir.Table) -> ir.Value:
    lost = [ibis.ifelse(t[f"self_care_{item}"].fill_null(True), 0, 1) for item in SELF_CARE_ITEMS]
    total = lost[0]
    for item in lost[1:]:
        total = total + item
    return total


@V(entity="member", dtype="str", label="生活自理能力", reference=R_SELF_CARE,
   uses=["tekun_member_self_care_lost_items"])
def tekun_member_self_care_level(t: ir.Table) -> ir.Value:
    """0 items lost: full (具备); 1–3: partial (部分丧失); 4–6: none (完全丧失)."""
    n = t.tekun_member_self_care_lost_items
    return ibis.cases((n == 0, "full"), (n <= 3, "partial"), else_="none")


@V(entity="member", dtype="money", label="基本生活标准", reference=R_STANDARD,
   uses=["tekun_member_eligible", "tekun_basic_living_ratio", "tekun_dibao_standard", "tekun_basic_living_minimum"])
def tekun_member_basic_living(t: ir.Table) -> ir.Value:
    amount = money(ibis.greatest(mul(t.tekun_basic_living_ratio, t.tekun_dibao_standard),
                                 t.tekun_basic_living_minimum))
    return ibis.ifelse(_b(t.tekun_member_eligible), amount, zero())


_CARE_USES = [f"tekun_care_rate_{m}_{lv}" for m in ("dispersed", "centralised") for lv in ("full", "partial", "none")]


@V(entity="member", dtype="rate", label="照料护理比例", reference=R_STANDARD,
   uses=["tekun_member_self_care_level", *_CARE_USES])
def tekun_member_care_rate(t: ir.Table) -> ir.Value:
    level, mode = t.tekun_member_self_care_level, t.support_mode
    return ibis.cases(
        *(((mode == m) & (level == lv), t[f"tekun_care_rate_{m}_{lv}"])
          for m in ("dispersed", "centralised") for lv in ("full", "partial", "none")),
        else_=zero(),
    )


@V(entity="member", dtype="money", label="照料护理标准", reference=R_STANDARD,
   uses=["tekun_member_eligible", "tekun_member_care_rate", "tekun_care_base"])
def tekun_member_care_amount(t: ir.Table) -> ir.Value:
    return ibis.ifelse(_b(t.tekun_member_eligible), mul(t.tekun_member_care_rate, t.tekun_care_base), zero())


@V(entity="member", dtype="money", label="救助供养金额（未取整）", reference=R_STANDARD,
   uses=["tekun_member_basic_living", "tekun_member_care_amount"])
def tekun_member_amount(t: ir.Table) -> ir.Value:
    return money(t.tekun_member_basic_living + t.tekun_member_care_amount)


def _column(name: str) -> Formula:
    def get(t: ir.Table) -> ir.Value:
        return t[name]

    return get


for _name, _var, _label in (
    ("tekun_covered_group_test_passed", "tekun_member_in_covered_group", "属于老年人、残疾人或未成年人"),
    ("tekun_labour_capacity_test_passed", "tekun_member_no_labour_capacity", "无劳动能力"),
    ("tekun_income_test_passed", "tekun_member_no_income_source", "无生活来源"),
    ("tekun_supporter_test_passed", "tekun_member_no_able_supporter", "无法定义务人或义务人无能力"),
):
    tekun.aggregate(
        _name, entity="household", source="member", how="any", dtype="bool", label=f"{_label}（至少一人）",
        reference=R_CONDITIONS, uses=[_var], value=_column(_var),
    )

tekun.aggregate(
    "tekun_eligible_count", entity="household", source="member", how="count", dtype="int",
    label="符合特困条件人数", reference=R_CONDITIONS, uses=["tekun_member_eligible"],
    where=lambda t: t.tekun_member_eligible,
)


@V(entity="household", dtype="bool", label="符合特困供养条件", reference=R_CONDITIONS, uses=["tekun_eligible_count"])
def tekun_eligible(t: ir.Table) -> ir.Value:
    return t.tekun_eligible_count > 0


tekun.aggregate(
    "tekun_amount_before_rounding", entity="household", source="member", how="sum", dtype="money",
    label="救助供养金额合计（取整前）", reference=R_STANDARD, uses=["tekun_member_amount"],
    value=lambda t: t.tekun_member_amount,
)


@V(entity="household", dtype="amount", label="月救助供养金额（元）", reference="rounding rule docs/rules.md",
   uses=["tekun_amount_before_rounding"])
def tekun_amount(t: ir.Table) -> ir.Value:
    return round_amount(t.tekun_amount_before_rounding)


tekun.eligible = "tekun_eligible"
tekun.amount = "tekun_amount"
tekun.tests = ("tekun_covered_group_test_passed", "tekun_labour_capacity_test_passed", "tekun_income_test_passed",
               "tekun_supporter_test_passed")
tekun.summary = {"standard": "tekun_dibao_standard"}
tekun.outputs = ("tekun_eligible_count", "tekun_rule_version")
