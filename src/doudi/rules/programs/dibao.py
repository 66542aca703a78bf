"""最低生活保障 (dibao, minimum living guarantee).

Legal basis (rules-cn.md §1): 社会救助暂行办法 (国务院令第649号) arts. 9–13; 最低生活保障审核审批办法（试行）
民发〔2012〕220号 (to 2021-06-30); 最低生活保障审核确认办法 (民政部 2021, from 2021-07-01).  Amounts follow
2012 办法 art. 27: (standard − per-capita income) × household size, computed as standard × size − income so
nothing is rounded before the final monthly amount.
"""

from __future__ import annotations

from typing import cast

import ibis
import ibis.expr.types as ir

from ..exprs import clamp0, dec, full_years, money, mul, per_capita, round_amount, zero
from ..model import Program
from ..schema import DISABILITY_INTELLECTUAL, DISABILITY_MENTAL

R_2012_ART5 = "最低生活保障审核审批办法（试行）2012 art. 5; 最低生活保障审核确认办法 2021 art. 7"
R_INCOME = "最低生活保障审核审批办法 2012 art. 16; 最低生活保障审核确认办法 2021 art. 13"
R_ASSETS = "最低生活保障审核审批办法 2012 art. 17; 最低生活保障审核确认办法 2021 art. 14"
R_AMOUNT = "社会救助暂行办法 art. 12; 最低生活保障审核审批办法 2012 art. 27"
R_INCREMENT = "社会救助暂行办法 art. 12 para 2; 2012 办法 art. 28; 2021 办法 art. 27"
R_SINGLE = "最低生活保障审核确认办法 2021 art. 8; 民政部 财政部 2020-07 通知"
R_EXIT = "关于进一步做好最低生活保障等社会救助兜底工作的通知 2022; 2021 办法 art. 33; MCA 2018-08-23"

dibao = Program(
    name="dibao",
    label="最低生活保障",
    reference="社会救助暂行办法 arts. 9–13; 民发〔2012〕220号; 最低生活保障审核确认办法 (2021)",
)


def _b(value: ir.Value) -> ir.BooleanValue:
    return cast(ir.BooleanValue, value)


def _n(value: ir.Value) -> ir.NumericValue:
    return cast(ir.NumericValue, value)


# --- parameters -------------------------------------------------------------------------------------
P = dibao.parameter
P("dibao_standard", "dibao.standard", dtype="money", label="低保标准（元/人/月）")
P("dibao_excluded_statuses", "dibao.membership.excluded_statuses", dtype="list_str",
  label="不计入家庭成员的情形")
P("dibao_excluded_income_kinds", "dibao.income.excluded_kinds", dtype="list_str", label="不计入收入的类别")
P("dibao_employment_deduction_rate", "dibao.employment_deduction.rate", dtype="rate",
  label="就业成本扣减比例")
P("dibao_employment_deduction_cap_multiple", "dibao.employment_deduction.cap_standard_multiple",
  dtype="rate", label="就业成本扣减上限（标准倍数）")
P("dibao_medical_expense_share", "dibao.rigid_expense.medical_share", dtype="rate", label="医疗支出扣减比例")
P("dibao_education_expense_share", "dibao.rigid_expense.education_share", dtype="rate",
  label="教育支出扣减比例")
P("dibao_rehabilitation_expense_share", "dibao.rigid_expense.disability_rehabilitation_share",
  dtype="rate", label="残疾康复支出扣减比例")
P("dibao_rent_expense_share", "dibao.rigid_expense.rent_share", dtype="rate", label="租房支出扣减比例")
P("dibao_other_expense_share", "dibao.rigid_expense.other_share", dtype="rate", label="其他支出扣减比例")
P("dibao_financial_asset_kinds", "dibao.assets.financial_kinds", dtype="list_str", label="金融资产类别")
P("dibao_financial_limit_months", "dibao.assets.financial_limit_months", dtype="int",
  label="人均金融资产上限（月标准倍数）")
