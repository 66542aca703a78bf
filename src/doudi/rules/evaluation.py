"""Entry points: :func:`evaluate` (one case) and :func:`evaluate_caseload` (many households)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa

from .engine import PARAM_KEYS, Builder, parameter_columns
from .errors import RulesInputError
from .inputs import CaseContext, case_to_tables
from .model import Program, Variable
from .parameters import ParameterSet, ParameterValue, format_decimal, load_parameters
from .programs import get_program
from .regions import validate_region
from .schema import ENTITIES, TABLE_COLUMNS, TABLE_NAMES, Entity, arrow_schema, ibis_schema

RULES_VERSION = "0.1.0"
ROW_ENTITIES: tuple[Entity, ...] = ("income", "expense", "asset")


def rules_version(params: ParameterSet | None = None) -> str:
    params = params or load_parameters()
    return f"{RULES_VERSION}+params.{params.digest[:12]}"


# --- determination ------------------------------------------------------------------------------------
def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


@dataclass(frozen=True)
class TraceEntry:
    name: str
    label: str
    entity: str
    kind: str
    value: Any
    reference: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "entity": self.entity,
            "kind": self.kind,
            "value": _json(self.value),
            "reference": self.reference,
        }


@dataclass(frozen=True)
class Determination:
    program: str
    as_of: dt.date
    region_code: str
    area: str
    household_id: str
    eligible: bool
    monthly_amount: Decimal
    failed_tests: tuple[str, ...]
    household_size: int | None
    countable_income: Decimal | None
    per_capita_income: Decimal | None
    standard: Decimal | None
    outputs: Mapping[str, Any]
    trace: tuple[TraceEntry, ...]
    parameters_used: tuple[ParameterValue, ...]
    rules_version: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (money as decimal strings)."""
        return {
            "program": self.program,
            "as_of": self.as_of.isoformat(),
            "region_code": self.region_code,
            "area": self.area,
            "household_id": self.household_id,
            "eligible": self.eligible,
            "monthly_amount": f"{self.monthly_amount:.2f}",
            "failed_tests": list(self.failed_tests),
            "household_size": self.household_size,
            "countable_income": _json(self.countable_income),
            "per_capita_income": _json(self.per_capita_income),
            "standard": _json(self.standard),
            "outputs": _json(self.outputs),
            "trace": [t.to_json() for t in self.trace],
            "parameters_used": [p.to_json() for p in self.parameters_used],
            "rules_version": self.rules_version,
        }

    def dumps(self, **kwargs: Any) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, **kwargs)

    def value(self, name: str) -> Any:
        for entry in self.trace:
            if entry.name == name:
                return entry.value
        raise KeyError(name)


# --- parameters table --------------------------------------------------------------------------------
def resolve_parameters(
    program: Program, params: ParameterSet, keys: Iterable[tuple[str, str]], as_of: dt.date
) -> tuple[pa.Table, dict[tuple[str, str], dict[str, ParameterValue]]]:
    """One row per (region_code, area) with a column per parameter variable of the program."""
    keys = sorted(set(keys))
    resolved: dict[tuple[str, str], dict[str, ParameterValue]] = {}
    for region, area in keys:
        row: dict[str, ParameterValue] = {}
        for var in program.parameter_variables():
            assert var.parameter is not None
            row[var.name] = params.get(var.parameter, region, var.parameter_area or area, as_of)
        resolved[(region, area)] = row
    columns: dict[str, pa.Array] = {
        "region_code": pa.array([k[0] for k in keys], pa.string()),
        "area": pa.array([k[1] for k in keys], pa.string()),
    }
    for name, dtype in parameter_columns(program).items():
        values = [resolved[k][name].value for k in keys]
        columns[name] = pa.array(values, type=dtype.to_pyarrow())
    return pa.table(columns), resolved


def _param_schema(program: Program) -> ibis.Schema:
    cols: dict[str, Any] = {"region_code": "string", "area": "string"}
    cols.update(parameter_columns(program))
    return ibis.schema(cols)


