"""Entry points: :func:`evaluate` (one case) and :func:`evaluate_caseload` (many households)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
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


# --- single case: one compiled SQL statement on an in-memory DuckDB ------------------------------------------
# Per case, parsing/binding/planning the generated SQL costs far more than running it on a dozen rows, and
# building + compiling the Ibis expression costs seconds.  So each program's Ibis expression is compiled to ONE
# DuckDB statement (household row + member and row entities collected as lists of structs), cached in-process
# and on disk (keyed by the rules source and the Ibis/sqlglot/DuckDB versions; parameters are a joined table,
# so the SQL does not depend on them), and prepared once per thread.
ROW_LIST = "_doudi_{entity}"
CACHE_ENV = "DOUDI_CACHE_DIR"


@dataclass(frozen=True)
class _Compiled:
    sql: str
    entities: tuple[str, ...]  # entities other than household whose rows come back as a list column


_COMPILE_LOCK = threading.Lock()
_LOCAL = threading.local()


def _traced(program: Program, entity: Entity) -> list[Variable]:
    return [v for v in program.variables.values() if v.entity == entity and v.parameter is None]


def _params_name(program: Program) -> str:
    return f"params_{program.name}"


def _case_builder(program: Program, tables: Mapping[str, ir.Table], params: ir.Table) -> Builder:
    return Builder(program, tables, params)


def _entity_expressions(program: Program, builder: Builder) -> dict[str, ir.Table]:
    """Per entity, the table of its traced variables (household: one row per household)."""
    exprs: dict[str, ir.Table] = {}
    for entity in ENTITIES:
        names = [v.name for v in _traced(program, entity)]
        if entity == "household":
            exprs[entity] = builder.household_table(names)
        elif entity == "member":
            exprs[entity] = builder.member_table(names)
        elif names:
            exprs[entity] = builder.entity_table(entity, names, ["household_id", "row_id"])
    return exprs


def _case_expression(program: Program) -> tuple[ir.Table, tuple[str, ...]]:
    """The single-case expression over unbound tables named like the inputs: the household row with each
    other entity's rows collected into a list-of-structs column."""
    tables = {name: ibis.table(ibis_schema(name), name=name) for name in TABLE_NAMES}
    tables["households"] = ibis.table(_household_schema_with_as_of(), name="households")
    params = ibis.table(_param_schema(program), name=_params_name(program))
    exprs = _entity_expressions(program, _case_builder(program, tables, params))
    out = exprs["household"]
    entities: list[str] = []
    for entity, table in exprs.items():
        if entity == "household":
            continue
        fields = {c: table[c] for c in table.columns if c != "household_id"}
        column = ROW_LIST.format(entity=entity)
        grouped = table.group_by(table.household_id.name("_g")).aggregate(**{column: ibis.struct(fields).collect()})
        out = out.left_join(grouped, out.household_id == grouped._g).drop("_g")
        entities.append(entity)
    return out, tuple(entities)


_CODE_DIGEST: list[str] = []


def _code_digest() -> str:
    """Digest of the rules package's Python files (read once per process)."""
    if not _CODE_DIGEST:
        h = hashlib.sha256()
        root = Path(__file__).parent
        for file in sorted(root.rglob("*.py")):
            if "tests" in file.relative_to(root).parts:
                continue
            h.update(file.relative_to(root).as_posix().encode())
            h.update(file.read_bytes())
        _CODE_DIGEST.append(h.hexdigest())
    return _CODE_DIGEST[0]


def _source_digest() -> str:
    """Digest of what the generated SQL depends on: the rules code (not the parameter values) and the
    versions of the SQL generators and of DuckDB."""
    from importlib.metadata import version

    h = hashlib.sha256()
    # Package metadata, not `import sqlglot`: a process that finds its SQL cached never imports the compiler.
    h.update(f"{RULES_VERSION}|{ibis.__version__}|{version('sqlglot')}|{duckdb.__version__}".encode())
    h.update(_code_digest().encode())
    return h.hexdigest()[:20]