P("dibao_vehicle_kinds", "dibao.assets.vehicle_kinds", dtype="list_str", label="受限车辆类别")
P("dibao_max_vehicles", "dibao.assets.max_vehicles", dtype="int", label="允许车辆数")
P("dibao_max_housing", "dibao.assets.max_housing", dtype="int", label="允许住房套数")
P("dibao_max_non_residential", "dibao.assets.max_non_residential", dtype="int", label="允许非住宅房产数")
P("dibao_max_business_registrations", "dibao.assets.max_business_registrations", dtype="int",
  label="允许市场主体登记数")
P("dibao_increment_mode", "dibao.increment.mode", dtype="str", label="分类施保叠加方式")
P("dibao_elderly_age", "dibao.increment.elderly_age", dtype="int", label="分类施保老年人年龄")
P("dibao_elderly_rate", "dibao.increment.elderly_rate", dtype="rate", label="老年人分类施保比例")
P("dibao_minor_age", "dibao.increment.minor_age", dtype="int", label="未成年人年龄上限")
P("dibao_minor_rate", "dibao.increment.minor_rate", dtype="rate", label="未成年人分类施保比例")
P("dibao_severe_disability_rate", "dibao.increment.severe_disability_rate", dtype="rate",
  label="重度残疾人分类施保比例")
P("dibao_serious_illness_rate", "dibao.increment.serious_illness_rate", dtype="rate",
  label="重病患者分类施保比例")
P("dibao_severe_disability_max_grade", "dibao.severe_disability.max_grade", dtype="int",
  label="重度残疾等级上限")
P("dibao_intellectual_mental_severe_max_grade", "dibao.severe_disability.intellectual_mental_max_grade",
  dtype="int", label="智力/精神残疾视同重度等级上限")
P("dibao_minimum_payment_ratio", "dibao.minimum_payment.ratio", dtype="rate", label="保底发放比例")
P("dibao_single_person_enabled", "dibao.single_person.enabled", dtype="bool", label="单人户政策是否适用")
P("dibao_edge_income_multiple", "dibao.single_person.edge_income_multiple", dtype="rate",
  label="低保边缘家庭收入上限（标准倍数）")
P("dibao_gradual_exit_schedule", "dibao.gradual_exit.schedule", dtype="list_rate", label="渐退期逐月系数")

V = dibao.variable


# --- members ----------------------------------------------------------------------------------------
@V(entity="member", dtype="int", label="年龄（周岁）", reference="中华人民共和国民法典 art. 17 (周岁计算)",
   uses=["as_of"])
def dibao_member_age(t: ir.Table) -> ir.Value:
    return full_years(t.birth_date, t.as_of)


@V(entity="member", dtype="bool", label="计入共同生活家庭成员", reference=R_2012_ART5,
   uses=["dibao_excluded_statuses"])
def dibao_member_counted(t: ir.Table) -> ir.Value:
    """Members in prison, compulsory drug rehabilitation, declared missing or clergy living apart are
    not counted (the list is dated: 2012 vs 2021)."""
    return ~_b(t.dibao_excluded_statuses.contains(t.status))


@V(entity="member", dtype="bool", label="重度残疾人", reference="最低生活保障审核确认办法 2021 art. 8(1)",
   uses=["dibao_severe_disability_max_grade", "dibao_intellectual_mental_severe_max_grade"])
def dibao_member_severely_disabled(t: ir.Table) -> ir.Value:
    """一级、二级 disability, or 三级 intellectual/mental disability."""
    grade = t.disability_grade
    intellectual_mental = t.disability_category.isin([DISABILITY_INTELLECTUAL, DISABILITY_MENTAL])
    severe = (grade <= t.dibao_severe_disability_max_grade) | (
        intellectual_mental & (grade <= t.dibao_intellectual_mental_severe_max_grade)
    )
    return _b(severe).fill_null(False)


