"""Command-line functions for the rules: ``assess``, ``params list`` and ``simulate``.

``register(app)`` adds them to the main ``doudi`` Typer app.  Bad input exits with status 2 and prints
``{"code", "message", "field"}`` as JSON on stderr.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from .errors import RulesInputError

if TYPE_CHECKING:
    import pyarrow as pa

# Heavy modules (Ibis, DuckDB, pyarrow) are imported inside the commands so that registering them does not
# slow down every other `doudi` command.
EXIT_BAD_INPUT = 2
TABLE_NAMES = ("households", "members", "incomes", "expenses", "assets")


def _fail(code: str, message: str, field: str) -> NoReturn:
    typer.echo(json.dumps({"code": code, "message": message, "field": field}, ensure_ascii=False), err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _parse_date(value: str | None, field: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        _fail("rules_input_error", f"must be a date YYYY-MM-DD, got {value!r}", field)


def assess(
    program: Annotated[str, typer.Argument(help="dibao, tekun, temporary, disability or funeral")],
    input: Annotated[str, typer.Option("--input", "-i", help="case JSON file, or - for stdin")],
) -> None:
    """Evaluate one case and print the determination as JSON."""
    from .evaluation import evaluate

    try:
        text = sys.stdin.read() if input == "-" else Path(input).read_text(encoding="utf-8")
    except OSError as exc:
        _fail("input_unreadable", str(exc), "input")
    try:
        case = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        _fail("invalid_json", f"not valid JSON: {exc}", "input")
    try:
        determination = evaluate(program, case)
    except RulesInputError as exc:
        _fail(exc.code, exc.message, exc.field)
    typer.echo(json.dumps(determination.to_json(), ensure_ascii=False, indent=2))


def params_list(
    as_of: Annotated[str | None, typer.Option("--as-of", help="date (default today)")] = None,
    prefix: Annotated[str, typer.Option("--prefix", help="only paths starting with this")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False,
) -> None:
    """List every parameter with the value(s) in effect, confirmed flag and reference."""
    from .parameters import json_value, load_parameters

    when = _parse_date(as_of, "as_of") or dt.date.today()
    params = load_parameters()
    for p in params.list():
        if not p.path.startswith(prefix):
            continue
        current = params.current_values(p.path, when)
        if as_json:
            record: dict[str, Any] = {
                "path": p.path,
                "type": p.type,
                "unit": p.unit,
                "description": p.description,
                "reference": p.reference,
                "values": [
                    {
                        "region": region,
                        "area": area,
                        "value": json_value(v.value),
                        "effective_from": v.effective_from.isoformat(),
                        "confirmed": v.confirmed,
                        "reference": v.reference,
                    }
                    for region, area, v in current
                ],
            }
            typer.echo(json.dumps(record, ensure_ascii=False))
            continue
        typer.echo(f"{p.path}  [{p.unit}]  {p.description}")
        if not current:
            typer.echo(f"    (no value in effect on {when.isoformat()})")
        for region, area, v in current:
            flag = "confirmed" if v.confirmed else "UNCONFIRMED"
            value = json.dumps(json_value(v.value), ensure_ascii=False)
            typer.echo(
                f"    {region:<10} {area:<6} {value:<40} from {v.effective_from.isoformat()}  {flag}  {v.reference}"
            )


def _read_caseload(directory: Path) -> dict[str, pa.Table]:
    import pyarrow.parquet as pq

    if not directory.is_dir():
        _fail("rules_input_error", f"not a directory: {directory}", "caseload")
    tables = {}
    for name in TABLE_NAMES:
        file = directory / f"{name}.parquet"
        if file.exists():
            tables[name] = pq.read_table(file)
    if "households" not in tables or "members" not in tables:
        _fail("rules_input_error", "needs households.parquet and members.parquet", "caseload")
    return tables


def simulate(
    caseload: Annotated[Path, typer.Option("--caseload", help="directory of households/members/... .parquet")],
    set_: Annotated[
        list[str], typer.Option("--set", help="change, e.g. dibao.standard=+5% | =+20 | =500 (repeatable)")
    ],
    regions: Annotated[str | None, typer.Option("--regions", help="comma-separated region codes")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="changes apply from this date")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="evaluation date (default --from or today)")] = None,
    program: Annotated[str, typer.Option("--program")] = "dibao",
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Apply parameter changes to a caseload and report cost and households gaining/losing, by region."""
    import pyarrow as pa

    from .evaluation import evaluate_caseload
    from .parameters import Change, load_parameters
    from .programs import get_program

    from_date = _parse_date(from_, "from")
    when = _parse_date(as_of, "as_of") or from_date or dt.date.today()
    region_list = [r.strip() for r in regions.split(",") if r.strip()] if regions else None
    try:
        prog = get_program(program)
        base_params = load_parameters()
        changes = [Change.parse(spec, region_list, from_date) for spec in set_]
        reform_params = base_params.with_changes(changes)
        tables = _read_caseload(caseload)
        base = evaluate_caseload(prog.name, tables, when, parameters=base_params)
        reform = evaluate_caseload(prog.name, tables, when, parameters=reform_params)
    except RulesInputError as exc:
        _fail(exc.code, exc.message, exc.field)
    assert isinstance(base, pa.Table) and isinstance(reform, pa.Table)
    report = simulation_report(base, reform, prog.eligible, prog.amount)
    report.update(as_of=when.isoformat(), changes=set_, regions=region_list, program=prog.name)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{prog.name} simulation at {when.isoformat()}: {', '.join(set_)}")
    header = f"{'region':<10} {'households':>10} {'baseline':>14} {'reform':>14} {'change':>13} {'gain':>7} {'lose':>7}"
    typer.echo(header)
    for row in [*report["by_region"], {**report["total"], "region_code": "TOTAL"}]:
        typer.echo(
            f"{row['region_code']:<10} {row['households']:>10} {row['baseline_cost']:>14} "
            f"{row['reform_cost']:>14} {row['change']:>13} {row['gaining']:>7} {row['losing']:>7}"
        )


