"""The single-case fast path (one cached SQL statement per program) against the plain Ibis path."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import duckdb
import ibis
import pytest

from doudi.rules import RulesInputError
from doudi.rules import evaluation as ev
from doudi.rules.programs import PROGRAMS
from doudi.rules.schema import TABLE_NAMES, ibis_schema

from .yamltests import load_tests

TESTS = [t for t in load_tests() if t.error_field is None]
FIRST_OF_EACH_PROGRAM = list({t.program: t for t in reversed(TESTS)}.values())


@functools.cache
def _per_entity_sql(program: str) -> dict[str, str]:
    """The program's Ibis expressions compiled per entity, as separate statements (not the fast path's
    combined statement) — compiled once per program to keep the suite fast."""
    prog = PROGRAMS[program]
    tables = {name: ibis.table(ibis_schema(name), name=name) for name in TABLE_NAMES}
    tables["households"] = ibis.table(ev._household_schema_with_as_of(), name="households")
    params = ibis.table(ev._param_schema(prog), name="params")
    exprs = ev._entity_expressions(prog, ev._case_builder(prog, tables, params))
    return {entity: str(ibis.to_sql(expr, dialect="duckdb")) for entity, expr in exprs.items()}


def _reference(program: str, case: dict) -> ev.Determination:
    """Per-entity queries on a fresh DuckDB connection with default settings (optimizer on)."""
    prog, ctx, params, used, inputs = ev._prepare(program, case, None)
    con = duckdb.connect(":memory:")
    for name in TABLE_NAMES:
        con.register(name, inputs[name])
    con.register("params", inputs[ev._params_name(prog)])
    results = {e: con.sql(sql).to_arrow_table().to_pylist() for e, sql in _per_entity_sql(program).items()}
    con.close()
    return ev._determination(prog, ctx, params, used, results)


@pytest.mark.parametrize("test", TESTS, ids=[t.id for t in TESTS])
def test_the_cached_statement_gives_the_same_determination_as_the_per_entity_ibis_queries(test):
    fast = ev.evaluate(test.program, test.case)
    reference = _reference(test.program, test.case)
    assert fast == reference
    assert fast.to_json() == reference.to_json()


@pytest.mark.parametrize("test", FIRST_OF_EACH_PROGRAM, ids=[t.id for t in FIRST_OF_EACH_PROGRAM])
def test_the_cached_statement_gives_the_same_determination_as_the_uncached_ibis_path(test):
    # Building and compiling the Ibis expressions per case takes seconds, so one case per program.
    fast = ev.evaluate(test.program, test.case)
    reference = ev.evaluate_uncached(test.program, test.case)
    assert fast == reference
    assert fast.to_json() == reference.to_json()


def test_invalid_input_is_rejected_before_any_sql_runs():
    case = dict(TESTS[0].case, area="suburban")
    with pytest.raises(RulesInputError):
        ev.evaluate(TESTS[0].program, case)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(ev.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(ev, "_COMPILED", {})
    monkeypatch.setattr(ev, "PACKAGED_DIR", tmp_path / "packaged")  # no SQL shipped with the package
    return tmp_path


def test_the_compiled_sql_is_written_to_the_cache_directory_and_read_back(cache: Path, monkeypatch):
    program = PROGRAMS["dibao"]
    compiled = ev._compile(program)
    files = list((cache / "rules-sql").glob("dibao-*.json"))
    assert len(files) == 1
    assert json.loads(files[0].read_text(encoding="utf-8"))["sql"] == compiled.sql

    # given a fresh process (empty in-process cache) and a compiler that must not be called
    monkeypatch.setattr(ev, "_COMPILED", {})
    monkeypatch.setattr(ev, "compile_program", lambda p: pytest.fail("compiled although cached"))
    assert ev._compile(program) == compiled


def test_a_corrupt_cache_file_is_recompiled(cache: Path):
    program = PROGRAMS["funeral"]
    file = ev._cache_file(program)
    file.parent.mkdir(parents=True)
    file.write_text("{not json", encoding="utf-8")
    assert ev._compile(program) == ev.compile_program(program)


def test_an_unwritable_cache_directory_only_costs_a_compile(tmp_path: Path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv(ev.CACHE_ENV, str(blocker / "cache"))
    monkeypatch.setattr(ev, "_COMPILED", {})
    assert ev._compile(PROGRAMS["tekun"]).sql


def test_the_cache_key_changes_with_the_rules_code(monkeypatch):
    before = ev._source_digest()
    monkeypatch.setattr(ev, "RULES_VERSION", ev.RULES_VERSION + ".dev")
    assert ev._source_digest() != before


def test_the_cache_directory_defaults_to_the_user_cache(monkeypatch, tmp_path: Path):
    monkeypatch.delenv(ev.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert ev.cache_dir() == tmp_path / "doudi"


def test_the_libyaml_loader_parses_every_yaml_file_like_the_pure_python_one():
    import yaml

    from doudi.rules.parameters import _construct_decimal, load_yaml

    class Pure(yaml.SafeLoader):
        pass

    Pure.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
    files = sorted(Path(ev.__file__).parent.rglob("*.yaml"))
    assert files
    for file in files:
        text = file.read_text(encoding="utf-8")
        assert repr(load_yaml(text)) == repr(yaml.load(text, Loader=Pure)), file


def test_sql_compiled_ahead_of_time_is_read_when_the_user_cache_is_empty(cache: Path, monkeypatch):
    # given `doudi rules compile` wrote the package's SQL
    written = ev.compile_all(cache / "packaged")
    assert {f.name.split("-")[0] for f in written} == set(PROGRAMS)
    assert any("-caseload-" in f.name for f in written)
    # then a process with an empty user cache reads it instead of compiling
    monkeypatch.setattr(ev, "compile_program", lambda p: pytest.fail("compiled although shipped"))
    assert (
        ev._compile(PROGRAMS["dibao"]).sql
        == json.loads((cache / "packaged" / ev._cache_file(PROGRAMS["dibao"]).name).read_text(encoding="utf-8"))["sql"]
    )
    # and a second run leaves current files alone and removes files of another digest
    stale = cache / "packaged" / "dibao-0000.json"
    stale.write_text("{}", encoding="utf-8")
    assert ev.compile_all(cache / "packaged") == []
    assert not stale.exists()