def _household_schema_with_as_of() -> ibis.Schema:
    return ibis.schema({**dict(ibis_schema("households").items()), "as_of": "date"})


# --- single case: compiled SQL on an in-memory DuckDB --------------------------------------------------
@dataclass(frozen=True)
class _Compiled:
    sql: dict[str, str]
    columns: dict[str, tuple[str, ...]]


_COMPILED: dict[str, _Compiled] = {}
_COMPILE_LOCK = threading.Lock()
_LOCAL = threading.local()


def _traced(program: Program, entity: Entity) -> list[Variable]:
    return [v for v in program.variables.values() if v.entity == entity and v.parameter is None]


def _compile(program: Program) -> _Compiled:
    with _COMPILE_LOCK:
        if program.name in _COMPILED:
            return _COMPILED[program.name]
        tables = {name: ibis.table(ibis_schema(name), name=name) for name in TABLE_NAMES}
        tables["households"] = ibis.table(_household_schema_with_as_of(), name="households")
        params = ibis.table(_param_schema(program), name=_params_name(program))
        builder = Builder(program, tables, params)
        sql: dict[str, str] = {}
        columns: dict[str, tuple[str, ...]] = {}
        for entity in ENTITIES:
            names = [v.name for v in _traced(program, entity)]
            if entity == "household":
                expr = builder.household_table(names)
            elif entity == "member":
                expr = builder.member_table(names)
            else:
                if not names:
                    continue
                expr = builder.entity_table(entity, names, ["row_id"])
            sql[entity] = str(ibis.to_sql(expr, dialect="duckdb"))
            columns[entity] = tuple(names)
        compiled = _Compiled(sql, columns)
        _COMPILED[program.name] = compiled
        return compiled


def _params_name(program: Program) -> str:
    return f"params_{program.name}"


class _CaseRunner:
    """Per-thread DuckDB connection with the input tables as temp tables and each program's queries
    prepared once (parsing and planning the generated SQL is most of the cost of one case)."""

    def __init__(self) -> None:
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET threads = 1")
        self.tables: set[str] = set()
        self.prepared: set[str] = set()

    def _create(self, name: str, schema: pa.Schema) -> None:
        if name not in self.tables:
            self.con.register("_doudi_src", schema.empty_table())
            self.con.execute(f'CREATE TEMP TABLE "{name}" AS SELECT * FROM _doudi_src')  # noqa: S608
            self.con.unregister("_doudi_src")
            self.tables.add(name)

    def run(self, program: Program, compiled: _Compiled, tables: Mapping[str, pa.Table]) -> dict[str, pa.Table]:
        for name, table in tables.items():
            self._create(name, table.schema)
        if program.name not in self.prepared:
            for entity, sql in compiled.sql.items():
                self.con.execute(f"PREPARE q_{program.name}_{entity} AS {sql}")
            self.prepared.add(program.name)
        for name, table in tables.items():
            self.con.execute(f'DELETE FROM "{name}"')  # noqa: S608 - our own table names
            self.con.register("_doudi_src", table)
            self.con.execute(f'INSERT INTO "{name}" SELECT * FROM _doudi_src')  # noqa: S608
            self.con.unregister("_doudi_src")
        return {
            entity: self.con.sql(f"EXECUTE q_{program.name}_{entity}").to_arrow_table()
            for entity in compiled.sql
        }


def _runner() -> _CaseRunner:
    runner = getattr(_LOCAL, "runner", None)
    if runner is None:
        runner = _CaseRunner()
        _LOCAL.runner = runner
    return runner


def evaluate(program: str, case: Mapping[str, Any], parameters: ParameterSet | None = None) -> Determination:
    """Evaluate one case (see docs/rules.md for the input contract)."""
    prog = get_program(program)
    params = parameters or load_parameters()
    ctx, tables = case_to_tables(prog, case)
    if ctx.overrides:
        params = params.with_overrides(ctx.overrides)
    param_table, resolved = resolve_parameters(prog, params, [(ctx.region_code, ctx.area)], ctx.as_of)
    used = resolved[(ctx.region_code, ctx.area)]
    households = tables["households"].append_column("as_of", pa.array([ctx.as_of], pa.date32()))
    compiled = _compile(prog)
    inputs = {**tables, "households": households, _params_name(prog): param_table}
    results = _runner().run(prog, compiled, inputs)
    return _determination(prog, ctx, params, used, compiled, results)


