"""Household economic-status verification (居民家庭经济状况核对) at scale, as one Ibis job.

Every member of every household is matched by ID number against every source, and the rules below produce
*hits*: one row per (household, person, source, rule) naming the value found and the threshold it broke.

=====================  ===============================  =================================================
rule                   source(s)                        hit when (per household)
=====================  ===============================  =================================================
death                  deaths                           a member died on or before ``as_of``
vehicle                vehicles                         non-exempt vehicles (distinct plates; the type
                                                        ``disabled_mobility`` is exempt) > dibao.assets.max_vehicles
business               business                         active businesses (distinct company_id)
                                                        > dibao.assets.max_business_registrations
housing                real_estate                      residential properties (distinct property_id)
                                                        > dibao.assets.max_housing
commercial_property    real_estate                      commercial properties > dibao.assets.max_non_residential
financial_assets       deposits, securities             deposits + securities (latest balance per account on or
                                                        before ``as_of``) > financial_limit_months × dibao.standard
                                                        × household size
income                 tax, pension, housing_fund       verified monthly income > declared × (1 + tolerance)
=====================  ===============================  =================================================

``value`` and ``threshold`` are strings: counts as integers, money as decimals with two places, the death
rule as ISO dates (death date, ``as_of``).  For household-level rules the value is the household's figure
(count, per-capita financial assets, monthly income) and a hit is written for every member who contributes
to it through that source.  Verified income per member = max(latest tax year's annual income / 12, latest
housing-fund deposit / contribution rate) + latest pension; the rule runs only when ``households`` has a
``declared_monthly_income`` column (rows where it is empty are skipped).

Money is handled in integer fen (分) inside the job and turned into DECIMAL(18, 2) only for display: the
only divisions (per-capita, /12, /rate) round half up in integer arithmetic, identically on DuckDB and Spark.
Parameters are resolved in Python once per distinct (region_code, area) into a small table joined on the
households, never per household.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from doudi.rules.errors import RulesInputError
from doudi.rules.parameters import ParameterSet, format_decimal, load_parameters
from doudi.rules.regions import region_chain

from .engines import ROW_COL, Engine, connect
from .errors import BatchInputError
from .idnumber import normalise_id_expr, with_id_check
from .sources import (
    REJECT_SCHEMA,
    SOURCE_KINDS,
    Column,
    RawTable,
    _text,
    check_source,
    discover_sources,
    load_raw,
    load_rejects_table,
    parse_column,
    require_columns,
)

RULES: dict[str, tuple[str, ...]] = {
    "death": ("deaths",),
    "vehicle": ("vehicles",),
    "business": ("business",),
    "housing": ("real_estate",),
    "commercial_property": ("real_estate",),
    "financial_assets": ("deposits", "securities"),
    "income": ("tax", "pension", "housing_fund"),
}
EXEMPT_VEHICLE_TYPES = ("disabled_mobility",)  # 2012 办法 art. 17: 残疾人功能性补偿代步机动车辆除外
HIT_SCHEMA = pa.schema(
    [
        ("household_id", pa.string()),
        ("id_number", pa.string()),
        ("source", pa.string()),
        ("rule", pa.string()),
        ("value", pa.string()),
        ("threshold", pa.string()),
    ]
)
# params-table column -> (parameter path, how it enters the job)
PARAMETERS: dict[str, tuple[str, str]] = {
    "standard_fen": ("dibao.standard", "fen"),
    "financial_months": ("dibao.assets.financial_limit_months", "int"),
    "max_vehicles": ("dibao.assets.max_vehicles", "int"),
    "max_business": ("dibao.assets.max_business_registrations", "int"),
    "max_housing": ("dibao.assets.max_housing", "int"),
    "max_commercial": ("dibao.assets.max_non_residential", "int"),
    "income_tolerance_bp": ("verification.income_tolerance", "bp"),
    "housing_fund_rate_bp": ("verification.housing_fund_contribution_rate", "bp"),
}
DECLARED = "declared_monthly_income"
Progress = Callable[[str, int, int], None]


@dataclass
class VerificationResult:
    hits: pa.Table
    summary: dict[str, Any]
    rejects: pa.Table = field(default_factory=lambda: REJECT_SCHEMA.empty_table())


# --- small expression helpers (integer fen) ----------------------------------------------------------------
def fen(money: ir.Value) -> ir.IntegerValue:
    """DECIMAL(18, 2) yuan → int64 fen (exact)."""
    return cast(ir.IntegerValue, (money * 100).cast("int64"))


def div_half_up(numerator: ir.IntegerValue, denominator: Any) -> ir.IntegerValue:
    """numerator / denominator rounded half up, for non-negative integers (exact on every backend)."""
    return cast(ir.IntegerValue, ((numerator * 2 + denominator) // (denominator * 2)).cast("int64"))


def yuan_text(amount_fen: ir.IntegerValue) -> ir.StringValue:
    """int64 fen → '1234.50' (built from integers so that every backend prints the same text)."""
    whole = (amount_fen // 100).cast("int64").cast("string")
    cents = (amount_fen % 100).cast("int64").cast("string").lpad(2, "0")
    return cast(ir.StringValue, whole.concat(".", cents))


def int_text(value: ir.IntegerValue) -> ir.StringValue:
    return cast(ir.StringValue, value.cast("int64").cast("string"))


# --- inputs ------------------------------------------------------------------------------------------------
@dataclass
class Inputs:
    households: ir.Table  # household_id, region_code, area, declared_fen (nullable)
    persons: ir.Table  # household_id, id_number, _raw_id, _source_row, _reason
    has_declared: bool
    household_raw: RawTable
    person_raw: RawTable


def _load_households(engine: Engine, path: Path) -> tuple[ir.Table, RawTable, bool]:
    where = f"households/{path.name}"
    raw = load_raw(engine, path, where)
    t = raw.table
    require_columns(t, ("household_id", "region_code", "area"), where)
    has_declared = DECLARED in t.columns
    declared: ir.Value = ibis.null("int64")
    declared_bad: ir.BooleanValue = ibis.literal(False)
    if has_declared:
        value, _missing, bad = parse_column(t[DECLARED], Column(DECLARED, "money", required=False))
        declared, declared_bad = fen(value), bad
    hh = t.select(
        household_id=_text(t.household_id),
        region_code=_text(t.region_code),
        area=_text(t.area).lower(),
        declared_fen=declared,
        _declared_bad=declared_bad,
        _row=t[ROW_COL],
    )
    problems = [
        ("missing_value", "household_id", hh.household_id.isnull(), "household_id is empty"),
        ("missing_value", "region_code", hh.region_code.isnull(), "region_code is empty"),
        ("invalid_area", "area", ~hh.area.isin(["urban", "rural"]).fill_null(False), "area must be urban or rural"),
        ("bad_value", DECLARED, hh._declared_bad, "declared_monthly_income must be a non-negative amount"),
    ]
    counts = hh.aggregate(
        rows=hh.count(),
        distinct_ids=hh.household_id.nunique(),
        **{f"p{i}": cond.sum() for i, (_, _, cond, _) in enumerate(problems)},
    )
    stats = engine.to_arrow(counts).to_pylist()[0]
    if not stats["rows"]:
        raise BatchInputError("empty_file", "no households in the file", where)
    for i, (code, column, cond, message) in enumerate(problems):
        if stats[f"p{i}"]:
            first = engine.to_arrow(hh.filter(cond).order_by("_row").select("_row").limit(1)).to_pylist()[0]
            raise BatchInputError(
                code, f"{message}: {stats[f'p{i}']} row(s), the first is row {first['_row']}", f"{where}:{column}"
            )
    if stats["distinct_ids"] != stats["rows"]:
        dup = hh.group_by("household_id").aggregate(n=hh.count()).filter(ibis._.n > 1).order_by("household_id").limit(1)
        example = engine.to_arrow(dup).to_pylist()[0]
        raise BatchInputError(
            "duplicate_household",
            f"household_id {example['household_id']!r} appears {example['n']} times; "
            f"{stats['rows'] - stats['distinct_ids']} duplicate row(s) in all",
            f"{where}:household_id",
        )
    return hh.drop("_declared_bad", "_row"), raw, has_declared


def _load_persons(engine: Engine, path: Path, households: ir.Table) -> tuple[ir.Table, RawTable]:
    where = f"persons/{path.name}"
    raw = load_raw(engine, path, where)
    t = raw.table
    require_columns(t, ("household_id", "id_number"), where)
    p = t.select(
        household_id=_text(t.household_id),
        id_number=normalise_id_expr(t.id_number),
        _raw_id=_text(t.id_number),
        _source_row=t[ROW_COL],
    )
    # Staged projections: the ID check and the household look-up are computed once per row.
    # A left join, not ``isin(subquery)``: Spark plans an IN-subquery inside a projection as a nested-loop join.
    known = households.select("household_id", _known=ibis.literal(True))
    p = p.left_join(known, p.household_id == known.household_id).select(*p.columns, _known=known._known)
    p = with_id_check(p.mutate(_known=p._known.fill_null(False)), "id_number", "_id_ok")
    p = p.mutate(
        _reason=ibis.cases(
            (p.household_id.isnull() | p.id_number.isnull(), ibis.literal("missing_value")),
            (~p._known, ibis.literal("unknown_household")),
            (~p._id_ok, ibis.literal("invalid_id_number")),
            else_=ibis.null("string"),
        ),
        _column=ibis.cases(
            (p.household_id.isnull(), ibis.literal("household_id")),
            (p.id_number.isnull(), ibis.literal("id_number")),
            (~p._known, ibis.literal("household_id")),
            (~p._id_ok, ibis.literal("id_number")),
            else_=ibis.null("string"),
        ),
    )
    return p, raw


# --- parameters --------------------------------------------------------------------------------------------
def resolve_parameters(
    pairs: list[tuple[str, str]], as_of: dt.date, params: ParameterSet
) -> tuple[pa.Table, dict[str, list[dict[str, Any]]]]:
    """One row per distinct (region_code, area) with every parameter the rules need, and what was used."""
    columns: dict[str, list[Any]] = {"region_code": [], "area": [], **{c: [] for c in PARAMETERS}}
    used: dict[str, dict[tuple[str, ...], dict[str, Any]]] = defaultdict(dict)
    for region_code, area in pairs:
        try:
            region_chain(region_code)
        except ValueError as exc:
            raise BatchInputError("invalid_region_code", str(exc), "households:region_code") from None
        columns["region_code"].append(region_code)
        columns["area"].append(area)
        for col, (path, how) in PARAMETERS.items():
            try:
                pv = params.get(path, region_code, area, as_of)
            except RulesInputError as exc:
                raise BatchInputError(
                    getattr(exc, "code", "parameter_not_found"),
                    f"{exc.message} (household region {region_code}, {area}, as of {as_of.isoformat()})",
                    f"parameters.{path}",
                ) from None
            value = pv.value
            assert isinstance(value, int | Decimal)
            if how == "fen":
                columns[col].append(int(Decimal(value) * 100))
            elif how == "bp":
                columns[col].append(int(Decimal(value) * 10000))
            else:
                columns[col].append(int(value))
            entry = pv.to_json()
            key = (str(entry["value"]), str(entry["effective_from"]), str(entry["region_key"]))
            used[path].setdefault(
                key, {k: entry[k] for k in ("value", "effective_from", "region_key", "confirmed", "reference")}
            )
    types = {"region_code": pa.string(), "area": pa.string(), **dict.fromkeys(PARAMETERS, pa.int64())}
    table = pa.table({k: pa.array(v, types[k]) for k, v in columns.items()})
    return table, {path: list(v.values()) for path, v in used.items()}


# --- the rules ---------------------------------------------------------------------------------------------
# What each rule needs from a source, filtered before the match so that only relevant rows are joined.
def _relevant(kind: str, t: ir.Table, as_of: dt.date) -> ir.Table:
    day = ibis.literal(as_of, type="date")
    if kind == "deaths":
        return t.filter(t.death_date <= day).select("id_number", "death_date")
    if kind == "vehicles":
        return t.filter(~t.vehicle_type.lower().isin(list(EXEMPT_VEHICLE_TYPES))).select("id_number", "plate")
    if kind == "business":
        return t.filter(t.status == "active").select("id_number", "company_id")
    if kind == "real_estate":
        return t.filter(t.usage.isin(["residential", "commercial"])).select("id_number", "property_id", "usage")
    if kind == "deposits":
        return t.filter(t.as_of <= day).select("id_number", "as_of", account=t.institution, amount=fen(t.balance))
    if kind == "securities":
        return t.filter(t.as_of <= day).select("id_number", "as_of", "account", amount=fen(t.market_value))
    if kind in ("pension", "housing_fund"):
        return t.filter(t.as_of <= day).select("id_number", "as_of", amount=fen(t.monthly_amount))
    if kind == "tax":
        return t.filter(t.year <= as_of.year).select("id_number", "year", amount=fen(t.annual_income))
    raise ValueError(kind)


def match_sources(
    members: ir.Table, sources: Mapping[str, ir.Table], as_of: dt.date, materialise: Callable[[ir.Table], ir.Table]
) -> dict[str, ir.Table]:
    """Each source's relevant rows joined to the members (household_id added), computed once per source."""
    return {
        kind: materialise(members.join(_relevant(kind, t, as_of), "id_number"))
        for kind, t in sources.items()
        if kind in SOURCE_KINDS
    }


