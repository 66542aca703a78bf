"""Command-line functions for the rules: ``assess``, ``params list`` and ``simulate``.

``register(app)`` adds them to the main ``doudi`` Typer app.  Bad input exits with status 2 and prints
``{"code", "message", "field"}`` as JSON on stderr.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from collections.abc import Iterator
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


class _NoPandas:
    """A meta-path finder that makes ``import pandas`` fail (see :func:`_without_pandas`)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is not used by doudi assess")


@contextlib.contextmanager
def _without_pandas() -> Iterator[None]:
    """Keep pandas out of a one-shot process that never uses it.

    pyarrow imports pandas (~0.4 s of a ~1.5 s `doudi assess`) the first time it converts Python values, only
    to ask whether they are a pandas object; with pandas unimportable during the call it answers "no" at once
    (and remembers it for the rest of this process, which is why only the one-shot command does this).
    """
    if "pandas" in sys.modules:
        yield
        return
    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


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
        with _without_pandas():
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
    from .parameters import Change, load_parameters
    from .programs import get_program
    from .simulation import simulate_caseload

    from_date = _parse_date(from_, "from")
    when = _parse_date(as_of, "as_of") or from_date or dt.date.today()
    region_list = [r.strip() for r in regions.split(",") if r.strip()] if regions else None
    try:
        prog = get_program(program)
        base_params = load_parameters()
        changes = [Change.parse(spec, region_list, from_date) for spec in set_]
        reform_params = base_params.with_changes(changes)
        tables = _read_caseload(caseload)
        result = simulate_caseload(prog.name, tables, when, base_params, reform_params)
    except RulesInputError as exc:
        _fail(exc.code, exc.message, exc.field)
    report = result.to_json()
    report.update(changes=set_, regions=region_list)
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


def rules_compile(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="where to write (default: the package's compiled/ directory)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="recompile even if the files are current")] = False,
) -> None:
    """Compile every program's SQL ahead of time, so that `doudi assess` never compiles (run by make install)."""
    from .evaluation import PACKAGED_DIR, compile_all

    try:
        written = compile_all(directory, force=force)
    except OSError as exc:
        _fail("compile_unwritable", str(exc), "dir")
    where = directory or PACKAGED_DIR
    typer.echo(f"{len(written)} compiled SQL file(s) written to {where}" if written else f"up to date: {where}")


def register(app: typer.Typer) -> None:
    """Add ``assess``, ``params list``, ``simulate`` and ``rules compile`` to the main ``doudi`` command."""
    app.command("assess")(assess)
    params_app = typer.Typer(help="Rule parameters (dated, region-keyed values).", no_args_is_help=True)
    params_app.command("list")(params_list)
    app.add_typer(params_app, name="params")
    app.command("simulate")(simulate)
    rules_app = typer.Typer(help="The rules engine's compiled SQL.", no_args_is_help=True)
    rules_app.command("compile")(rules_compile)
    app.add_typer(rules_app, name="rules")