def _determination(
    prog: Program,
    ctx: CaseContext,
    params: ParameterSet,
    used: Mapping[str, ParameterValue],
    compiled: _Compiled,
    results: Mapping[str, pa.Table],
) -> Determination:
    household = results["household"].to_pylist()
    if len(household) != 1:
        raise RuntimeError(f"expected one household row, got {len(household)}")
    row = household[0]
    trace: list[TraceEntry] = []
    for var in prog.variables.values():
        if var.parameter is not None:
            pv = used[var.name]
            trace.append(TraceEntry(var.name, var.label, var.entity, var.kind, pv.value, pv.reference))
            continue
        if var.entity == "household":
            value: Any = row[var.name]
        elif var.entity == "member":
            by_member = {r["member_id"]: r[var.name] for r in results["member"].to_pylist()}
            value = {m: by_member.get(m) for m in ctx.member_ids}
        else:
            rows = sorted(results[var.entity].to_pylist(), key=lambda r: r["row_id"])
            value = [r[var.name] for r in rows]
        trace.append(TraceEntry(var.name, var.label, var.entity, var.kind, value, var.reference))
    summary: dict[str, Any] = {
        k: row.get(v) if v not in used else used[v].value for k, v in prog.summary.items()
    }
    return Determination(
        program=prog.name,
        as_of=ctx.as_of,
        region_code=ctx.region_code,
        area=ctx.area,
        household_id=ctx.household_id,
        eligible=bool(row[prog.eligible]),
        monthly_amount=row[prog.amount],
        failed_tests=tuple(t for t in prog.tests if row[t] is False),
        household_size=summary.get("household_size"),
        countable_income=summary.get("countable_income"),
        per_capita_income=summary.get("per_capita_income"),
        standard=summary.get("standard"),
        outputs={name: used[name].value if name in used else row[name] for name in prog.outputs},
        trace=tuple(trace),
        parameters_used=tuple(
            used[v.name] for v in prog.parameter_variables()
        ),
        rules_version=rules_version(params),
    )


