"""Each verification rule on hand-made tiny households (DuckDB engine)."""

from __future__ import annotations

import datetime as dt

import pytest

from doudi.batch.errors import BatchInputError
from doudi.batch.tests.helpers import HAINAN, Case, hits_of, pid


@pytest.fixture
def case(tmp_path):
    # given two rural households in 五指山 (standard 640/month in 2024): H1 has two members, H2 one
    c = Case(tmp_path)
    c.households([("H1", HAINAN, "rural", "1000"), ("H2", HAINAN, "rural", "1000")])
    c.persons([("H1", pid(1)), ("H1", pid(2)), ("H2", pid(3))])
    return c


def test_a_member_who_died_on_or_before_the_as_of_date_is_a_hit(case):
    case.source("deaths", [(pid(1), "2024-06-30"), (pid(3), "2024-07-01")])
    assert hits_of(case.run()) == [("H1", pid(1), "deaths", "death", "2024-06-30", "2024-06-30")]


def test_a_car_is_a_hit_but_a_disabled_mobility_vehicle_is_exempt(case):
    case.source("vehicles", [(pid(1), "琼A1", "car", "50000"), (pid(3), "琼A2", "disabled_mobility", "3000")])
    assert hits_of(case.run()) == [("H1", pid(1), "vehicles", "vehicle", "1", "0")]


def test_the_vehicle_limit_is_a_parameter_and_counts_distinct_plates_per_household(case):
    # given one car owned jointly (same plate on two members) and a second car: 2 distinct plates
    case.source(
        "vehicles",
        [
            (pid(1), "琼A1", "car", "1"),
            (pid(2), "琼A1", "car", "1"),
            (pid(2), "琼B2", "truck", "1"),
            (pid(3), "琼C3", "car", "1"),
        ],
    )
    result = case.run(overrides={"dibao.assets.max_vehicles": "1"})
    assert hits_of(result) == [
        ("H1", pid(1), "vehicles", "vehicle", "2", "1"),
        ("H1", pid(2), "vehicles", "vehicle", "2", "1"),
    ]


def test_an_active_business_is_a_hit_and_a_closed_one_is_not(case):
    case.source(
        "business",
        [(pid(2), "C1", "shareholder", "10000", "active"), (pid(3), "C2", "legal_representative", "1", "closed")],
    )
    assert hits_of(case.run()) == [("H1", pid(2), "business", "business", "1", "0")]


def test_a_second_residential_property_is_a_hit_and_a_shared_one_counts_once(case):
    case.source(
        "real_estate",
        [
            (pid(1), "P1", "residential", "80", "300000"),
            (pid(2), "P1", "residential", "80", "300000"),  # the same flat, co-owned
            (pid(3), "P2", "residential", "60", "200000"),
            (pid(3), "P3", "residential", "40", "100000"),
        ],
    )
    assert hits_of(case.run()) == [("H2", pid(3), "real_estate", "housing", "2", "1")]


def test_any_commercial_property_is_a_hit_and_other_usage_is_not_counted(case):
    case.source("real_estate", [(pid(1), "S1", "commercial", "30", "500000"), (pid(3), "G1", "other", "12", "50000")])
    assert hits_of(case.run()) == [("H1", pid(1), "real_estate", "commercial_property", "1", "0")]


def test_financial_assets_above_the_per_capita_limit_are_a_hit(case):
    # limit: 24 months × 640 = 15360.00 per person; H1 (2 persons) may hold 30720.00
    case.source("deposits", [(pid(1), "ICBC", "20000.00", "2024-05-31")])
    case.source("securities", [(pid(2), "A1", "10720.01", "2024-06-01")])
    result = case.run()
    assert hits_of(result) == [
        ("H1", pid(1), "deposits", "financial_assets", "15360.01", "15360.00"),
        ("H1", pid(2), "securities", "financial_assets", "15360.01", "15360.00"),
    ]


def test_financial_assets_exactly_at_the_limit_are_not_a_hit(case):
    case.source("deposits", [(pid(3), "ICBC", "15360.00", "2024-05-31")])
    assert hits_of(case.run()) == []


def test_only_the_latest_balance_on_or_before_the_as_of_date_counts_per_account(case):
    case.source(
        "deposits",
        [
            (pid(3), "ICBC", "99999", "2023-01-01"),  # older
            (pid(3), "ICBC", "100", "2024-06-01"),  # latest on or before as_of
            (pid(3), "ICBC", "99999", "2024-07-01"),  # after as_of
            (pid(3), "BOC", "15300", "2024-02-01"),  # another account: 15400 in all
        ],
    )
    assert hits_of(case.run()) == [("H2", pid(3), "deposits", "financial_assets", "15400.00", "15360.00")]


