"""The ``verify`` command (through a local typer app), source ingestion, and the ID-number check."""

from __future__ import annotations

import json

import ibis
import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from doudi.batch.cli import register
from doudi.batch.engines import connect
from doudi.batch.idnumber import check_char, is_valid_id, normalise_id_expr, valid_id_expr, with_id_check
from doudi.batch.sources import PROVENANCE, ingest_source
from doudi.batch.tests.helpers import AS_OF, HAINAN, Case, bad_check, pid


@pytest.fixture
def app():
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """test app"""

    return app


@pytest.fixture
def case(tmp_path):
    c = Case(tmp_path)
    c.households([("H1", HAINAN, "rural", "1000"), ("H2", HAINAN, "urban", "1000")])
    c.persons([("H1", pid(1)), ("H2", pid(2))])
    c.source("vehicles", [(pid(1), "琼A1", "car", "1"), (bad_check(pid(2)), "琼A2", "car", "1")])
    return c


def args(case, out, *extra):
    return ["verify", "--households", str(case.households_path), "--persons", str(case.persons_path),
            "--sources", str(case.sources), "--out", str(out), "--as-of", "2024-06-30", *extra]  # fmt: skip


def test_verify_writes_one_csv_row_per_hit_and_prints_a_json_summary(app, case, tmp_path):
    out = tmp_path / "hits.csv"
    result = CliRunner().invoke(app, args(case, out))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["households"], summary["persons"], summary["flagged_households"]) == (2, 2, 1)
    assert summary["hits_by_rule"]["vehicle"] == 1
    assert summary["rejects_by_source"] == {"vehicles": {"invalid_id_number": 1}}
    hits = pv.read_csv(out).to_pylist()
    assert hits == [{"household_id": "H1", "id_number": int(pid(1)) if pid(1).isdigit() else pid(1),
                     "source": "vehicles", "rule": "vehicle", "value": 1, "threshold": 0}]  # fmt: skip
    rejects = pv.read_csv(tmp_path / "hits.rejects.csv").to_pylist()
    assert rejects[0]["reason"] == "invalid_id_number"
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel opens UTF-8 with a BOM


def test_verify_writes_parquet_by_the_file_extension_and_accepts_param_overrides(app, case, tmp_path):
    out = tmp_path / "hits.parquet"
    result = CliRunner().invoke(app, args(case, out, "--param", "dibao.assets.max_vehicles=1"))
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).num_rows == 0
    assert json.loads(result.stdout)["parameters"]["overrides"] == {"dibao.assets.max_vehicles": "1"}


def test_verify_refuses_bad_input_with_exit_code_2_and_a_json_error_on_stderr(app, case, tmp_path):
    case.source("deposits", [(pid(1), "ICBC")], header=["id_number", "institution"])
    result = CliRunner().invoke(app, args(case, tmp_path / "hits.csv"))
    assert result.exit_code == 2
    error = json.loads(result.stderr)
    assert error == {"code": "missing_column", "field": "sources/deposits.csv:balance",
                     "message": error["message"]}  # fmt: skip
    assert "balance" in error["message"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["--engine", "oracle"], "--engine"),
        (["--param", "nonsense"], "--param"),
        (["--as-of", "2024-13-01"], "--as-of"),
    ],
)
def test_verify_refuses_bad_options(app, case, tmp_path, extra, field):
    result = CliRunner().invoke(app, args(case, tmp_path / "hits.csv", *extra))
    assert result.exit_code == 2
    assert json.loads(result.stderr)["field"] == field


def test_verify_refuses_an_output_file_that_is_neither_csv_nor_parquet(app, case, tmp_path):
    result = CliRunner().invoke(app, args(case, tmp_path / "hits.xlsx"))
    assert result.exit_code == 2
    assert json.loads(result.stderr)["field"] == "--out"


def test_ingestion_stores_valid_rows_with_provenance_and_the_rejects_beside_them(case, tmp_path):
    eng = connect("duckdb")
    store = tmp_path / "store"
    report = ingest_source(eng, case.sources / "vehicles.csv", store)
    assert (report.rows, report.stored, report.rejected) == (2, 1, 1)
    stored = pq.read_table(store / "vehicles.parquet")
    assert set(PROVENANCE) <= set(stored.column_names)
    row = stored.to_pylist()[0]
    assert (row["_source_file"], row["_source_row"], row["_source_sha256"]) == ("vehicles.csv", 1, report.sha256)
    assert stored.schema.field("value").type == pa.decimal128(18, 2)
    assert pq.read_table(store / "vehicles.rejects.parquet").num_rows == 1


def test_verifying_an_ingested_store_gives_the_same_hits_and_rejects(case, tmp_path):
    direct = case.run()
    eng = connect("duckdb")
    store = tmp_path / "store"
    ingest_source(eng, case.sources / "vehicles.csv", store)
    from doudi.batch.verification import run_verification

    stored = run_verification(case.households_path, case.persons_path, store, as_of=AS_OF)
    assert stored.hits.equals(direct.hits)
    assert stored.rejects.to_pylist() == direct.rejects.to_pylist()
    assert stored.summary["sources"]["vehicles"]["sha256"] == direct.summary["sources"]["vehicles"]["sha256"]


def test_the_id_check_accepts_the_standards_example_and_rejects_a_wrong_check_character():
    assert is_valid_id("11010519491231002X")
    assert not is_valid_id("110105194912310021")
    t = ibis.memtable(
        {"id": ["11010519491231002x", " 11010519491231002X ", "110105194912310021", None, "1101051949123100"]}
    )
    got = ibis.duckdb.connect().to_pyarrow(t.select(ok=valid_id_expr(normalise_id_expr(t.id)))).column("ok").to_pylist()
    assert got == [True, True, False, False, False]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet="0123456789X", min_size=16, max_size=19),
                          st.from_regex(r"[1-8][0-9]{16}", fullmatch=True).map(lambda h: h + check_char(h))),
                min_size=1, max_size=40))  # fmt: skip
def test_the_vectorised_id_check_agrees_with_the_python_one(values):
    t = ibis.memtable({"id": values})
    got = ibis.duckdb.connect().to_pyarrow(with_id_check(t, "id", "ok")).column("ok").to_pylist()
    assert got == [is_valid_id(v) for v in values]


def test_verify_ingest_stores_every_source_and_verify_reads_the_store(app, case, tmp_path):
    store = tmp_path / "store"
    result = CliRunner().invoke(app, ["verify-ingest", "--sources", str(case.sources), "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sources"][0]["rejected"] == 1
    out = tmp_path / "hits.csv"
    again = CliRunner().invoke(app, [*args(case, out)[:6], str(store), *args(case, out)[7:]])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["rejects_by_source"] == {"vehicles": {"invalid_id_number": 1}}