def cache_dir() -> Path:
    """``$DOUDI_CACHE_DIR`` or ``~/.cache/doudi`` (``$XDG_CACHE_HOME`` respected)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "doudi"


# SQL compiled ahead of time by `doudi rules compile` (run by `make install`), shipped inside the package: a
# process with an empty user cache reads it instead of compiling (the file name carries the same digest).
PACKAGED_DIR = Path(__file__).parent / "compiled"


def _cache_name(program: Program, kind: str) -> str:
    suffix = "" if kind == "case" else f"-{kind}"
    return f"{program.name}{suffix}-{_source_digest()}.json"


def _cache_file(program: Program, kind: str = "case") -> Path:
    return cache_dir() / "rules-sql" / _cache_name(program, kind)


def _read_cache(file: Path) -> _Compiled | None:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        return _Compiled(sql=data["sql"], entities=tuple(data["entities"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(file: Path, compiled: _Compiled) -> None:
    # A cache that cannot be written (read-only home, no permissions) only costs the next process a compile.
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"sql": compiled.sql, "entities": list(compiled.entities)}), encoding="utf-8")
        tmp.replace(file)
    except OSError:
        pass


def compile_program(program: Program) -> _Compiled:
    """The program's single-case SQL, compiled from its Ibis expression (never written by hand)."""
    expr, entities = _case_expression(program)
    return _Compiled(sql=str(ibis.to_sql(expr, dialect="duckdb")), entities=entities)


def _caseload_expression(program: Program) -> ir.Table:
    """The caseload expression over unbound tables named like the inputs (``households`` with an ``as_of``
    column, ``params_<program>``): one row per household with every household-level trace column."""
    tables = {name: ibis.table(ibis_schema(name), name=name) for name in TABLE_NAMES}
    tables["households"] = ibis.table(_household_schema_with_as_of(), name="households")
    params = ibis.table(_param_schema(program), name=_params_name(program))
    builder = Builder(program, tables, params)
    return builder.household_table(caseload_columns(program.name), keep=("region_code", "area"))


def compile_caseload(program: Program) -> _Compiled:
    """The program's caseload SQL (DuckDB), compiled from the same Ibis expression as
    :func:`evaluate_caseload`; it depends on neither the data nor the parameter values."""
    return _Compiled(sql=str(ibis.to_sql(_caseload_expression(program), dialect="duckdb")), entities=())


_COMPILED: dict[tuple[str, str], _Compiled] = {}
KINDS = ("case", "caseload")


def _compiler(kind: str) -> Callable[[Program], _Compiled]:
    return compile_program if kind == "case" else compile_caseload


def _compile(program: Program, kind: str = "case") -> _Compiled:
    """The compiled SQL of ``kind`` (``case`` or ``caseload``), from memory, the disk cache or compiled now."""
    key = (program.name, kind)
    compiled = _COMPILED.get(key)
    if compiled is not None:
        return compiled
    with _COMPILE_LOCK:
        if key not in _COMPILED:
            file = _cache_file(program, kind)
            compiled = _read_cache(file) or _read_cache(PACKAGED_DIR / file.name)
            if compiled is None:
                compiled = _compiler(kind)(program)
                _write_cache(file, compiled)
            _COMPILED[key] = compiled
        return _COMPILED[key]


def compile_all(directory: Path | None = None, force: bool = False) -> list[Path]:
    """Compile every program's single-case and caseload SQL into ``directory`` (default: the package's
    ``compiled/``), removing files of other digests there; returns the files written (``doudi rules compile``)."""
    from .programs import PROGRAMS

    target = directory or PACKAGED_DIR
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    wanted: set[str] = set()
    for program in PROGRAMS.values():
        for kind in KINDS:
            file = target / _cache_name(program, kind)
            wanted.add(file.name)
            if force or _read_cache(file) is None:
                compiled = _compiler(kind)(program)
                file.write_text(json.dumps({"sql": compiled.sql, "entities": list(compiled.entities)}), "utf-8")
                written.append(file)
    for stale in target.glob("*.json"):
        if stale.name not in wanted:
            stale.unlink()
    return written


