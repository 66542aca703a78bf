"""One definition, three uses: single-case evaluate(), caseload on DuckDB and caseload on PySpark agree."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import ibis
import pyarrow as pa
import pytest

from doudi.rules import PROGRAMS, RulesInputError, evaluate, evaluate_caseload
from doudi.rules.evaluation import caseload_columns
from doudi.rules.synthetic import DEFAULT_AS_OF, generate

AS_OF = DEFAULT_AS_OF


def tables_to_cases(tables: dict[str, pa.Table], as_of: dt.date) -> dict[str, dict]:
    """Rebuild case dicts (the evaluate() input contract) from caseload tables."""
    cases: dict[str, dict] = {}
    for h in tables["households"].to_pylist():
        household: dict = {"id": h["household_id"], "members": [], "incomes": [], "expenses": [], "assets": []}
        if h.get("gradual_exit_month") is not None:
            household["gradual_exit"] = {
                "month": h["gradual_exit_month"],
                "previous_monthly_amount": str(h["gradual_exit_previous_amount"]),
            }
        cases[h["household_id"]] = {
            "as_of": as_of.isoformat(),
            "region_code": h["region_code"],
            "area": h["area"],
            "household": household,
        }
    by_hh = defaultdict(list)
    for m in tables["members"].to_pylist():
        member = {"id": m["member_id"], "birth_date": m["birth_date"].isoformat(), "relation": m["relation"]}
        for key in ("serious_illness", "registered_poor", "status"):
            member[key] = m[key]
        if m["disability_category"] is not None:
            member["disability_category"] = m["disability_category"]
            member["disability_grade"] = m["disability_grade"]
        by_hh[m["household_id"]].append(member)
    for hid, members in by_hh.items():
        cases[hid]["household"]["members"] = members
    for table, amount in (("incomes", "monthly_amount"), ("expenses", "monthly_amount"), ("assets", "value")):
        for r in tables[table].to_pylist():
            row = {"kind": r["kind"], amount: str(r[amount])}
            if r["member_id"] is not None:
                row["member"] = r["member_id"]
            if table == "assets":
                row["count"] = r["count"]
            cases[r["household_id"]]["household"][table].append(row)
    return cases


@pytest.fixture(scope="module")
def caseload() -> dict[str, pa.Table]:
    return generate(300, seed=7)


@pytest.fixture(scope="module")
def duckdb_result(caseload) -> pa.Table:
    result = evaluate_caseload("dibao", caseload, AS_OF)
    assert isinstance(result, pa.Table)
    return result


def _sorted(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: r["household_id"])


def test_caseload_has_one_row_per_household_with_trace_columns(caseload, duckdb_result):
    assert duckdb_result.num_rows == caseload["households"].num_rows
    assert duckdb_result.column_names == ["household_id", "region_code", "area", *caseload_columns("dibao")]
    assert duckdb_result.schema.field("dibao_amount").type == pa.decimal128(18, 2)


def test_caseload_exercises_every_route(duckdb_result):
    routes = set(duckdb_result.column("dibao_route").to_pylist())
    assert routes == {"regular", "gradual_exit", "single_person", "none"}


def test_single_case_evaluate_matches_caseload(caseload, duckdb_result):
    cases = tables_to_cases(caseload, AS_OF)
    rows = {r["household_id"]: r for r in duckdb_result.to_pylist()}
    # every 10th household plus all non-regular routes keeps this test quick
    chosen = [h for i, h in enumerate(sorted(rows)) if i % 10 == 0 or rows[h]["dibao_route"] != "regular"]
    for hid in chosen[:60]:
        det = evaluate("dibao", cases[hid])
        row = rows[hid]
        assert det.monthly_amount == row["dibao_amount"], hid
        assert det.eligible == row["dibao_eligible"], hid
        assert det.value("dibao_countable_income") == row["dibao_countable_income"], hid
        assert det.household_size == row["dibao_household_size"], hid


def test_caseload_accepts_ibis_tables_and_returns_an_expression(caseload, duckdb_result):
    con = ibis.duckdb.connect()
    tables = {name: con.create_table(name, t) for name, t in caseload.items()}
    expr = evaluate_caseload("dibao", tables, AS_OF)
    assert not isinstance(expr, pa.Table)
    assert _sorted(expr.to_pyarrow()) == _sorted(duckdb_result)


def test_caseload_amounts_are_non_negative_and_rounded(duckdb_result):
    for amount in duckdb_result.column("dibao_amount").to_pylist():
        assert amount >= 0
        assert amount == amount.quantize(Decimal("0.01"))


def test_caseload_with_unknown_region_names_the_column(caseload):
    households = caseload["households"].set_column(
        1, "region_code", pa.array(["999999"] * caseload["households"].num_rows)
    )
    with pytest.raises(RulesInputError) as info:
        evaluate_caseload("dibao", {**caseload, "households": households}, AS_OF)
    assert info.value.field == "households.region_code"


def test_caseload_missing_required_column_is_reported(caseload):
    members = caseload["members"].drop_columns(["birth_date"])
    with pytest.raises(RulesInputError) as info:
        evaluate_caseload("dibao", {**caseload, "members": members}, AS_OF)
    assert info.value.field == "members.birth_date"


@pytest.fixture(scope="module")
def spark_backend():
    pyspark_sql = pytest.importorskip("pyspark.sql")
    session = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .appName("doudi-rules-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    return ibis.pyspark.connect(session)


@pytest.mark.spark
@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_duckdb_and_pyspark_agree(caseload, spark_backend, program):
    duckdb_result = evaluate_caseload(program, caseload, AS_OF)
    spark_result = evaluate_caseload(program, caseload, AS_OF, backend=spark_backend)
    assert spark_result.column_names == duckdb_result.column_names
    assert _sorted(spark_result) == _sorted(duckdb_result)