@V(entity="member", dtype="bool", label="分类施保老年人", reference=R_INCREMENT,
   uses=["dibao_member_age", "dibao_elderly_age"])
def dibao_member_elderly(t: ir.Table) -> ir.Value:
    return t.dibao_member_age >= t.dibao_elderly_age


@V(entity="member", dtype="bool", label="分类施保未成年人", reference=R_INCREMENT,
   uses=["dibao_member_age", "dibao_minor_age"])
def dibao_member_minor(t: ir.Table) -> ir.Value:
    return t.dibao_member_age < t.dibao_minor_age


@V(entity="member", dtype="rate", label="分类施保比例", reference=R_INCREMENT,
   uses=["dibao_member_elderly", "dibao_member_minor", "dibao_member_severely_disabled",
         "dibao_increment_mode", "dibao_elderly_rate", "dibao_minor_rate",
         "dibao_severe_disability_rate", "dibao_serious_illness_rate"])
def dibao_member_increment_rate(t: ir.Table) -> ir.Value:
    """Highest applicable rate (就高不重复) or their sum, by parameter dibao.increment.mode."""
    rates = [
        ibis.ifelse(_b(flag), rate, zero())
        for flag, rate in (
            (t.dibao_member_elderly, t.dibao_elderly_rate),
            (t.dibao_member_minor, t.dibao_minor_rate),
            (t.dibao_member_severely_disabled, t.dibao_severe_disability_rate),
            (t.serious_illness.fill_null(False), t.dibao_serious_illness_rate),
        )
    ]
    total = money(rates[0] + rates[1] + rates[2] + rates[3])
    return ibis.ifelse(t.dibao_increment_mode == "sum", total, money(ibis.greatest(*rates)))


@V(entity="member", dtype="money", label="分类施保金额", reference=R_INCREMENT,
   uses=["dibao_member_counted", "dibao_member_increment_rate", "dibao_standard"])
def dibao_member_increment(t: ir.Table) -> ir.Value:
    return ibis.ifelse(_b(t.dibao_member_counted), mul(t.dibao_member_increment_rate, t.dibao_standard), zero())


dibao.aggregate(
    "dibao_member_wage_income", entity="member", source="income", how="sum", dtype="money",
    label="工资性收入（个人）", reference=R_INCOME,
    value=lambda t: t.monthly_amount, where=lambda t: t.kind == "wage",
)


@V(entity="member", dtype="money", label="必要就业成本扣减（个人）",
   reference="关于改革完善社会救助制度的意见 2020 item 11; 2021 办法 art. 13(1)",
   uses=["dibao_member_counted", "dibao_member_wage_income", "dibao_employment_deduction_rate",
         "dibao_employment_deduction_cap_multiple", "dibao_standard"])
def dibao_member_employment_deduction(t: ir.Table) -> ir.Value:
    """rate × wage income, capped per employed member at a multiple of the standard."""
    deduction = ibis.least(
        mul(t.dibao_employment_deduction_rate, t.dibao_member_wage_income),
        mul(t.dibao_employment_deduction_cap_multiple, t.dibao_standard),
    )
    return ibis.ifelse(_b(t.dibao_member_counted), deduction, zero())


dibao.aggregate(
    "dibao_member_own_income", entity="member", source="income", how="sum", dtype="money",
    label="个人可计收入（未扣减）", reference=R_INCOME, uses=["dibao_income_excluded"],
    value=lambda t: t.monthly_amount, where=lambda t: ~_b(t.dibao_income_excluded),
)
dibao.aggregate(
    "dibao_member_rigid_expense_deduction", entity="member", source="expense", how="sum", dtype="money",
    label="个人刚性支出扣减", reference="最低生活保障审核确认办法 2021 art. 13 last para",
    uses=["dibao_expense_deductible"], value=lambda t: t.dibao_expense_deductible,
)


@V(entity="member", dtype="money", label="个人核定收入（单人户）", reference=R_SINGLE,
   uses=["dibao_member_own_income", "dibao_member_employment_deduction",
         "dibao_member_rigid_expense_deduction"])
