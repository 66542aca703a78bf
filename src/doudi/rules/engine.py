"""Build one Ibis expression that computes a program's variables for every household in the input tables.

The same builder serves one case (tables of one household, executed on in-memory DuckDB) and a whole
caseload (DuckDB or PySpark).  Variables are scheduled in rounds, in dependency order:

1. every formula variable whose inputs are ready on its entity's table is added in one ``mutate``;
2. every ready aggregate (e.g. members → household sums) becomes one ``group_by(keys).aggregate`` per
   (source, target) pair, left-joined back to the target (empty groups become 0 / false);
3. values needed by a descendant entity (a household value in a member formula) are broadcast by one
   join per (ancestor, descendant) pair.

Rounds keep the generated SQL shallow (its depth is the dependency depth, not the number of variables).

Frames carry only what is still needed (the generated SQL materialises shared subqueries and builds hash
tables with every carried column): input columns no formula reads are dropped up front (the columns each
variable reads are recorded once per program by a first build, see :func:`_reads`), and values broadcast to
a descendant entity are dropped once no pending variable of that entity uses them.
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


# Columns never dropped from an entity's frame (keys of the entity tables and of the traced row tables).
_KEEP = frozenset({"household_id", "member_id", "row_id", "region_code", "area", "as_of"})
ALL = "*"  # recorded when a formula reads the table other than by column name (then nothing is pruned)


class _Recorder:
    """A table proxy that records the column names a formula reads (and delegates everything)."""

    def __init__(self, table: ir.Table, seen: set[str]) -> None:
        self._table = table
        self._seen = seen

    def __getattr__(self, name: str) -> Any:
        self._seen.add(name if name in self._table.columns else ALL)
        return getattr(self._table, name)

    def __getitem__(self, name: Any) -> Any:
        self._seen.add(name if isinstance(name, str) and name in self._table.columns else ALL)
        return self._table[name]


# Per program (and input columns): the names each variable's formula / aggregate reads.
_READS: dict[tuple[Any, ...], dict[str, frozenset[str]]] = {}


def _reads(program: Program, tables: Mapping[str, ir.Table], params: ir.Table) -> dict[str, frozenset[str]]:
    columns = [tuple(tables[TABLE_OF[e]].columns) for e in ENTITIES]
    key = (program.name, id(program), tuple(program.variables), (*columns, tuple(params.columns)))
    reads = _READS.get(key)
    if reads is None:
        recording = Builder(program, tables, params, reads=None)
        reads = {name: frozenset(seen) for name, seen in recording.recorded.items()}
        _READS[key] = reads
    return reads


class Builder:
    def __init__(
        self,
        program: Program,
        tables: Mapping[str, ir.Table],
        params: ir.Table,
        reads: Mapping[str, frozenset[str]] | bool | None = True,
    ) -> None:
        """``reads``: the names each variable reads (``True``: recorded by a first build, cached per program;
        ``None``: record them in :attr:`recorded` and prune nothing)."""
        self.program = program
        # Parameters are resolved per (region_code, area); the caller guarantees a row for every key.
        h = tables["households"].join(params, list(PARAM_KEYS))
        self.household_columns = frozenset(h.columns) - {"household_id"}
        for var in program.variables.values():
            for name in var.uses:
                if name not in program.variables and name not in self.household_columns:
                    raise EngineError(f"{var.name} uses unknown variable or column {name!r}")
        self.recorded: dict[str, set[str]] = {}
        self.reads: Mapping[str, frozenset[str]] | None = (
            _reads(program, tables, params) if reads is True else (reads if isinstance(reads, Mapping) else None)
        )
        self.frames: dict[Entity, ir.Table] = {"household": h}
        for entity in ENTITIES[1:]:
            self.frames[entity] = tables[TABLE_OF[entity]]
        self.inputs = {e: frozenset(t.columns) for e, t in self.frames.items()}
        if self.reads is not None:
            self._prune_inputs()
        self.available: dict[Entity, set[str]] = {e: set(t.columns) for e, t in self.frames.items()}
        self._build()

    def _needs(self, var: Variable) -> frozenset[str]:
        assert self.reads is not None
        return frozenset(var.uses) | self.reads.get(var.name, frozenset({ALL}))

    def _prune_inputs(self) -> None:
        """Drop the input columns (households: also parameters) that no variable reads."""
        assert self.reads is not None
        read: dict[Entity, set[str]] = {e: set() for e in ENTITIES}
        for var in self.program.variables.values():
            if var.parameter is not None:
                read["household"].add(var.name)  # parameters are household columns (and trace columns)
                continue
            names = self._needs(var)
            if ALL in names:
                return
            read[self._home(var)].update(names)
            read[var.entity].update(names)
            read["household"].update(names)  # household values read anywhere are broadcast from there
        for entity, frame in self.frames.items():
            keep = [c for c in frame.columns if c in _KEEP or c in read[entity]]
            if len(keep) < len(frame.columns):
                self.frames[entity] = frame.select(*keep)

    def _record(self, var: Variable, table: ir.Table) -> Any:
        if self.reads is not None:
            return table
        return _Recorder(table, self.recorded.setdefault(var.name, set()))

    def _prune_broadcasts(self, pending: list[Variable]) -> None:
        """Drop values broadcast to an entity once no pending variable read from that entity needs them."""
        if self.reads is None:
            return
        needed: dict[Entity, set[str]] = {e: set() for e in ENTITIES}
        for var in pending:
            needed[self._home(var)].update(self._needs(var))
        for entity in ENTITIES[1:]:
            if ALL in needed[entity]:
                continue
            frame = self.frames[entity]
            drop = [
                c
                for c in frame.columns
                if c not in _KEEP
                and c not in self.inputs[entity]
                and c not in needed[entity]
                and (c in self.household_columns or c in self.program.variables)
                and self._entity_of(c) != entity
            ]
            if drop:
                self.frames[entity] = frame.drop(*drop)
                self.available[entity].difference_update(drop)

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
                    if v.formula is not None and v.entity == entity and all(u in self.available[entity] for u in v.uses)
                ]
                if ready:
                    table = self.frames[entity]
                    exprs = {v.name: to_type(v.formula(self._record(v, table)), v.dtype) for v in ready if v.formula}
                    self.frames[entity] = table.mutate(**exprs)
                    self.available[entity].update(exprs)
                    pending = [v for v in pending if v not in ready]
                    progressed = True
            # 2. aggregates, one group-by per (source, target); a pair with aggregates not ready yet waits
            #    for them (one group-by and one join instead of several) unless nothing else progresses
            groups: dict[tuple[Entity, Entity], list[Variable]] = {}
            waiting: set[tuple[Entity, Entity]] = set()
            for v in pending:
                if v.aggregate is None:
                    continue
                pair = (v.aggregate.source, v.entity)
                if all(u in self.available[v.aggregate.source] for u in v.uses):
                    groups.setdefault(pair, []).append(v)
                else:
                    waiting.add(pair)
            deferred = {pair: batch for pair, batch in groups.items() if pair in waiting}
            for (source, target), batch in groups.items():
                if (source, target) in deferred:
                    continue
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
            if not progressed and deferred:
                for (source, target), batch in deferred.items():
                    self._aggregate(source, target, batch)
                    pending = [v for v in pending if v not in batch]
                progressed = True
            if not progressed:
                raise EngineError(f"circular or unsatisfiable dependencies: {[v.name for v in pending]}")
            self._prune_broadcasts(pending)

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
            rec = self._record(item, src)
            where = cast(ir.BooleanValue, a.where(rec)) if a.where is not None else None
            if a.how == "count":
                cond = where if where is not None else ibis.literal(True)
                metrics[item.name] = ibis.ifelse(cond, 1, 0).cast("int64").sum()
                continue
            assert a.value is not None
            value = a.value(rec)
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
            filled[item.name] = to_type(col.fill_null(default) if default is not None else col, item.dtype, force=True)
        self.frames[target] = joined.select(*left.columns, **filled)
        self.available[target].update(filled)


def parameter_columns(program: Program) -> dict[str, Any]:
    """Ibis dtypes of the program's parameter table (excluding the key columns)."""
    return {v.name: DTYPES[v.dtype] for v in program.parameter_variables()}