# --- caseload ---------------------------------------------------------------------------------------------
def _normalise_arrow(name: str, table: pa.Table) -> pa.Table:
    schema = arrow_schema(name)
    n = table.num_rows
    arrays: list[pa.Array | pa.ChunkedArray] = []
    for col in TABLE_COLUMNS[name]:
        if col.name in table.column_names:
            try:
                arrays.append(table.column(col.name).cast(col.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise RulesInputError(f"{name}.{col.name}", f"cannot convert to {col.type}: {exc}") from None
        elif col.required:
            raise RulesInputError(f"{name}.{col.name}", "required column is missing")
        else:
            arrays.append(pa.array([col.default] * n, type=col.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _normalise_ibis(name: str, table: ir.Table) -> ir.Table:
    exprs: dict[str, ir.Value] = {}
    for col in TABLE_COLUMNS[name]:
        dtype = ibis_schema(name)[col.name]
        if col.name in table.columns:
            exprs[col.name] = table[col.name].cast(dtype) if table[col.name].type() != dtype else table[col.name]
        elif col.required:
            raise RulesInputError(f"{name}.{col.name}", "required column is missing")
        else:
            exprs[col.name] = ibis.literal(col.default, type=dtype)
    return table.select(**exprs)


def _backend(backend: Any) -> Any:
    if backend is None or backend == "duckdb":
        return ibis.duckdb.connect()
    if backend == "pyspark":
        from pyspark.sql import SparkSession

        return ibis.pyspark.connect(SparkSession.builder.master("local[1]").getOrCreate())
    if isinstance(backend, str):
        raise RulesInputError("backend", f"unknown backend {backend!r} (duckdb, pyspark or an Ibis backend)")
    return backend


def _bind(con: Any, name: str, table: pa.Table) -> ir.Table:
    """Make an Arrow table available on ``con``.

    Ibis's PySpark memtable path cannot convert NULL decimals, so Spark gets a temporary view built
    directly from Arrow.
    """
    if getattr(con, "name", "") == "pyspark":
        view = f"doudi_{name}_{uuid.uuid4().hex[:12]}"
        con._session.createDataFrame(table).createOrReplaceTempView(view)
        return cast(ir.Table, con.table(view))
    return ibis.memtable(table)


def caseload_columns(program: str) -> list[str]:
    """Output columns of :func:`evaluate_caseload` after ``household_id, region_code, area``."""
    prog = get_program(program)
    return [v.name for v in prog.household_variables() if not v.dtype.startswith("list")]


def evaluate_caseload(
    program: str,
    tables: Mapping[str, ir.Table | pa.Table],
    as_of: dt.date,
    backend: Any = None,
    parameters: ParameterSet | None = None,
) -> ir.Table | pa.Table:
    """Evaluate every household in ``tables`` at ``as_of``; one row per household with trace columns.

    ``tables`` maps ``households``/``members``/``incomes``/``expenses``/``assets`` to pyarrow or Ibis
    tables (row tables may be omitted).  With pyarrow input the result is a pyarrow table computed on
    ``backend`` (``"duckdb"`` default, ``"pyspark"``, or an Ibis backend); with Ibis input the result is
    an unexecuted Ibis table on the inputs' backend.
    """
    prog = get_program(program)
    params = parameters or load_parameters()
    if not isinstance(as_of, dt.date):
        raise RulesInputError("as_of", f"must be a date, got {as_of!r}")
    unknown = set(tables) - set(TABLE_NAMES)
    if unknown:
        raise RulesInputError("tables", f"unknown tables {sorted(unknown)}")
    if "households" not in tables or "members" not in tables:
        raise RulesInputError("tables", "households and members are required")
    arrow_input = all(isinstance(t, pa.Table) for t in tables.values())
    ibis_input = all(isinstance(t, ir.Table) for t in tables.values())
    if not (arrow_input or ibis_input):
        raise RulesInputError("tables", "pass either all pyarrow tables or all Ibis tables")

    if arrow_input:
        con = _backend(backend)
        arrow = {
            name: _normalise_arrow(name, tables[name]) if name in tables else arrow_schema(name).empty_table()
            for name in TABLE_NAMES
        }
        keys_table = arrow["households"].select(list(PARAM_KEYS)).group_by(list(PARAM_KEYS)).aggregate([])
        keys = list(zip(keys_table["region_code"].to_pylist(), keys_table["area"].to_pylist(), strict=True))
        bound = {name: _bind(con, name, t) for name, t in arrow.items()}
    else:
        first = next(iter(tables.values()))
        assert isinstance(first, ir.Table)
        con = first.get_backend()
        bound = {}
        for name in TABLE_NAMES:
            if name in tables:
                t = tables[name]
                assert isinstance(t, ir.Table)
                bound[name] = _normalise_ibis(name, t)
            else:
                bound[name] = _bind(con, name, arrow_schema(name).empty_table())
        keys_arrow = bound["households"].select(*PARAM_KEYS).distinct().to_pyarrow()
        keys = list(zip(keys_arrow["region_code"].to_pylist(), keys_arrow["area"].to_pylist(), strict=True))

    for region, area in keys:
        validate_region(region, "households.region_code")
        if area not in ("urban", "rural"):
            raise RulesInputError("households.area", f"must be urban or rural, got {area!r}")
    param_table, _ = resolve_parameters(prog, params, keys, as_of)
    households = bound["households"].mutate(as_of=ibis.literal(as_of, type="date"))
    builder = Builder(prog, {**bound, "households": households}, _bind(con, "params", param_table))
    names = caseload_columns(program)
    expr = builder.household_table(names, keep=("region_code", "area"))
    if arrow_input:
        return con.to_pyarrow(expr)
    return expr


__all__ = [
    "Determination",
    "TraceEntry",
    "evaluate",
    "evaluate_caseload",
    "rules_version",
]