def _hits(
    source: str | ir.StringValue,
    rule: str,
    rows: ir.Table,
    value: ir.StringValue | str,
    threshold: ir.StringValue | str,
) -> ir.Table:
    return rows.select(
        household_id=rows.household_id,
        id_number=rows.id_number,
        source=source if isinstance(source, ir.Value) else ibis.literal(source),
        rule=ibis.literal(rule),
        value=value if isinstance(value, ir.Value) else ibis.literal(value),
        threshold=threshold if isinstance(threshold, ir.Value) else ibis.literal(threshold),
    )


def _count_rule(matched: ir.Table, hh: ir.Table, key: str, limit_col: str, source: str, rule: str) -> ir.Table:
    """Household count of distinct ``key`` over the members' records > the household's limit."""
    per_hh = matched.group_by("household_id").aggregate(n=matched[key].nunique())
    flagged = per_hh.join(hh.select("household_id", limit_col), "household_id")
    flagged = flagged.filter(flagged.n > flagged[limit_col])
    people = matched.select("household_id", "id_number").distinct()
    rows = people.join(flagged, "household_id")
    return _hits(source, rule, rows, int_text(rows.n), int_text(rows[limit_col]))


def _latest(matched: ir.Table, keys: list[str], date_col: str) -> ir.Table:
    """Per ``keys``: the amount on the latest date (the largest amount on ties)."""
    latest = matched.mutate(_latest=matched[date_col].max().over(group_by=keys))
    latest = latest.filter(latest[date_col] == latest._latest)
    return latest.group_by(["household_id", *keys]).aggregate(amount=latest.amount.max())