def dibao_member_countable_income(t: ir.Table) -> ir.Value:
    return clamp0(_n(t.dibao_member_own_income - t.dibao_member_employment_deduction
                     - t.dibao_member_rigid_expense_deduction))


@V(entity="member", dtype="bool", label="可按单人户纳入", reference=R_SINGLE,
   uses=["dibao_single_person_enabled", "dibao_edge_household", "dibao_member_counted",
         "dibao_member_severely_disabled"])
def dibao_member_single_person_eligible(t: ir.Table) -> ir.Value:
    """Severely disabled or seriously ill members of a 低保边缘 household (income < 1.5 × standard)."""
    vulnerable = _b(t.dibao_member_severely_disabled) | t.serious_illness.fill_null(False)
    return (_b(t.dibao_single_person_enabled) & _b(t.dibao_edge_household)
            & _b(t.dibao_member_counted) & vulnerable)


@V(entity="member", dtype="money", label="单人户保障金额（未取整）", reference=f"{R_SINGLE}; {R_AMOUNT}",
   uses=["dibao_member_single_person_eligible", "dibao_standard", "dibao_member_countable_income",
         "dibao_minimum_payment_ratio", "dibao_member_increment"])
def dibao_member_single_person_amount(t: ir.Table) -> ir.Value:
    base = clamp0(_n(t.dibao_standard - t.dibao_member_countable_income))
    floor = mul(t.dibao_minimum_payment_ratio, t.dibao_standard)
    amount = money(ibis.greatest(base, floor) + t.dibao_member_increment)
    return ibis.ifelse(_b(t.dibao_member_single_person_eligible), amount, zero())


# --- incomes, expenses, assets ---------------------------------------------------------------------
def _row_counted(t: ir.Table) -> ir.BooleanValue:
    """Household-level rows (no member) count; member rows count if the member is counted."""
    return _b(ibis.ifelse(t.member_id.isnull(), True, _b(t.dibao_member_counted).fill_null(False)))


@V(entity="income", dtype="bool", label="收入计入（成员在户）", reference=R_2012_ART5,
   uses=["dibao_member_counted"])
def dibao_income_counted(t: ir.Table) -> ir.Value:
    return _row_counted(t)


@V(entity="income", dtype="bool", label="不计入收入的类别", reference=R_INCOME,
   uses=["dibao_excluded_income_kinds"])
def dibao_income_excluded(t: ir.Table) -> ir.Value:
    return t.dibao_excluded_income_kinds.contains(t.kind)


@V(entity="expense", dtype="bool", label="支出计入（成员在户）", reference=R_2012_ART5,
   uses=["dibao_member_counted"])
def dibao_expense_counted(t: ir.Table) -> ir.Value:
    return _row_counted(t)


@V(entity="expense", dtype="money", label="可扣减刚性支出",
   reference="最低生活保障审核确认办法 2021 art. 13 last para; MCA 2018-08-23",
   uses=["dibao_expense_counted", "dibao_medical_expense_share", "dibao_education_expense_share",
         "dibao_rehabilitation_expense_share", "dibao_rent_expense_share", "dibao_other_expense_share"])
def dibao_expense_deductible(t: ir.Table) -> ir.Value:
    share = ibis.cases(
        (t.kind == "medical", t.dibao_medical_expense_share),
        (t.kind == "education", t.dibao_education_expense_share),
        (t.kind == "disability_rehabilitation", t.dibao_rehabilitation_expense_share),
        (t.kind == "rent", t.dibao_rent_expense_share),
        else_=t.dibao_other_expense_share,
    )
    return ibis.ifelse(_b(t.dibao_expense_counted), mul(t.monthly_amount, share), zero())


@V(entity="asset", dtype="bool", label="财产计入（成员在户）", reference=R_2012_ART5,
   uses=["dibao_member_counted"])
def dibao_asset_counted(t: ir.Table) -> ir.Value:
    return _row_counted(t)


