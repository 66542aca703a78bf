"""simulate_caseload: the same figures as two evaluate_caseload runs, compared per household."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from doudi.rules import Change, RulesInputError, evaluate_caseload, load_parameters
from doudi.rules.simulation import simulate_caseload
from doudi.rules.synthetic import generate

AS_OF = dt.date(2021, 8, 1)


@pytest.fixture(scope="module")
def tables():
    return generate(300, seed=7)


def test_the_report_matches_two_caseload_evaluations_household_by_household(tables):
    base = load_parameters()
    reform = base.with_changes([Change.parse("dibao.standard=+10%", ["460200"], dt.date(2021, 1, 1))])
    report = simulate_caseload("dibao", tables, AS_OF, base, reform)
    before = evaluate_caseload("dibao", tables, AS_OF, parameters=base).to_pylist()
    after = {r["household_id"]: r for r in evaluate_caseload("dibao", tables, AS_OF, parameters=reform).to_pylist()}
    pairs = [(b, after[b["household_id"]]) for b in before]
    total = report.total
    assert total.households == len(before) == 300
    assert total.baseline_cost == sum((b["dibao_amount"] for b, _ in pairs), Decimal(0))
    assert total.reform_cost == sum((a["dibao_amount"] for _, a in pairs), Decimal(0))
    assert total.gaining == sum(a["dibao_amount"] > b["dibao_amount"] for b, a in pairs)
    assert total.losing == sum(a["dibao_amount"] < b["dibao_amount"] for b, a in pairs)
    assert total.newly_eligible == sum(a["dibao_eligible"] and not b["dibao_eligible"] for b, a in pairs)
    assert total.gaining + total.losing + total.unchanged == total.households
    # only 三亚 (460200) changes
    for row in report.by_region:
        if not (row.region_code or "").startswith("4602"):
            assert row.change == 0 and row.gaining == row.losing == 0
    assert sum(r.households for r in report.by_region) == 300


def test_regions_can_be_grouped_by_their_first_digits(tables):
    params = load_parameters()
    report = simulate_caseload("dibao", tables, AS_OF, params, params, region_digits=4)
    assert all(len(r.region_code or "") == 4 for r in report.by_region)
    assert report.total.change == 0 and report.total.unchanged == 300


def test_a_change_that_makes_a_value_negative_is_refused(tables):
    params = load_parameters()
    reform = params.with_changes([Change.parse("dibao.standard=-5000")])
    with pytest.raises(RulesInputError) as exc:
        simulate_caseload("dibao", tables, AS_OF, params, reform)
    assert exc.value.field == "set"