def build_hits(
    *, hh: ir.Table, matched: Mapping[str, ir.Table], as_of: dt.date, has_declared: bool
) -> tuple[ir.Table | None, list[str]]:
    """The hits expression (union of every rule whose sources are present) and the rules skipped."""
    parts: list[ir.Table] = []
    skipped: list[str] = []

    if "deaths" in matched:
        d = matched["deaths"]
        d = d.group_by("household_id", "id_number").aggregate(death_date=d.death_date.min())
        parts.append(_hits("deaths", "death", d, d.death_date.cast("string"), as_of.isoformat()))
    else:
        skipped.append("death")
    if "vehicles" in matched:
        parts.append(_count_rule(matched["vehicles"], hh, "plate", "max_vehicles", "vehicles", "vehicle"))
    else:
        skipped.append("vehicle")
    if "business" in matched:
        parts.append(_count_rule(matched["business"], hh, "company_id", "max_business", "business", "business"))
    else:
        skipped.append("business")
    if "real_estate" in matched:
        r = matched["real_estate"]
        parts.append(
            _count_rule(r.filter(r.usage == "residential"), hh, "property_id", "max_housing", "real_estate", "housing")
        )
        parts.append(
            _count_rule(
                r.filter(r.usage == "commercial"),
                hh,
                "property_id",
                "max_commercial",
                "real_estate",
                "commercial_property",
            )
        )
    else:
        skipped.extend(["housing", "commercial_property"])

    held: list[ir.Table] = []
    for kind in ("deposits", "securities"):
        if kind in matched:
            per_account = _latest(matched[kind], ["id_number", "account"], "as_of")
            per_person = per_account.group_by("household_id", "id_number").aggregate(amount=per_account.amount.sum())
            held.append(per_person.mutate(source=ibis.literal(kind)))
    if held:
        fin = held[0] if len(held) == 1 else held[0].union(held[1])
        fin = fin.filter(fin.amount > 0)
        total = fin.group_by("household_id").aggregate(total=fin.amount.sum())
        limits = hh.select("household_id", "size", limit_fen=(hh.financial_months * hh.standard_fen).cast("int64"))
        flagged = total.join(limits, "household_id")
        flagged = flagged.filter(flagged.total > flagged.limit_fen * flagged.size)
        rows = fin.select("household_id", "id_number", "source").join(flagged, "household_id")
        parts.append(
            _hits(
                rows.source,
                "financial_assets",
                rows,
                yuan_text(div_half_up(rows.total, rows.size)),
                yuan_text(rows.limit_fen),
            )
        )
    else:
        skipped.append("financial_assets")

    income_kinds = [k for k in ("tax", "pension", "housing_fund") if k in matched]
    if has_declared and income_kinds:
        zero = ibis.literal(0, type="int64")
        per_kind: list[ir.Table] = []
        for kind in income_kinds:
            if kind == "tax":
                latest = _latest(matched["tax"], ["id_number"], "year")
                monthly = div_half_up(latest.amount, 12)
            else:
                latest = _latest(matched[kind], ["id_number"], "as_of")
                monthly = latest.amount
            per_kind.append(
                latest.select(
                    "household_id",
                    "id_number",
                    tax=monthly if kind == "tax" else zero,
                    pension=monthly if kind == "pension" else zero,
                    fund=monthly if kind == "housing_fund" else zero,
                )
            )
        stacked = per_kind[0]
        for extra in per_kind[1:]:
            stacked = stacked.union(extra)
        person = stacked.group_by("household_id", "id_number").aggregate(
            tax=stacked.tax.max(), pension=stacked.pension.max(), fund=stacked.fund.max()
        )
        m = person.join(
            hh.select("household_id", "declared_fen", "income_tolerance_bp", "housing_fund_rate_bp"), "household_id"
        )
        m = m.filter(m.declared_fen.notnull())
        wage = div_half_up(m.fund * 10000, m.housing_fund_rate_bp)
        m = m.mutate(income=ibis.greatest(m.tax, wage) + m.pension)
        total = m.group_by("household_id", "declared_fen", "income_tolerance_bp").aggregate(verified=m.income.sum())
        flagged = total.filter(total.verified * 10000 > total.declared_fen * (10000 + total.income_tolerance_bp))
        flagged = flagged.select(
            "household_id",
            "verified",
            income_limit=div_half_up(flagged.declared_fen * (10000 + flagged.income_tolerance_bp), 10000),
        )
        contributions: list[ir.Table] = []
        for kind, col in (("tax", "tax"), ("pension", "pension"), ("housing_fund", "fund")):
            if kind in matched:
                contributions.append(
                    m.filter(m[col] > 0).select("household_id", "id_number", source=ibis.literal(kind))
                )
        contrib = contributions[0]
        for extra in contributions[1:]:
            contrib = contrib.union(extra)
        rows = contrib.join(flagged, "household_id")
        parts.append(_hits(rows.source, "income", rows, yuan_text(rows.verified), yuan_text(rows.income_limit)))
    else:
        skipped.append("income" + ("" if has_declared else f" (households has no {DECLARED} column)"))
    if not parts:
        return None, skipped
    hits = parts[0]
    for extra in parts[1:]:
        hits = hits.union(extra)
    return hits, skipped