# --- household: size and income --------------------------------------------------------------------
dibao.aggregate(
    "dibao_household_size", entity="household", source="member", how="count", dtype="int",
    label="共同生活家庭成员人数", reference=R_2012_ART5,
    uses=["dibao_member_counted"], where=lambda t: t.dibao_member_counted,
)
dibao.aggregate(
    "dibao_gross_income", entity="household", source="income", how="sum", dtype="money",
    label="家庭月收入合计", reference=R_INCOME, uses=["dibao_income_counted"],
    value=lambda t: t.monthly_amount, where=lambda t: t.dibao_income_counted,
)
dibao.aggregate(
    "dibao_excluded_income", entity="household", source="income", how="sum", dtype="money",
    label="不计入的收入", reference="最低生活保障审核确认办法 2021 art. 13 (不计入家庭收入)",
    uses=["dibao_income_counted", "dibao_income_excluded"], value=lambda t: t.monthly_amount,
    where=lambda t: _b(t.dibao_income_counted) & _b(t.dibao_income_excluded),
)
dibao.aggregate(
    "dibao_employment_deduction", entity="household", source="member", how="sum", dtype="money",
    label="必要就业成本扣减", reference="关于改革完善社会救助制度的意见 2020 item 11; 2021 办法 art. 13(1)",
    uses=["dibao_member_employment_deduction"], value=lambda t: t.dibao_member_employment_deduction,
)
dibao.aggregate(
    "dibao_rigid_expense_deduction", entity="household", source="expense", how="sum", dtype="money",
    label="刚性支出扣减", reference="最低生活保障审核确认办法 2021 art. 13 last para; MCA 2018-08-23",
    uses=["dibao_expense_deductible"], value=lambda t: t.dibao_expense_deductible,
)


@V(entity="household", dtype="money", label="核定家庭月收入", reference=R_INCOME,
   uses=["dibao_gross_income", "dibao_excluded_income", "dibao_employment_deduction",
         "dibao_rigid_expense_deduction"])
def dibao_countable_income(t: ir.Table) -> ir.Value:
    """Gross income − excluded kinds − employment costs − rigid expenses, not below zero."""
    return clamp0(_n(t.dibao_gross_income - t.dibao_excluded_income - t.dibao_employment_deduction
                     - t.dibao_rigid_expense_deduction))


@V(entity="household", dtype="money", label="家庭人均收入", reference="社会救助暂行办法 art. 9",
   uses=["dibao_countable_income", "dibao_household_size"])
def dibao_per_capita_income(t: ir.Table) -> ir.Value:
    """For display (6 decimal places, half-up); the income test compares totals exactly."""
    return per_capita(t.dibao_countable_income, t.dibao_household_size)


@V(entity="household", dtype="bool", label="家庭成员人数检验", reference=R_2012_ART5,
   uses=["dibao_household_size"])
def dibao_household_size_test_passed(t: ir.Table) -> ir.Value:
    return t.dibao_household_size >= 1


@V(entity="household", dtype="money", label="保障线总额（标准×人数）", reference=R_AMOUNT,
   uses=["dibao_standard", "dibao_household_size"])
def dibao_income_threshold(t: ir.Table) -> ir.Value:
    return mul(t.dibao_standard, t.dibao_household_size)


@V(entity="household", dtype="bool", label="收入检验（人均收入低于标准）", reference="社会救助暂行办法 art. 9",
   uses=["dibao_countable_income", "dibao_income_threshold"])
def dibao_income_test_passed(t: ir.Table) -> ir.Value:
    """Per-capita income < standard, tested exactly as income < standard × size."""
    return t.dibao_countable_income < t.dibao_income_threshold


# --- household: assets ------------------------------------------------------------------------------
dibao.aggregate(
    "dibao_financial_assets", entity="household", source="asset", how="sum", dtype="money",
    label="金融资产合计", reference=R_ASSETS, uses=["dibao_asset_counted", "dibao_financial_asset_kinds"],
    value=lambda t: t.value,
    where=lambda t: _b(t.dibao_asset_counted) & _b(t.dibao_financial_asset_kinds.contains(t.kind)),
)


