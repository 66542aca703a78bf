"""Parameters as data: loading, dated resolution, region fallback, overrides and simulated changes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from doudi.rules import Change, ParameterNotFound, RulesInputError, load_parameters
from doudi.rules.errors import ParameterFileError
from doudi.rules.parameters import load_yaml
from doudi.rules.regions import region_chain

D = dt.date


@pytest.fixture(scope="module")
def params():
    return load_parameters()


def test_every_parameter_has_description_unit_reference_and_typed_values(params):
    for p in params.list():
        assert p.description and p.unit and p.reference, p.path
        for by_area in p.values.values():
            for series in by_area.values():
                assert series, p.path
                for v in series:
                    assert v.reference, p.path
                    if p.type in ("money", "rate"):
                        assert isinstance(v.value, Decimal), p.path


def test_only_text_or_gov_sourced_values_are_confirmed(params):
    """rules-cn.md: only [TEXT]/[GOV] facts ship as confirmed; everything else is an operator default."""
    for p in params.list():
        for by_area in p.values.values():
            for series in by_area.values():
                for v in series:
                    if v.confirmed:
                        assert "[TEXT]" in v.reference or "[GOV" in v.reference, (p.path, v)


def test_yaml_floats_are_decimals_not_floats():
    assert load_yaml("x: 0.1") == {"x": Decimal("0.1")}


@pytest.mark.parametrize(
    ("code", "chain"),
    [
        ("469001", ["469001", "469000", "460000"]),
        ("460202", ["460202", "460200", "460000"]),
        ("460400499", ["460400499", "460400", "460000"]),
        ("460202001001", ["460202001001", "460202", "460200", "460000"]),
    ],
)
def test_region_chain_strips_to_county_city_province(code, chain):
    assert region_chain(code) == chain


def test_hainan_2015_standards_for_province_set_counties(params):
    v = params.get("dibao.standard", "469024", "urban", D(2018, 1, 1))
    assert (v.value, v.effective_from, v.confirmed, v.region_key) == (Decimal(420), D(2015, 7, 1), True, "460000")
    assert params.get("dibao.standard", "469024", "rural", D(2018, 1, 1)).value == Decimal(280)


def test_sanya_district_falls_back_to_sanya_then_is_unconfirmed(params):
    v = params.get("dibao.standard", "460204", "rural", D(2020, 1, 1))
    assert (v.value, v.region_key, v.confirmed) == (Decimal(630), "460200", False)


def test_a_region_with_its_own_values_never_falls_back_to_the_parent(params):
    with pytest.raises(ParameterNotFound) as info:
        params.get("dibao.standard", "460200", "urban", D(2019, 1, 1))
    assert "2019-01-01" in info.value.message and "dibao.standard" in info.value.message


def test_value_in_effect_is_the_latest_dated_on_or_before_as_of(params):
    assert params.get("dibao.standard", "469001", "rural", D(2023, 8, 31)).value == Decimal(280)
    assert params.get("dibao.standard", "469001", "rural", D(2023, 9, 1)).value == Decimal(640)


def test_a_date_before_any_value_is_an_error(params):
    with pytest.raises(ParameterNotFound):
        params.get("dibao.standard", "469001", "rural", D(2015, 6, 30))


def test_unknown_path_is_an_error(params):
    with pytest.raises(ParameterNotFound):
        params.get("dibao.nope", "469001", "rural", D(2019, 1, 1))


def test_overrides_apply_on_top(params):
    p = params.with_overrides({"dibao.standard": "400"})
    v = p.get("dibao.standard", "460200", "urban", D(2010, 1, 1))
    assert (v.value, v.confirmed, v.effective_from) == (Decimal(400), False, None)
    with pytest.raises(RulesInputError):
        params.with_overrides({"dibao.standard": "4.001"})


def test_percent_change_in_selected_regions_from_a_date(params):
    change = Change.parse("dibao.standard=+5%", regions=["460200"], from_date=D(2020, 1, 1))
    p = params.with_changes([change])
    assert p.get("dibao.standard", "460203", "urban", D(2020, 1, 1)).value == Decimal("661.50")
    assert p.get("dibao.standard", "460203", "urban", D(2019, 12, 1)).value == Decimal(630)
    assert p.get("dibao.standard", "469001", "urban", D(2020, 1, 1)).value == Decimal(420)
    assert p.get("dibao.standard", "460203", "urban", D(2020, 1, 1)).confirmed is False


@pytest.mark.parametrize(
    ("spec", "expected"), [("dibao.standard=+20", Decimal(300)), ("dibao.standard=500", Decimal(500)),
                           ("dibao.standard=-10%", Decimal(252))]
)
def test_change_specs(params, spec, expected):
    p = params.with_changes([Change.parse(spec)])
    assert p.get("dibao.standard", "469001", "rural", D(2019, 1, 1)).value == expected


def test_malformed_parameter_file_is_reported(tmp_path: Path):
    (tmp_path / "x.yaml").write_text("description: d\nunit: u\ntype: money\nreference: r\nconfirmed: true\n"
                                     "values: {default: {2019-01-01: 1.234}}\n", encoding="utf-8")
    with pytest.raises(ParameterFileError):
        load_parameters(tmp_path)


def test_a_parameter_directory_can_be_loaded_from_elsewhere(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.yaml").write_text(
        "description: d\nunit: u\ntype: rate\nreference: r\nconfirmed: false\n"
        "values: {default: {2019-01-01: 0.25}}\n", encoding="utf-8")
    p = load_parameters(tmp_path)
    assert p.get("a.b", "469001", "rural", D(2020, 1, 1)).value == Decimal("0.25")
    assert [x.path for x in p.list()] == ["a.b"]