# --- the run -----------------------------------------------------------------------------------------------
@contextmanager
def _engine(engine: str | Engine, engine_options: Mapping[str, Any]) -> Iterator[Engine]:
    if isinstance(engine, Engine):
        yield engine
        return
    eng = connect(engine, **engine_options)
    try:
        yield eng
    finally:
        eng.close()


def run_verification(
    households: str | Path,
    persons: str | Path,
    sources_dir: str | Path,
    *,
    as_of: dt.date,
    engine: str | Engine = "duckdb",
    overrides: Mapping[str, object] | None = None,
    progress: Progress | None = None,
    parameters: ParameterSet | None = None,
    engine_options: Mapping[str, Any] | None = None,
) -> VerificationResult:
    """Verify every household in ``households`` against the sources in ``sources_dir``.

    Raises :class:`BatchInputError` (the run refuses to start) for unusable input; row-level problems are
    returned in ``rejects`` and counted in the summary.
    """
    started = time.perf_counter()
    report = progress or (lambda _msg, _done, _total: None)
    params = parameters or load_parameters()
    if overrides:
        try:
            params = params.with_overrides(overrides, field_prefix="--param")
        except RulesInputError as exc:
            raise BatchInputError(exc.code, exc.message, exc.field) from None
    ingested_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    with _engine(engine, engine_options or {}) as eng:
        report("读取家庭与成员 reading households and persons", 0, 4)
        hh, hh_raw, has_declared = _load_households(eng, Path(households))
        eng.size_for(int(hh_raw.rows or 0))
        persons_t, p_raw = _load_persons(eng, Path(persons), hh)
        files, ignored = discover_sources(Path(sources_dir))
        steps = 4 + len(files)

        report("解析参数 resolving parameters", 1, steps)
        pairs = eng.to_arrow(hh.select("region_code", "area").distinct()).to_pylist()
        pairs_list = sorted((r["region_code"], r["area"]) for r in pairs)
        param_table, used = resolve_parameters(pairs_list, as_of, params)
        param_t = eng.from_arrow(param_table)
        persons_m = eng.materialise(persons_t)
        # One grouping of the listed persons (known household, an ID number) gives the household sizes, the
        # members (valid IDs) and the repeated rows; ``_id_ok`` is a function of the ID, so it splits no group.
        listed = persons_m.filter(persons_m._known.fill_null(False) & persons_m.id_number.notnull())
        per_person = eng.materialise(
            listed.group_by("household_id", "id_number", "_id_ok").aggregate(
                _first=listed[ROW_COL].min(), _n=listed.count()
            )
        )
        size = per_person.group_by("household_id").aggregate(size=per_person.count())
        hh_full = hh.join(param_t, ["region_code", "area"]).left_join(size, "household_id")
        hh_full = hh_full.select(
            *[c for c in hh_full.columns if c not in ("size", "household_id_right")],
            size=hh_full["size"].fill_null(0).cast("int64"),
        )
        hh_m = eng.materialise(hh_full)
        eng.release(hh_raw.table)  # the raw rows of households and persons are read: only their metadata stays
        eng.release(p_raw.table)
        members_m = per_person.filter(per_person._id_ok).select("household_id", "id_number")

        # The persons' rejects now: their rows are then freed.
        p_rejects = persons_m.filter(persons_m._reason.notnull())
        ok = persons_m.filter(persons_m._reason.isnull())
        repeated = per_person.filter(per_person._id_ok & (per_person._n > 1)).select(
            "household_id", "id_number", "_first"
        )
        dup_p = ok.join(repeated, ["household_id", "id_number"])
        dup_p = dup_p.filter(dup_p[ROW_COL] != dup_p._first)
        dup_p = dup_p.mutate(_reason=ibis.literal("duplicate_row"), _column=ibis.null("string"))
        cols = [ROW_COL, "_reason", "_column", "_raw_id"]
        p_all = p_rejects.select(*cols).union(dup_p.select(*cols))
        person_rejects = p_all.select(
            source=ibis.literal("persons"),
            file=ibis.literal(p_raw.file),
            row=p_all[ROW_COL].cast("int64"),
            reason=p_all._reason,
            column=p_all._column,
            id_number=p_all._raw_id,
            raw_value=ibis.ifelse(p_all._column == "id_number", p_all._raw_id, ibis.null("string")),
        )
        person_reject_table = eng.to_arrow(person_rejects).cast(REJECT_SCHEMA)
        eng.release(persons_m)  # the persons are no longer needed: only the grouped members are

        # One source at a time: parse once, match the members, collect the rejects, free the parsed rows.
        raws: dict[str, RawTable] = {}
        matched: dict[str, ir.Table] = {}
        reject_tables: list[pa.Table] = [person_reject_table]
        for i, (kind, sf) in enumerate(files.items()):
            report(f"核对 {SOURCE_KINDS[kind].label} checking {sf.path.name}", 2 + i, steps)
            where = f"sources/{sf.path.name}"
            raw = load_raw(eng, sf.path, where)
            raws[kind] = raw
            parsed: list[ir.Table] = []

            def keep(expr: ir.Table, _parsed: list[ir.Table] = parsed) -> ir.Table:
                table = eng.materialise(expr)
                _parsed.append(table)
                return table

            checked = check_source(
                SOURCE_KINDS[kind], raw, ingested_at=ingested_at, where=where, materialise=keep, keep_extra=False
            )
            matched[kind] = eng.materialise(members_m.join(_relevant(kind, checked.usable, as_of), "id_number"))
            if raw.stored_rejects is not None:
                reject_tables.append(raw.stored_rejects)
            if not checked.trusted:
                reject_tables.append(eng.to_arrow(checked.rejects).cast(REJECT_SCHEMA))
            if raw.load_rejects:
                reject_tables.append(load_rejects_table(kind, raw))
            for table in parsed:
                eng.release(table)
            eng.release(raw.table)  # the file's rows (for CSV and Excel, an Arrow table) are no longer needed

        report("规则 applying the rules", steps - 2, steps)
        hits_expr, skipped = build_hits(hh=hh_m, matched=matched, as_of=as_of, has_declared=has_declared)
        if hits_expr is None:
            hits = HIT_SCHEMA.empty_table()
        else:
            hits = eng.to_arrow(hits_expr.order_by("household_id", "id_number", "rule", "source")).cast(HIT_SCHEMA)

        report("汇总拒收行 collecting rejects", steps - 1, steps)
        rejects = pa.concat_tables(reject_tables).sort_by(
            [("source", "ascending"), ("row", "ascending"), ("reason", "ascending")]
        )
        summary = _summary(
            hits=hits,
            rejects=rejects,
            households=int(hh_raw.rows or 0),
            persons=int(p_raw.rows or 0),
            raws=raws,
            p_raw=p_raw,
            hh_raw=hh_raw,
            missing=[k for k in SOURCE_KINDS if k not in files],
            ignored=ignored,
            skipped=skipped,
            used=used,
            as_of=as_of,
            engine=eng.name,
            overrides=overrides,
            params=params,
        )
        summary["elapsed_seconds"] = round(time.perf_counter() - started, 3)
        report("完成 done", steps, steps)
        return VerificationResult(hits=hits, summary=summary, rejects=rejects)