def simulation_report(base: pa.Table, reform: pa.Table, eligible: str, amount: str) -> dict[str, Any]:
    """Monthly cost and winners/losers, in total and by region (amounts as decimal strings)."""
    import duckdb

    from .parameters import format_decimal

    con = duckdb.connect(":memory:")
    con.register("base", base.select(["household_id", "region_code", eligible, amount]))
    con.register("reform", reform.select(["household_id", eligible, amount]))
    query = f"""
        SELECT b.region_code,
               count(*) AS households,
               sum(b."{amount}") AS baseline_cost,
               sum(r."{amount}") AS reform_cost,
               count(*) FILTER (WHERE r."{amount}" > b."{amount}") AS gaining,
               count(*) FILTER (WHERE r."{amount}" < b."{amount}") AS losing,
               count(*) FILTER (WHERE r."{eligible}" AND NOT b."{eligible}") AS newly_eligible,
               count(*) FILTER (WHERE b."{eligible}" AND NOT r."{eligible}") AS no_longer_eligible
        FROM base b JOIN reform r USING (household_id)
        GROUP BY GROUPING SETS ((b.region_code), ())
        ORDER BY b.region_code NULLS LAST
    """  # noqa: S608 - column names are program variable names, not user input
    rows = con.sql(query).to_arrow_table().to_pylist()
    out = []
    for row in rows:
        baseline = row["baseline_cost"] or Decimal(0)
        reform_cost = row["reform_cost"] or Decimal(0)
        out.append(
            {
                **row,
                "baseline_cost": format_decimal(baseline),
                "reform_cost": format_decimal(reform_cost),
                "change": format_decimal(reform_cost - baseline),
            }
        )
    return {"by_region": [r for r in out if r["region_code"] is not None],
            "total": next(r for r in out if r["region_code"] is None)}


def register(app: typer.Typer) -> None:
    """Add ``assess``, ``params list`` and ``simulate`` to the main ``doudi`` command."""
    app.command("assess")(assess)
    params_app = typer.Typer(help="Rule parameters (dated, region-keyed values).", no_args_is_help=True)
    params_app.command("list")(params_list)
    app.add_typer(params_app, name="params")
    app.command("simulate")(simulate)