@V(entity="household", dtype="money", label="金融资产上限", reference=R_ASSETS,
   uses=["dibao_financial_limit_months", "dibao_standard", "dibao_household_size"])
def dibao_financial_asset_limit(t: ir.Table) -> ir.Value:
    """Per-capita limit (months × standard) times household size."""
    return mul(t.dibao_financial_limit_months, t.dibao_standard, t.dibao_household_size)


@V(entity="household", dtype="bool", label="金融资产检验", reference=R_ASSETS,
   uses=["dibao_financial_assets", "dibao_financial_asset_limit"])
def dibao_financial_asset_test_passed(t: ir.Table) -> ir.Value:
    return t.dibao_financial_assets <= t.dibao_financial_asset_limit


dibao.aggregate(
    "dibao_vehicle_count", entity="household", source="asset", how="sum", dtype="int",
    label="非豁免车辆数", reference="最低生活保障审核审批办法 2012 art. 17 (残疾人功能性补偿代步机动车辆除外)",
    uses=["dibao_asset_counted", "dibao_vehicle_kinds"], value=lambda t: t["count"],
    where=lambda t: _b(t.dibao_asset_counted) & _b(t.dibao_vehicle_kinds.contains(t.kind)),
)


@V(entity="household", dtype="bool", label="车辆检验", reference=R_ASSETS,
   uses=["dibao_vehicle_count", "dibao_max_vehicles"])
def dibao_vehicle_test_passed(t: ir.Table) -> ir.Value:
    return t.dibao_vehicle_count <= t.dibao_max_vehicles


dibao.aggregate(
    "dibao_housing_count", entity="household", source="asset", how="sum", dtype="int",
    label="住房套数", reference=R_ASSETS, uses=["dibao_asset_counted"], value=lambda t: t["count"],
    where=lambda t: _b(t.dibao_asset_counted) & (t.kind == "housing"),
)
dibao.aggregate(
    "dibao_non_residential_count", entity="household", source="asset", how="sum", dtype="int",
    label="非住宅房产数", reference=R_ASSETS, uses=["dibao_asset_counted"], value=lambda t: t["count"],
    where=lambda t: _b(t.dibao_asset_counted) & (t.kind == "non_residential_property"),
)


@V(entity="household", dtype="bool", label="住房检验", reference=R_ASSETS,
   uses=["dibao_housing_count", "dibao_non_residential_count", "dibao_max_housing",
         "dibao_max_non_residential"])
def dibao_housing_test_passed(t: ir.Table) -> ir.Value:
    return (t.dibao_housing_count <= t.dibao_max_housing) & (
        t.dibao_non_residential_count <= t.dibao_max_non_residential
    )


dibao.aggregate(
    "dibao_business_registration_count", entity="household", source="asset", how="sum", dtype="int",
    label="市场主体登记数", reference="最低生活保障审核确认办法 2021 art. 17 (市场主体登记)",
    uses=["dibao_asset_counted"], value=lambda t: t["count"],
    where=lambda t: _b(t.dibao_asset_counted) & (t.kind == "business_registration"),
)


@V(entity="household", dtype="bool", label="市场主体登记检验", reference=R_ASSETS,
   uses=["dibao_business_registration_count", "dibao_max_business_registrations"])
def dibao_business_test_passed(t: ir.Table) -> ir.Value:
    return t.dibao_business_registration_count <= t.dibao_max_business_registrations


@V(entity="household", dtype="bool", label="财产检验", reference=R_ASSETS,
   uses=["dibao_financial_asset_test_passed", "dibao_vehicle_test_passed", "dibao_housing_test_passed",
         "dibao_business_test_passed"])
