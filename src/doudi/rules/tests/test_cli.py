"""The CLI functions (registered on a throwaway Typer app)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from doudi.rules.cli import register
from doudi.rules.synthetic import generate

CASE = {
    "as_of": "2019-06-01",
    "region_code": "469001",
    "area": "rural",
    "household": {"members": [{"id": "a", "birth_date": "1970-01-01", "relation": "head"}],
                  "incomes": [{"kind": "business", "monthly_amount": 100.5}]},
}


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """doudi"""

    register(app)
    return app


def runner() -> CliRunner:
    return CliRunner()


def test_assess_reads_a_file_and_prints_the_determination(app, tmp_path: Path):
    file = tmp_path / "case.json"
    file.write_text(json.dumps(CASE), encoding="utf-8")
    result = runner().invoke(app, ["assess", "dibao", "--input", str(file)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["monthly_amount"] == "179.50"
    assert out["eligible"] is True
    assert {"trace", "parameters_used", "rules_version", "failed_tests"} <= set(out)


def test_assess_reads_stdin(app):
    result = runner().invoke(app, ["assess", "dibao", "--input", "-"], input=json.dumps(CASE))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["standard"] == "280.00"


def test_assess_bad_input_exits_2_with_a_json_error_on_stderr(app):
    bad = json.loads(json.dumps(CASE))
    bad["household"]["members"][0]["birth_date"] = "1970-02-30"
    result = runner().invoke(app, ["assess", "dibao", "--input", "-"], input=json.dumps(bad))
    assert result.exit_code == 2
    err = json.loads(result.stderr)
    assert err == {"code": "rules_input_error", "field": "household.members[0].birth_date",
                   "message": err["message"]}


def test_assess_invalid_json_and_unknown_program(app):
    result = runner().invoke(app, ["assess", "dibao", "--input", "-"], input="{not json")
    assert result.exit_code == 2 and json.loads(result.stderr)["field"] == "input"
    result = runner().invoke(app, ["assess", "nope", "--input", "-"], input=json.dumps(CASE))
    assert result.exit_code == 2 and json.loads(result.stderr)["field"] == "program"


def test_params_list_shows_values_confirmed_flag_and_reference(app):
    result = runner().invoke(app, ["params", "list", "--as-of", "2020-01-01", "--prefix", "dibao.standard"])
    assert result.exit_code == 0, result.output
    assert "dibao.standard" in result.stdout
    assert "420.00" in result.stdout and "confirmed" in result.stdout and "琼府〔2015〕54号" in result.stdout
    assert "UNCONFIRMED" in result.stdout  # Sanya


def test_params_list_json(app):
    result = runner().invoke(app, ["params", "list", "--json", "--prefix", "dibao.increment.mode"])
    record = json.loads(result.stdout.splitlines()[0])
    assert record["path"] == "dibao.increment.mode"
    assert record["values"][0]["value"] == "highest" and record["values"][0]["confirmed"] is False


def test_simulate_reports_cost_and_winners_by_region(app, tmp_path: Path):
    for name, table in generate(200, seed=3).items():
        pq.write_table(table, tmp_path / f"{name}.parquet")
    result = runner().invoke(
        app,
        ["simulate", "--caseload", str(tmp_path), "--set", "dibao.standard=+10%", "--regions", "460200",
         "--from", "2021-01-01", "--as-of", "2021-08-01", "--json"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    sanya = [r for r in report["by_region"] if r["region_code"].startswith("4602")]
    others = [r for r in report["by_region"] if not r["region_code"].startswith("4602")]
    assert sanya and all(r["gaining"] > 0 for r in sanya)
    assert all(r["gaining"] == 0 and r["losing"] == 0 and r["change"] == "0.00" for r in others)
    assert report["total"]["households"] == 200


def test_simulate_bad_change_exits_2(app, tmp_path: Path):
    result = runner().invoke(app, ["simulate", "--caseload", str(tmp_path), "--set", "dibao.nope=+1"])
    assert result.exit_code == 2


def test_rules_compile_writes_every_program_and_is_then_up_to_date(app, tmp_path: Path):
    first = runner().invoke(app, ["rules", "compile", "--dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    files = sorted(p.name for p in tmp_path.glob("*.json"))
    assert len(files) == 10 and any(name.startswith("dibao-caseload-") for name in files)
    again = runner().invoke(app, ["rules", "compile", "--dir", str(tmp_path)])
    assert again.exit_code == 0 and "up to date" in again.stdout


def test_assess_in_a_fresh_process_gives_the_same_answer_without_importing_pandas(tmp_path: Path):
    import subprocess
    import sys

    case = tmp_path / "case.json"
    case.write_text(json.dumps(CASE), encoding="utf-8")
    script = (
        "import sys, json, typer\n"
        "from typer.testing import CliRunner\n"
        "from doudi.rules.cli import register\n"
        "app = typer.Typer()\n"
        "app.callback()(lambda: None)\n"
        "register(app)\n"
        f"result = CliRunner().invoke(app, ['assess', 'dibao', '--input', {str(case)!r}])\n"
        "print(json.dumps({'code': result.exit_code, 'out': result.stdout, 'pandas': 'pandas' in sys.modules}))\n"
    )
    src = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env={"PYTHONPATH": str(src)}
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0 and report["pandas"] is False
    from doudi.rules import evaluate

    assert json.loads(report["out"]) == json.loads(json.dumps(evaluate("dibao", CASE).to_json()))
