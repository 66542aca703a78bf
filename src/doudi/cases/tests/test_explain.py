"""The determination snapshot explained in plain Chinese (pure functions, no database)."""

from __future__ import annotations

from decimal import Decimal

from doudi.cases import explain

OUTPUT = {
    "program": "dibao",
    "as_of": "2021-09-12",
    "eligible": False,
    "monthly_amount": "0.00",
    "failed_tests": ["dibao_income_test_passed"],
    "household_size": 2,
    "countable_income": "1200.5",
    "per_capita_income": "600.25",
    "standard": "280.00",
    "trace": [
        {
            "name": "dibao_standard",
            "label": "低保标准（元/人/月）",
            "entity": "household",
            "kind": "parameter",
            "value": "280",
            "reference": "琼府〔2015〕54号",
        },
        {
            "name": "dibao_member_age",
            "label": "年龄（周岁）",
            "entity": "member",
            "kind": "formula",
            "value": {"7": 51, "8": 16},
            "reference": "民法典 art. 17",
        },
        {
            "name": "dibao_employment_deduction_rate",
            "label": "就业成本扣减比例",
            "entity": "household",
            "kind": "parameter",
            "value": "0.30",
            "reference": "operator default",
        },
        {
            "name": "dibao_income_test_passed",
            "label": "收入检验（人均收入低于标准）",
            "entity": "household",
            "kind": "formula",
            "value": False,
            "reference": "社会救助暂行办法 art. 9",
        },
        {
            "name": "dibao_excluded_income_kinds",
            "label": "不计入收入的类别",
            "entity": "household",
            "kind": "parameter",
            "value": ["scholarship", "social_assistance"],
            "reference": "2021 办法 art. 13",
        },
        {
            "name": "dibao_income_counted",
            "label": "收入计入（成员在户）",
            "entity": "income",
            "kind": "formula",
            "value": [True, True],
            "reference": "",
        },
    ],
    "parameters_used": [
        {
            "path": "dibao.standard",
            "value": "280.00",
            "effective_from": "2015-07-01",
            "reference": "琼府〔2015〕54号",
            "confirmed": True,
        },
        {
            "path": "dibao.employment_deduction.rate",
            "value": "0.30",
            "effective_from": "2012-12-12",
            "reference": "operator default",
            "confirmed": False,
        },
    ],
    "rules_version": "0.1.0+params.x",
}
DTYPES = {
    "dibao_standard": "money",
    "dibao_member_age": "int",
    "dibao_employment_deduction_rate": "rate",
    "dibao_income_test_passed": "bool",
    "dibao_excluded_income_kinds": "list_str",
    "param:dibao.standard": "money",
    "param:dibao.employment_deduction.rate": "rate",
}
LABELS = {"dibao.standard": "低保标准（元/人/月）", "dibao.employment_deduction.rate": "就业成本扣减比例"}


def test_every_trace_variable_has_its_label_value_in_words_and_reference():
    ex = explain.explain(OUTPUT, dtypes=DTYPES, parameter_labels=LABELS, member_names={"7": "王大山", "8": "王小明"})
    rows = {r.name: r for r in ex.rows}
    assert rows["dibao_standard"].label == "低保标准（元/人/月）"
    assert rows["dibao_standard"].value == "280.00 元"
    assert rows["dibao_standard"].reference == "琼府〔2015〕54号"
    assert rows["dibao_member_age"].value == "王大山：51；王小明：16"
    assert rows["dibao_employment_deduction_rate"].value == "30%"
    assert rows["dibao_income_test_passed"].test and rows["dibao_income_test_passed"].passed is False
    assert rows["dibao_excluded_income_kinds"].value == "奖学金、政府发放的社会救助款物"
    assert rows["dibao_income_counted"].value == "共2项"


def test_failed_tests_are_sentences_and_the_summary_is_in_yuan():
    ex = explain.explain(OUTPUT, dtypes=DTYPES, parameter_labels=LABELS)
    assert ex.eligible is False
    assert ex.failed == ["不符合“收入检验（人均收入低于标准）”的要求（依据：社会救助暂行办法 art. 9）。"]
    assert ("核定家庭月收入", "1,200.50 元") in ex.summary
    assert ("家庭人均月收入", "600.25 元") in ex.summary
    assert ex.amount == "0.00 元"


def test_parameters_used_show_label_value_effective_date_and_source():
    ex = explain.explain(OUTPUT, dtypes=DTYPES, parameter_labels=LABELS)
    standard, rate = ex.parameters
    assert (standard.label, standard.value, standard.effective_from, standard.confirmed) == (
        "低保标准（元/人/月）",
        "280.00 元",
        "2015-07-01",
        True,
    )
    assert (rate.label, rate.value, rate.confirmed) == ("就业成本扣减比例", "30%", False)


def test_the_stored_amount_wins_and_members_without_a_name_are_numbered():
    ex = explain.explain(OUTPUT, dtypes=DTYPES, amount=Decimal("588"), eligible=True)
    assert ex.amount == "588.00 元" and ex.eligible is True
    assert {r.name: r.value for r in ex.rows}["dibao_member_age"] == "成员7：51；成员8：16"


def test_no_rules_computation_and_input_errors_are_explained():
    none = explain.explain({"rules_available": False, "message": "规则引擎尚未提供该项目的测算"}, rules_available=False)
    assert not none.available and none.message == "规则引擎尚未提供该项目的测算" and none.rows == []
    error = explain.explain(
        {"error": "missing", "field": "household.members[0].self_care", "message": "is required"},
        amount=Decimal("500"),
    )
    assert error.message == "测算所需的数据不全（生活自理能力评估），规则引擎未能测算，金额按经办人员核定执行。"
    assert error.detail == "household.members[0].self_care: is required"
    assert error.amount == "500.00 元"


def test_value_formats():
    assert explain.format_value(True, "bool") == "是"
    assert explain.format_value(None, "money") == "—"
    assert explain.format_value("1234.5", "money") == "1,234.50 元"
    assert explain.format_value("1.50", "rate", "低保边缘家庭收入上限（标准倍数）") == "1.5 倍"
    assert explain.format_value(["1.00", "0.80"], "list_rate") == "100%、80%"
    assert explain.format_value("regular", "str") == "按户纳入"
    assert explain.format_value([], "list_str") == "无"


def test_program_metadata_reads_the_rules_programs():
    dtypes, labels = explain.program_metadata("dibao")
    assert dtypes["dibao_amount"] in ("money", "amount")
    assert labels["dibao.standard"] == "低保标准（元/人/月）"
    assert explain.program_metadata("unknown") == ({}, {})
    assert explain.program_metadata("") == ({}, {})
