"""Policy simulation: a caseload evaluated with the baseline parameters and with changed ones, compared.

Set-based: the program's caseload SQL (compiled once from the same Ibis expressions as
:func:`~doudi.rules.evaluation.evaluate_caseload`, cached like the single-case statement) runs twice on one
in-memory DuckDB connection — once per parameter table — and one ``GROUP BY GROUPING SETS`` query compares the
two results.  Used by ``doudi simulate`` and by the policy simulation page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa

from .errors import RulesInputError
from .evaluation import _normalise_arrow, _params_name, caseload_connection, caseload_sql, resolve_parameters
from .parameters import ParameterSet, format_decimal
from .programs import get_program
from .regions import validate_region
from .schema import TABLE_NAMES, arrow_schema

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class RegionResult:
    """Monthly figures of one region (``region_code`` None: the total)."""

    region_code: str | None
    households: int
    baseline_eligible: int
    reform_eligible: int
    baseline_cost: Decimal
    reform_cost: Decimal
    gaining: int
    losing: int
    unchanged: int
    newly_eligible: int
    no_longer_eligible: int

    @property
    def change(self) -> Decimal:
        return self.reform_cost - self.baseline_cost

    def to_json(self) -> dict[str, Any]:
        return {
            "region_code": self.region_code,
            "households": self.households,
            "baseline_eligible": self.baseline_eligible,
            "reform_eligible": self.reform_eligible,
            "baseline_cost": format_decimal(self.baseline_cost),
            "reform_cost": format_decimal(self.reform_cost),
            "change": format_decimal(self.change),
            "gaining": self.gaining,
            "losing": self.losing,
            "unchanged": self.unchanged,
            "newly_eligible": self.newly_eligible,
            "no_longer_eligible": self.no_longer_eligible,
        }


@dataclass(frozen=True)
class SimulationReport:
    program: str
    as_of: dt.date
    by_region: tuple[RegionResult, ...]
    total: RegionResult

    def to_json(self) -> dict[str, Any]:
        return {
            "program": self.program,
            "as_of": self.as_of.isoformat(),
            "by_region": [r.to_json() for r in self.by_region],
            "total": self.total.to_json(),
        }


def _keys(households: pa.Table) -> list[tuple[str, str]]:
    grouped = households.select(["region_code", "area"]).group_by(["region_code", "area"]).aggregate([])
    keys = list(zip(grouped["region_code"].to_pylist(), grouped["area"].to_pylist(), strict=True))
    for region, area in keys:
        validate_region(region, "households.region_code")
        if area not in ("urban", "rural"):
            raise RulesInputError("households.area", f"must be urban or rural, got {area!r}")
    return keys


def simulate_caseload(
    program: str,
    tables: Mapping[str, pa.Table],
    as_of: dt.date,
    baseline: ParameterSet,
    reform: ParameterSet,
    *,
    region_digits: int | None = None,
) -> SimulationReport:
    """Evaluate ``tables`` (pyarrow, as for ``evaluate_caseload``) at ``as_of`` under ``baseline`` and under
    ``reform`` and report monthly cost, households gaining/losing/unchanged and newly (in)eligible, in total and
    by region: the household's ``region_code``, or its first ``region_digits`` digits (6 = county)."""
    prog = get_program(program)
    if not isinstance(as_of, dt.date):
        raise RulesInputError("as_of", f"must be a date, got {as_of!r}")
    unknown = set(tables) - set(TABLE_NAMES)
    if unknown:
        raise RulesInputError("tables", f"unknown tables {sorted(unknown)}")
    if "households" not in tables or "members" not in tables:
        raise RulesInputError("tables", "households and members are required")
    arrow = {
        name: _normalise_arrow(name, tables[name]) if name in tables else arrow_schema(name).empty_table()
        for name in TABLE_NAMES
    }
    keys = _keys(arrow["households"])
    base_params, _ = resolve_parameters(prog, baseline, keys, as_of)
    reform_params, _ = resolve_parameters(prog, reform, keys, as_of)

    sql = caseload_sql(prog.name)
    eligible, amount = prog.eligible, prog.amount
    con = caseload_connection(prog, arrow, as_of)
    try:
        params = _params_name(prog)
        for scenario, param_table in (("baseline", base_params), ("reform", reform_params)):
            con.register(params, param_table)
            con.execute(
                f"CREATE TEMP TABLE {scenario} AS SELECT household_id, region_code, "  # noqa: S608 - own names
                f'"{eligible}" AS eligible, "{amount}" AS amount FROM ({sql}) q'
            )
            con.unregister(params)
        group = "b.region_code" if region_digits is None else f"left(b.region_code, {int(region_digits)})"
        rows = con.sql(
            f"""
            SELECT {group} AS region,
                   count(*) AS households,
                   count(*) FILTER (WHERE b.eligible) AS baseline_eligible,
                   count(*) FILTER (WHERE r.eligible) AS reform_eligible,
                   sum(b.amount) AS baseline_cost,
                   sum(r.amount) AS reform_cost,
                   count(*) FILTER (WHERE r.amount > b.amount) AS gaining,
                   count(*) FILTER (WHERE r.amount < b.amount) AS losing,
                   count(*) FILTER (WHERE r.eligible AND NOT b.eligible) AS newly_eligible,
                   count(*) FILTER (WHERE b.eligible AND NOT r.eligible) AS no_longer_eligible
            FROM baseline b JOIN reform r USING (household_id)
            GROUP BY GROUPING SETS (({group}), ())
            ORDER BY region NULLS LAST
            """  # noqa: S608 - no user input in the statement
        ).fetchall()
    finally:
        con.close()
    columns = (
        "region",
        "households",
        "baseline_eligible",
        "reform_eligible",
        "baseline_cost",
        "reform_cost",
        "gaining",
        "losing",
        "newly_eligible",
        "no_longer_eligible",
    )
    results = []
    for values in rows:
        row = dict(zip(columns, values, strict=True))
        results.append(
            RegionResult(
                region_code=row["region"],
                households=int(row["households"]),
                baseline_eligible=int(row["baseline_eligible"]),
                reform_eligible=int(row["reform_eligible"]),
                baseline_cost=Decimal(row["baseline_cost"] or ZERO),
                reform_cost=Decimal(row["reform_cost"] or ZERO),
                gaining=int(row["gaining"]),
                losing=int(row["losing"]),
                unchanged=int(row["households"]) - int(row["gaining"]) - int(row["losing"]),
                newly_eligible=int(row["newly_eligible"]),
                no_longer_eligible=int(row["no_longer_eligible"]),
            )
        )
    total = next((r for r in results if r.region_code is None), None)
    if total is None:  # an empty caseload: GROUPING SETS gives no total row without input rows
        total = RegionResult(None, 0, 0, 0, ZERO, ZERO, 0, 0, 0, 0, 0)
    by_region = tuple(r for r in results if r.region_code is not None)
    return SimulationReport(program=prog.name, as_of=as_of, by_region=by_region, total=total)


__all__ = ["RegionResult", "SimulationReport", "simulate_caseload"]
