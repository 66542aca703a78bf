"""Bad input raises RulesInputError naming the field — never a deep traceback, never a silent default."""

from __future__ import annotations

import copy

import pytest

from doudi.rules import ParameterNotFound, RulesInputError, evaluate

GOOD = {
    "as_of": "2019-06-01",
    "region_code": "469001",
    "area": "rural",
    "household": {
        "members": [
            {"id": "a", "birth_date": "1970-01-01", "relation": "head"},
            {"id": "b", "birth_date": "1972-01-01", "relation": "spouse"},
            {"id": "c", "birth_date": "2005-01-01", "relation": "child"},
        ],
        "incomes": [{"member": "a", "kind": "wage", "monthly_amount": "300"}],
        "expenses": [{"member": "b", "kind": "medical", "monthly_amount": "50"}],
        "assets": [{"kind": "deposit", "value": "1000"}],
    },
}


def with_change(path: str, value: object) -> dict:
    """Copy GOOD and set (or delete, for value ...) the dotted/indexed path."""
    case = copy.deepcopy(GOOD)
    parts = path.replace("]", "").replace("[", ".").split(".")
    target: object = case
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]  # type: ignore[index]
    last = parts[-1]
    if value is ...:
        del target[int(last) if isinstance(target, list) else last]  # type: ignore[union-attr]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value  # type: ignore[index]
    return case


def test_good_case_evaluates():
    assert evaluate("dibao", GOOD).eligible


BAD = [
    ("as_of", ..., "as_of"),
    ("as_of", "2019-13-01", "as_of"),
    ("as_of", 20190601, "as_of"),
    ("region_code", ..., "region_code"),
    ("region_code", "999999", "region_code"),
    ("region_code", "4690", "region_code"),
    ("region_code", 469001, "region_code"),
    ("area", "city", "area"),
    ("household", ..., "household"),
    ("household.members", [], "household.members"),
    ("household.members[2].birth_date", ..., "household.members[2].birth_date"),
    ("household.members[2].birth_date", "2005-02-30", "household.members[2].birth_date"),
    ("household.members[2].birth_date", "2030-01-01", "household.members[2].birth_date"),
    ("household.members[1].id", "a", "household.members[1].id"),
    ("household.members[0].relation", "boss", "household.members[0].relation"),
    ("household.members[0].serious_ilness", True, "household.members[0].serious_ilness"),
    ("household.members[0].serious_illness", "yes", "household.members[0].serious_illness"),
    ("household.members[0].disability_category", 4, "household.members[0].disability_grade"),
    ("household.members[0].status", "abroad", "household.members[0].status"),
    ("household.incomes[0].monthly_amount", "-1", "household.incomes[0].monthly_amount"),
    ("household.incomes[0].monthly_amount", "1.005", "household.incomes[0].monthly_amount"),
    ("household.incomes[0].monthly_amount", "NaN", "household.incomes[0].monthly_amount"),
    ("household.incomes[0].monthly_amount", True, "household.incomes[0].monthly_amount"),
    ("household.incomes[0].monthly_amount", ..., "household.incomes[0].monthly_amount"),
    ("household.incomes[0].member", "zz", "household.incomes[0].member"),
    ("household.incomes[0].kind", "lottery", "household.incomes[0].kind"),
    ("household.expenses[0].monthly_amount", -5, "household.expenses[0].monthly_amount"),
    ("household.assets[0].value", "-100", "household.assets[0].value"),
    ("household.assets[0].count", -1, "household.assets[0].count"),
    ("household.gradual_exit", {"month": 0, "previous_monthly_amount": "10"}, "household.gradual_exit.month"),
    ("household.gradual_exit", {"month": 1}, "household.gradual_exit.previous_monthly_amount"),
    ("parameters", {"dibao.nonexistent": 1}, "parameters.dibao.nonexistent"),
    ("parameters", {"dibao.increment.elderly_rate": "0.12345"}, "parameters.dibao.increment.elderly_rate"),
    ("parameters", {"dibao.standard": "abc"}, "parameters.dibao.standard"),
    ("parameters", ["dibao.standard"], "parameters"),
    ("request", {"type": "emergency"}, "request"),
    ("colour", "blue", "colour"),
]


@pytest.mark.parametrize(("path", "value", "field"), BAD, ids=[f"{p}={v!r}" for p, v, _ in BAD])
def test_bad_input_names_the_field(path, value, field):
    with pytest.raises(RulesInputError) as info:
        evaluate("dibao", with_change(path, value))
    assert info.value.field == field
    assert info.value.to_dict() == {"code": "rules_input_error", "message": info.value.message, "field": field}


def test_unknown_program_is_rejected():
    with pytest.raises(RulesInputError) as info:
        evaluate("nonsense", GOOD)
    assert info.value.field == "program"


def test_case_must_be_an_object():
    with pytest.raises(RulesInputError) as info:
        evaluate("dibao", ["not", "a", "case"])  # type: ignore[arg-type]
    assert info.value.field == "case"


def test_date_before_any_parameter_value_names_path_and_date():
    with pytest.raises(ParameterNotFound) as info:
        evaluate("dibao", with_change("as_of", "2010-01-01"))
    assert info.value.field == "parameters"
    assert info.value.code == "parameter_not_found"
    assert "dibao.standard" in info.value.message or "dibao." in info.value.message
    assert "2010-01-01" in info.value.message


def test_float_amounts_are_read_by_their_shortest_representation():
    case = with_change("household.incomes[0].monthly_amount", 300.1)
    assert str(evaluate("dibao", case).value("dibao_gross_income")) == "300.100000"