def caseload_sql(program: str) -> str:
    """The cached caseload statement of ``program`` (see :func:`compile_caseload`).  It reads the tables
    ``households`` (plus an ``as_of`` DATE column), ``members``, ``incomes``, ``expenses``, ``assets`` and
    ``params_<program>`` (see :func:`resolve_parameters`)."""
    return _compile(get_program(program), "caseload").sql


class _CaseRunner:
    """Per-thread DuckDB connection with the input tables as temp tables and each program's statement
    prepared once."""

    def __init__(self) -> None:
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET threads = 1")
        # DuckDB re-plans the prepared statement on every EXECUTE; on a dozen rows its optimizer costs more
        # than it saves (optimizers preserve results; tests/test_fast_path.py checks against the Ibis path).
        self.con.execute("PRAGMA disable_optimizer")
        self.tables: set[str] = set()
        self.prepared: set[str] = set()

    def _create(self, name: str, schema: pa.Schema) -> None:
        if name not in self.tables:
            self.con.register("_doudi_src", schema.empty_table())
            self.con.execute(f'CREATE TEMP TABLE "{name}" AS SELECT * FROM _doudi_src')  # noqa: S608
            self.con.unregister("_doudi_src")
            self.tables.add(name)

    def run(self, program: Program, compiled: _Compiled, tables: Mapping[str, pa.Table]) -> dict[str, Any]:
        for name, table in tables.items():
            self._create(name, table.schema)
        if program.name not in self.prepared:
            self.con.execute(f"PREPARE q_{program.name} AS {compiled.sql}")
            self.prepared.add(program.name)
        for name, table in tables.items():
            self.con.execute(f'DELETE FROM "{name}"')  # noqa: S608 - our own table names
            self.con.register("_doudi_src", table)
            self.con.execute(f'INSERT INTO "{name}" SELECT * FROM _doudi_src')  # noqa: S608
            self.con.unregister("_doudi_src")
        rows = self.con.sql(f"EXECUTE q_{program.name}").to_arrow_table().to_pylist()
        if len(rows) != 1:
            raise RuntimeError(f"expected one household row, got {len(rows)}")
        return cast(dict[str, Any], rows[0])


def _runner() -> _CaseRunner:
    runner = getattr(_LOCAL, "runner", None)
    if runner is None:
        runner = _CaseRunner()
        _LOCAL.runner = runner
    return runner


def _prepare(
    program: str, case: Mapping[str, Any], parameters: ParameterSet | None
) -> tuple[Program, CaseContext, ParameterSet, dict[str, ParameterValue], dict[str, pa.Table]]:
    prog = get_program(program)
    params = parameters or load_parameters()
    ctx, tables = case_to_tables(prog, case)
    if ctx.overrides:
        params = params.with_overrides(ctx.overrides)
    param_table, resolved = resolve_parameters(prog, params, [(ctx.region_code, ctx.area)], ctx.as_of)
    households = tables["households"].append_column("as_of", pa.array([ctx.as_of], pa.date32()))
    inputs = {**tables, "households": households, _params_name(prog): param_table}
    return prog, ctx, params, resolved[(ctx.region_code, ctx.area)], inputs


def evaluate(program: str, case: Mapping[str, Any], parameters: ParameterSet | None = None) -> Determination:
    """Evaluate one case (see docs/rules.md for the input contract)."""
    prog, ctx, params, used, inputs = _prepare(program, case, parameters)
    compiled = _compile(prog)
    row = _runner().run(prog, compiled, inputs)
    results: dict[str, list[dict[str, Any]]] = {"household": [row]}
    for entity in compiled.entities:
        results[entity] = row.pop(ROW_LIST.format(entity=entity)) or []
    return _determination(prog, ctx, params, used, results)