def dibao_asset_test_passed(t: ir.Table) -> ir.Value:
    return (_b(t.dibao_financial_asset_test_passed) & _b(t.dibao_vehicle_test_passed)
            & _b(t.dibao_housing_test_passed) & _b(t.dibao_business_test_passed))


# --- household: amounts -----------------------------------------------------------------------------
@V(entity="household", dtype="bool", label="符合低保条件（按户）", reference="社会救助暂行办法 art. 9",
   uses=["dibao_household_size_test_passed", "dibao_income_test_passed", "dibao_asset_test_passed"])
def dibao_regular_eligible(t: ir.Table) -> ir.Value:
    return (_b(t.dibao_household_size_test_passed) & _b(t.dibao_income_test_passed)
            & _b(t.dibao_asset_test_passed))


@V(entity="household", dtype="money", label="差额补助（标准×人数−核定收入）", reference=R_AMOUNT,
   uses=["dibao_income_threshold", "dibao_countable_income"])
def dibao_base_amount(t: ir.Table) -> ir.Value:
    return clamp0(_n(t.dibao_income_threshold - t.dibao_countable_income))


@V(entity="household", dtype="money", label="保底金额", reference="local floor rule (rules-cn.md §1.8)",
   uses=["dibao_minimum_payment_ratio", "dibao_standard", "dibao_household_size"])
def dibao_minimum_payment(t: ir.Table) -> ir.Value:
    return mul(t.dibao_minimum_payment_ratio, t.dibao_standard, t.dibao_household_size)


dibao.aggregate(
    "dibao_increments", entity="household", source="member", how="sum", dtype="money",
    label="分类施保金额合计", reference=R_INCREMENT, uses=["dibao_member_increment"],
    value=lambda t: t.dibao_member_increment,
)


@V(entity="household", dtype="money", label="按户保障金额（未取整）", reference=f"{R_AMOUNT}; {R_INCREMENT}",
   uses=["dibao_regular_eligible", "dibao_base_amount", "dibao_minimum_payment", "dibao_increments"])
def dibao_regular_amount(t: ir.Table) -> ir.Value:
    amount = money(ibis.greatest(t.dibao_base_amount, t.dibao_minimum_payment) + t.dibao_increments)
    return ibis.ifelse(_b(t.dibao_regular_eligible), amount, zero())


@V(entity="household", dtype="bool", label="低保边缘家庭", reference="最低生活保障审核确认办法 2021 art. 8",
   uses=["dibao_household_size_test_passed", "dibao_income_test_passed", "dibao_asset_test_passed",
         "dibao_countable_income", "dibao_edge_income_multiple", "dibao_income_threshold"])
def dibao_edge_household(t: ir.Table) -> ir.Value:
    """Not dibao-eligible, income < 1.5 × standard × size, assets within the rules."""
    below_edge = t.dibao_countable_income < mul(t.dibao_edge_income_multiple, t.dibao_income_threshold)
    return (_b(t.dibao_household_size_test_passed) & ~_b(t.dibao_income_test_passed) & below_edge
            & _b(t.dibao_asset_test_passed))


dibao.aggregate(
    "dibao_single_person_count", entity="household", source="member", how="count", dtype="int",
    label="按单人户纳入人数", reference=R_SINGLE, uses=["dibao_member_single_person_eligible"],
    where=lambda t: t.dibao_member_single_person_eligible,
)
dibao.aggregate(
    "dibao_single_person_amount", entity="household", source="member", how="sum", dtype="money",
    label="单人户保障金额合计（未取整）", reference=R_SINGLE, uses=["dibao_member_single_person_amount"],
    value=lambda t: t.dibao_member_single_person_amount,
)


@V(entity="household", dtype="rate", label="渐退期当月系数", reference=R_EXIT,
   uses=["dibao_gradual_exit_schedule"])
