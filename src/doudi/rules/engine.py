"""Build one Ibis expression that computes a program's variables for every household in the input tables.

The same builder serves one case (tables of one household, executed on in-memory DuckDB) and a whole
caseload (DuckDB or PySpark).  Variables are scheduled in rounds, in dependency order:

1. every formula variable whose inputs are ready on its entity's table is added in one ``mutate``;
2. every ready aggregate (e.g. members → household sums) becomes one ``group_by(keys).aggregate`` per
   (source, target) pair, left-joined back to the target (empty groups become 0 / false);
3. values needed by a descendant entity (a household value in a member formula) are broadcast by one
   join per (ancestor, descendant) pair.

Rounds keep the generated SQL shallow (its depth is the dependency depth, not the number of variables).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

import ibis
import ibis.expr.types as ir

from .exprs import DTYPES, to_type
from .model import Program, Variable
from .schema import ANCESTORS, ENTITIES, ENTITY_KEYS, TABLE_OF, Entity

PARAM_KEYS = ("region_code", "area")


class EngineError(RuntimeError):
    """A programming error in a variable definition (unknown variable, bad entity use, cycle)."""


def _fill(how: str, dtype: str) -> Any:
    if how in ("sum", "count"):
        return to_type(0, dtype)
    if how == "any":
        return ibis.literal(False)
    if how == "all":
        return ibis.literal(True)
    return None


class Builder:
    def __init__(self, program: Program, tables: Mapping[str, ir.Table], params: ir.Table) -> None:
        self.program = program
        # Parameters are resolved per (region_code, area); the caller guarantees a row for every key.
        h = tables["households"].join(params, list(PARAM_KEYS))
        self.frames: dict[Entity, ir.Table] = {"household": h}
        for entity in ENTITIES[1:]:
            self.frames[entity] = tables[TABLE_OF[entity]]
        self.available: dict[Entity, set[str]] = {e: set(t.columns) for e, t in self.frames.items()}
        self.household_columns = frozenset(h.columns) - {"household_id"}
        for var in program.variables.values():
            for name in var.uses:
                if name not in program.variables and name not in self.household_columns:
                    raise EngineError(f"{var.name} uses unknown variable or column {name!r}")
        self._build()

    # -- public -------------------------------------------------------------------------------------
    def household_table(self, names: Iterable[str], keep: Iterable[str] = ()) -> ir.Table:
        return self.frames["household"].select("household_id", *keep, *names)

    def member_table(self, names: Iterable[str]) -> ir.Table:
        return self.frames["member"].select("household_id", "member_id", *names)

    def entity_table(self, entity: Entity, names: Iterable[str], keys: Iterable[str]) -> ir.Table:
        return self.frames[entity].select(*keys, *names)

    # -- scheduling ---------------------------------------------------------------------------------
    def _entity_of(self, name: str) -> Entity:
        if name in self.household_columns:
            return "household"
        return self.program.variables[name].entity

    def _home(self, var: Variable) -> Entity:
        """The table a variable's inputs are read from."""
        return var.aggregate.source if var.aggregate is not None else var.entity

    def _build(self) -> None:
        pending = [v for v in self.program.variables.values() if v.parameter is None]
        while pending:
            progressed = False
            # 1. formulas, one mutate per entity
            for entity in ENTITIES:
                ready = [
                    v
                    for v in pending
                    if v.formula is not None
                    and v.entity == entity
                    and all(u in self.available[entity] for u in v.uses)
                ]
                if ready:
                    table = self.frames[entity]
                    exprs = {v.name: to_type(v.formula(table), v.dtype) for v in ready if v.formula}
                    self.frames[entity] = table.mutate(**exprs)
                    self.available[entity].update(exprs)
                    pending = [v for v in pending if v not in ready]
                    progressed = True
            # 2. aggregates, one group-by per (source, target)
            groups: dict[tuple[Entity, Entity], list[Variable]] = {}
            for v in pending:
                if v.aggregate is not None and all(u in self.available[v.aggregate.source] for u in v.uses):
                    groups.setdefault((v.aggregate.source, v.entity), []).append(v)
            for (source, target), batch in groups.items():
                self._aggregate(source, target, batch)
                pending = [v for v in pending if v not in batch]
                progressed = True
            # 3. broadcasts of ready ancestor values, one join per (ancestor, descendant)
            wanted: dict[tuple[Entity, Entity], set[str]] = {}
            for v in pending:
                home = self._home(v)
                for u in v.uses:
                    if u in self.available[home]:
                        continue
                    source = self._entity_of(u)
                    if source == home:
                        continue
                    if source not in ANCESTORS[home]:
                        raise EngineError(f"{v.name} ({home}) cannot use {u} ({source}) without aggregation")
                    if u in self.available[source]:
                        wanted.setdefault((source, home), set()).add(u)
            for (source, target), names in wanted.items():
                self._broadcast(sorted(names), source, target)
                progressed = True
            if not progressed:
                raise EngineError(f"circular or unsatisfiable dependencies: {[v.name for v in pending]}")

    def _broadcast(self, names: list[str], source: Entity, target: Entity) -> None:
        keys = ENTITY_KEYS[source]
        src = self.frames[source]
        right = src.select(*(src[k].name(f"_k_{k}") for k in keys), *names)
        left = self.frames[target]
        joined = left.left_join(right, [left[k] == right[f"_k_{k}"] for k in keys])
        self.frames[target] = joined.select(*left.columns, *names)
        self.available[target].update(names)

    def _aggregate(self, source: Entity, target: Entity, batch: list[Variable]) -> None:
        src = self.frames[source]
        keys = ENTITY_KEYS[target]
        metrics: dict[str, ir.Scalar] = {}
        for item in batch:
            a = item.aggregate
            assert a is not None
            where = cast(ir.BooleanValue, a.where(src)) if a.where is not None else None
            if a.how == "count":
                cond = where if where is not None else ibis.literal(True)
                metrics[item.name] = ibis.ifelse(cond, 1, 0).cast("int64").sum()
                continue
            assert a.value is not None
            value = a.value(src)
            if a.how == "sum":
                metrics[item.name] = cast(ir.NumericValue, to_type(value, item.dtype)).sum(where=where)
            elif a.how == "any":
                metrics[item.name] = cast(ir.BooleanValue, value).any(where=where)
            elif a.how == "all":
                metrics[item.name] = cast(ir.BooleanValue, value).all(where=where)
            elif a.how == "max":
                metrics[item.name] = cast(ir.NumericValue, value).max(where=where)
            else:
                metrics[item.name] = cast(ir.NumericValue, value).min(where=where)
        grouped = src.group_by([src[k].name(f"_k_{k}") for k in keys]).aggregate(**metrics)
        left = self.frames[target]
        joined = left.left_join(grouped, [left[k] == grouped[f"_k_{k}"] for k in keys])
        filled = {}
        for item in batch:
            a = item.aggregate
            assert a is not None
            default = _fill(a.how, item.dtype)
            col = joined[item.name]
            filled[item.name] = to_type(
                col.fill_null(default) if default is not None else col, item.dtype, force=True
            )
        self.frames[target] = joined.select(*left.columns, **filled)
        self.available[target].update(filled)


def parameter_columns(program: Program) -> dict[str, Any]:
    """Ibis dtypes of the program's parameter table (excluding the key columns)."""
    return {v.name: DTYPES[v.dtype] for v in program.parameter_variables()}