def evaluate_uncached(program: str, case: Mapping[str, Any], parameters: ParameterSet | None = None) -> Determination:
    """:func:`evaluate` without any compiled-SQL cache: the Ibis expressions are built over the case's tables
    and executed per entity through Ibis's DuckDB backend.  Slow; the reference the fast path is tested
    against."""
    prog, ctx, params, used, inputs = _prepare(program, case, parameters)
    con = ibis.duckdb.connect()
    tables = {name: ibis.memtable(inputs[name]) for name in TABLE_NAMES}
    builder = _case_builder(prog, tables, ibis.memtable(inputs[_params_name(prog)]))
    results = {entity: con.to_pyarrow(expr).to_pylist() for entity, expr in _entity_expressions(prog, builder).items()}
    return _determination(prog, ctx, params, used, results)


def _determination(
    prog: Program,
    ctx: CaseContext,
    params: ParameterSet,
    used: Mapping[str, ParameterValue],
    results: Mapping[str, list[dict[str, Any]]],
) -> Determination:
    household = results["household"]
    if len(household) != 1:
        raise RuntimeError(f"expected one household row, got {len(household)}")
    row = household[0]
    by_member = {r["member_id"]: r for r in results.get("member", [])}
    by_row = {e: sorted(results.get(e, []), key=lambda r: r["row_id"]) for e in ROW_ENTITIES}
    trace: list[TraceEntry] = []
    for var in prog.variables.values():
        if var.parameter is not None:
            pv = used[var.name]
            trace.append(TraceEntry(var.name, var.label, var.entity, var.kind, pv.value, pv.reference))
            continue
        if var.entity == "household":
            value: Any = row[var.name]
        elif var.entity == "member":
            value = {m: by_member[m][var.name] if m in by_member else None for m in ctx.member_ids}
        else:
            value = [r[var.name] for r in by_row[var.entity]]
        trace.append(TraceEntry(var.name, var.label, var.entity, var.kind, value, var.reference))
    summary: dict[str, Any] = {k: row.get(v) if v not in used else used[v].value for k, v in prog.summary.items()}
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
        parameters_used=tuple(used[v.name] for v in prog.parameter_variables()),
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


def _check_keys(keys: Iterable[tuple[str, str]]) -> None:
    for region, area in keys:
        validate_region(region, "households.region_code")
        if area not in ("urban", "rural"):
            raise RulesInputError("households.area", f"must be urban or rural, got {area!r}")


def caseload_connection(program: Program, arrow: Mapping[str, pa.Table], as_of: dt.date) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with normalised input tables under the names :func:`caseload_sql`
    reads (``households`` gets the ``as_of`` column); the caller registers ``params_<program>``."""
    con = duckdb.connect(":memory:")
    # Rows come back in no particular order (callers key them by household_id); keeping the input order
    # costs DuckDB extra work in every operator of the caseload statement.
    con.execute("SET preserve_insertion_order = false")
    con.register("_doudi_households", arrow["households"])
    con.execute(
        f"CREATE TEMP VIEW households AS SELECT *, DATE '{as_of.isoformat()}' AS as_of FROM _doudi_households"  # noqa: S608
    )
    for name in TABLE_NAMES:
        if name != "households":
            con.register(name, arrow[name])
    return con


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
        arrow = {
            name: _normalise_arrow(name, tables[name]) if name in tables else arrow_schema(name).empty_table()
            for name in TABLE_NAMES
        }
        keys_table = arrow["households"].select(list(PARAM_KEYS)).group_by(list(PARAM_KEYS)).aggregate([])
        keys = list(zip(keys_table["region_code"].to_pylist(), keys_table["area"].to_pylist(), strict=True))
        if backend is None or backend == "duckdb":
            # The cached caseload statement: compiled from the same expression, without building it again.
            _check_keys(keys)
            param_table, _ = resolve_parameters(prog, params, keys, as_of)
            con = caseload_connection(prog, arrow, as_of)
            try:
                con.register(_params_name(prog), param_table)
                return con.sql(f"SELECT * FROM ({caseload_sql(prog.name)}) q").to_arrow_table()  # noqa: S608
            finally:
                con.close()
        con = _backend(backend)
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

    _check_keys(keys)
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
