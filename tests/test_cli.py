import json

import pytest
from typer.testing import CliRunner

from doudi.cli import app

runner = CliRunner()


@pytest.mark.django_db
def test_payroll_for_an_unknown_county_exits_2_with_the_error_shape():
    result = runner.invoke(app, ["payroll", "--county", "469001999999", "--month", "2026-11"])
    assert result.exit_code == 2
    assert json.loads(result.stderr)["field"] == "county_code"


@pytest.mark.django_db
def test_payroll_twice_for_the_same_month_creates_one_payroll(tree):
    first = runner.invoke(app, ["payroll", "--county", "469001000000", "--month", "2026-11"])
    second = runner.invoke(app, ["payroll", "--county", "469001000000", "--month", "2026-11"])
    assert first.exit_code == second.exit_code == 0
    assert json.loads(first.stdout)["payroll"] == json.loads(second.stdout)["payroll"]


def test_every_documented_command_is_registered():
    names = {c.name or c.callback.__name__ for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert {"serve", "demo", "seed", "import", "export", "assess", "params", "simulate", "verify", "payroll"} <= names
    assert {"seed-caseload", "verification-worker", "complaints", "integrity"} <= names


@pytest.mark.django_db
def test_the_verification_worker_with_nothing_queued_exits_cleanly(tree):
    result = runner.invoke(app, ["verification-worker", "--once"])
    assert result.exit_code == 0, result.output


@pytest.mark.django_db
def test_complaint_reminders_run_for_a_county(tree):
    result = runner.invoke(app, ["complaints", "remind", "--county", "469001000000", "--date", "2026-11-02"])
    assert result.exit_code == 0, result.output