def _summary(
    *,
    hits: pa.Table,
    rejects: pa.Table,
    households: int,
    persons: int,
    raws: Mapping[str, RawTable],
    p_raw: RawTable,
    hh_raw: RawTable,
    missing: list[str],
    ignored: list[str],
    skipped: list[str],
    used: Mapping[str, Any],
    as_of: dt.date,
    engine: str,
    overrides: Mapping[str, object] | None,
    params: ParameterSet,
) -> dict[str, Any]:
    # Counted in Arrow: a million hits through Python lists would take seconds.
    rule_counts = {str(r["values"]): int(r["counts"]) for r in pc.value_counts(hits.column("rule")).to_pylist()}
    by_source: dict[str, Counter[str]] = defaultdict(Counter)
    pairs = rejects.group_by(["source", "reason"]).aggregate([([], "count_all")])
    for row in pairs.to_pylist():
        by_source[row["source"]][row["reason"]] += int(row["count_all"])
    flagged = pc.count_distinct(hits.column("household_id")).as_py() if hits.num_rows else 0
    sources: dict[str, Any] = {}
    for kind, raw in sorted(raws.items()):
        rejected = sum(by_source.get(kind, Counter()).values())
        sources[kind] = {
            "file": raw.file,
            "format": raw.format,
            "encoding": raw.encoding,
            "sha256": raw.sha256,
            "rows": (raw.rows or 0) + len(raw.load_rejects),
            "rejected": rejected,
        }
    return {
        "as_of": as_of.isoformat(),
        "engine": engine,
        "households": households,
        "persons": persons,
        "flagged_households": flagged,
        "hits": hits.num_rows,
        "hits_by_rule": {rule: rule_counts.get(rule, 0) for rule in RULES},
        "rejects": rejects.num_rows,
        "rejects_by_source": {s: dict(sorted(c.items())) for s, c in sorted(by_source.items())},
        "sources": sources,
        "sources_missing": missing,
        "rules_skipped": skipped,
        "files_ignored": ignored,
        "inputs": {
            "households": {"file": hh_raw.file, "sha256": hh_raw.sha256, "encoding": hh_raw.encoding},
            "persons": {"file": p_raw.file, "sha256": p_raw.sha256, "encoding": p_raw.encoding},
        },
        "parameters": {
            "digest": params.digest,
            "overrides": {k: str(v) for k, v in (overrides or {}).items()},
            "used": dict(sorted(used.items())),
        },
    }


def format_money(value: Decimal) -> str:
    return format_decimal(value)