def dibao_gradual_exit_factor(t: ir.Table) -> ir.Value:
    """Factor for month ``gradual_exit_month`` (1-based) of the schedule; 0 after its end or if absent."""
    month = t.gradual_exit_month
    schedule = t.dibao_gradual_exit_schedule
    in_range = month.notnull() & (month >= 1) & (month <= schedule.length())
    index = ibis.ifelse(in_range, month - 1, 0).cast("int32")  # Spark element_at wants INT
    return ibis.ifelse(in_range, schedule[index], dec(0))


@V(entity="household", dtype="bool", label="处于渐退期", reference=R_EXIT,
   uses=["dibao_household_size_test_passed", "dibao_income_test_passed", "dibao_asset_test_passed",
         "dibao_gradual_exit_factor"])
def dibao_in_gradual_exit(t: ir.Table) -> ir.Value:
    """Income now exceeds the standard, assets still within the rules, and a schedule month remains."""
    return (_b(t.dibao_household_size_test_passed) & ~_b(t.dibao_income_test_passed)
            & _b(t.dibao_asset_test_passed) & (t.dibao_gradual_exit_factor > dec(0))
            & t.gradual_exit_previous_amount.notnull())


@V(entity="household", dtype="money", label="渐退期保障金额（未取整）", reference=R_EXIT,
   uses=["dibao_in_gradual_exit", "dibao_gradual_exit_factor"])
def dibao_gradual_exit_amount(t: ir.Table) -> ir.Value:
    amount = mul(t.gradual_exit_previous_amount, t.dibao_gradual_exit_factor)
    return ibis.ifelse(_b(t.dibao_in_gradual_exit), amount, zero())


@V(entity="household", dtype="str", label="纳入方式", reference=f"{R_AMOUNT}; {R_SINGLE}; {R_EXIT}",
   uses=["dibao_regular_eligible", "dibao_in_gradual_exit", "dibao_single_person_count"])
def dibao_route(t: ir.Table) -> ir.Value:
    """regular (按户) > gradual_exit (渐退) > single_person (单人户) > none."""
    return ibis.cases(
        (_b(t.dibao_regular_eligible), "regular"),
        (_b(t.dibao_in_gradual_exit), "gradual_exit"),
        (t.dibao_single_person_count > 0, "single_person"),
        else_="none",
    )


@V(entity="household", dtype="bool", label="符合低保条件", reference="社会救助暂行办法 art. 9; 2021 办法 art. 8",
   uses=["dibao_route"])
def dibao_eligible(t: ir.Table) -> ir.Value:
    return t.dibao_route != "none"


@V(entity="household", dtype="money", label="月保障金额（取整前）", reference=R_AMOUNT,
   uses=["dibao_route", "dibao_regular_amount", "dibao_gradual_exit_amount", "dibao_single_person_amount"])
def dibao_amount_before_rounding(t: ir.Table) -> ir.Value:
    return ibis.cases(
        (t.dibao_route == "regular", t.dibao_regular_amount),
        (t.dibao_route == "gradual_exit", t.dibao_gradual_exit_amount),
        (t.dibao_route == "single_person", t.dibao_single_person_amount),
        else_=zero(),
    )


@V(entity="household", dtype="amount", label="月保障金额（元）",
   reference="2012 办法 art. 27; rounding rule docs/rules.md (0.01 元, half-up, once)",
   uses=["dibao_amount_before_rounding"])
def dibao_amount(t: ir.Table) -> ir.Value:
    return round_amount(t.dibao_amount_before_rounding)


dibao.eligible = "dibao_eligible"
dibao.amount = "dibao_amount"
dibao.tests = (
    "dibao_household_size_test_passed",
    "dibao_income_test_passed",
    "dibao_financial_asset_test_passed",
    "dibao_vehicle_test_passed",
    "dibao_housing_test_passed",
    "dibao_business_test_passed",
)
dibao.summary = {
    "household_size": "dibao_household_size",
    "countable_income": "dibao_countable_income",
    "per_capita_income": "dibao_per_capita_income",
    "standard": "dibao_standard",
}
dibao.outputs = ("dibao_route", "dibao_single_person_count", "dibao_in_gradual_exit")