def test_tax_income_above_the_declared_income_plus_tolerance_is_a_hit(case):
    # 24000 a year = 2000.00 a month against 1000 declared: threshold 1000 × 1.1 = 1100.00
    case.source("tax", [(pid(3), "24000", "2023"), (pid(3), "1", "2022")])
    assert hits_of(case.run()) == [("H2", pid(3), "tax", "income", "2000.00", "1100.00")]


def test_income_within_the_tolerance_is_not_a_hit(case):
    case.source("tax", [(pid(3), "13200", "2023")])  # exactly 1100.00 a month
    assert hits_of(case.run()) == []


def test_housing_fund_deposits_imply_a_wage_and_pension_adds_to_it(case):
    # 240 deposited a month at 24 % → 1000.00 wage; plus a 200 pension: 1200.00 > 1100.00
    case.source("housing_fund", [(pid(1), "240", "2024-05-01"), (pid(1), "999", "2023-05-01")])
    case.source("pension", [(pid(2), "200", "2024-05-01")])
    assert hits_of(case.run()) == [
        ("H1", pid(1), "housing_fund", "income", "1200.00", "1100.00"),
        ("H1", pid(2), "pension", "income", "1200.00", "1100.00"),
    ]


def test_the_income_rule_needs_the_declared_income_column(tmp_path):
    c = Case(tmp_path).households([("H1", HAINAN, "rural")], declared=False).persons([("H1", pid(1))])
    c.source("tax", [(pid(1), "999999", "2023")])
    result = c.run()
    assert hits_of(result) == []
    assert any(r.startswith("income") for r in result.summary["rules_skipped"])


def test_parameters_are_resolved_per_region_area_and_date(tmp_path):
    # given 三亚 urban (630 from 2019-11-01) and 五指山 urban (provincial 690 from 2023-09-01)
    c = Case(tmp_path)
    c.households([("S", "460202000000", "urban", ""), ("W", HAINAN, "urban", "")])
    c.persons([("S", pid(1)), ("W", pid(2))])
    c.source("deposits", [(pid(1), "ICBC", "16000", "2024-01-01"), (pid(2), "ICBC", "16000", "2024-01-01")])
    result = c.run()
    assert hits_of(result) == [("S", pid(1), "deposits", "financial_assets", "16000.00", "15120.00")]
    used = result.summary["parameters"]["used"]["dibao.standard"]
    assert {u["value"] for u in used} == {"630.00", "690.00"}


def test_a_date_before_a_regions_first_standard_refuses_to_start(tmp_path):
    c = Case(tmp_path).households([("K", "460100000000", "urban", "")]).persons([("K", pid(1))])
    with pytest.raises(BatchInputError) as err:
        c.run(as_of=dt.date(2020, 1, 1))
    assert err.value.code == "parameter_not_found"
    assert err.value.field == "parameters.dibao.standard"


def test_a_parameter_override_changes_the_threshold(case):
    case.source("deposits", [(pid(3), "ICBC", "1000", "2024-01-01")])
    result = case.run(overrides={"dibao.assets.financial_limit_months": "1"})
    assert hits_of(result) == [("H2", pid(3), "deposits", "financial_assets", "1000.00", "640.00")]


def test_an_unknown_parameter_override_refuses_to_start(case):
    with pytest.raises(BatchInputError) as err:
        case.run(overrides={"dibao.nope": "1"})
    assert err.value.field == "--param.dibao.nope"


def test_the_summary_counts_households_persons_flags_and_hits_by_rule(case):
    case.source("deaths", [(pid(1), "2020-01-01")])
    case.source("vehicles", [(pid(1), "琼A1", "car", "1"), (pid(3), "琼A2", "car", "1")])
    s = case.run().summary
    assert (s["households"], s["persons"], s["flagged_households"], s["hits"]) == (2, 3, 2, 3)
    assert s["hits_by_rule"]["death"] == 1 and s["hits_by_rule"]["vehicle"] == 2
    assert s["sources_missing"] == [
        "real_estate",
        "business",
        "deposits",
        "securities",
        "pension",
        "housing_fund",
        "tax",
    ]
