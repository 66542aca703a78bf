"""Variables and programs (OpenFisca's shape): one small named variable per legal concept.

A variable belongs to an entity (household, member, income, expense, asset) and is either
* a **parameter** (a resolved parameter value, joined onto the household row),
* a **formula**: ``f(table) -> ibis expression`` over columns of its entity's table, or
* an **aggregate** of another entity's rows (e.g. the sum of members' increments per household).

Each declares the variables it ``uses``; the engine (:mod:`doudi.rules.engine`) adds them to the right
table first, broadcasting ancestors' values (household → member → income) by a join.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import ibis.expr.types as ir

from .schema import ANCESTORS, Entity

DType = Literal["money", "rate", "amount", "int", "bool", "str", "date", "list_str", "list_rate"]
AggHow = Literal["sum", "count", "any", "all", "max", "min"]
Formula = Callable[[ir.Table], ir.Value]


@dataclass(frozen=True)
class Aggregation:
    source: Entity
    how: AggHow
    value: Formula | None = None
    where: Formula | None = None


@dataclass(frozen=True)
class Variable:
    name: str
    program: str
    entity: Entity
    dtype: DType
    label: str
    reference: str
    uses: tuple[str, ...] = ()
    formula: Formula | None = None
    aggregate: Aggregation | None = None
    parameter: str | None = None
    parameter_area: str | None = None
    description: str = ""

    @property
    def kind(self) -> str:
        if self.parameter is not None:
            return "parameter"
        return "aggregate" if self.aggregate is not None else "formula"


@dataclass
class Program:
    """A benefit program: its variables and which of them make up the determination."""

    name: str
    label: str
    reference: str
    variables: dict[str, Variable] = field(default_factory=dict)
    eligible: str = ""
    amount: str = ""
    tests: tuple[str, ...] = ()
    summary: dict[str, str] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    required_member_fields: tuple[str, ...] = ()
    request_fields: tuple[str, ...] = ()

    def _add(self, var: Variable) -> None:
        if var.name in self.variables:
            raise ValueError(f"variable {var.name} defined twice")
        if not var.name.startswith(self.name + "_"):
            raise ValueError(f"variable {var.name} must be named {self.name}_<concept>")
        self.variables[var.name] = var

    def parameter(
        self,
        name: str,
        path: str,
        *,
        dtype: DType,
        label: str,
        area: str | None = None,
    ) -> None:
        """Expose parameter ``path`` as household-level variable ``name``.

        ``area`` forces the area used to resolve it (e.g. temporary assistance uses the urban standard).
        """
        self._add(
            Variable(
                name=name,
                program=self.name,
                entity="household",
                dtype=dtype,
                label=label,
                reference=f"parameter {path}",
                parameter=path,
                parameter_area=area,
            )
        )

    def variable(
        self,
        *,
        entity: Entity,
        dtype: DType,
        label: str,
        reference: str,
        uses: Iterable[str] = (),
        description: str = "",
    ) -> Callable[[Formula], Formula]:
        """Decorator registering a formula variable named after the function."""

        def register(formula: Formula) -> Formula:
            self._add(
                Variable(
                    name=formula.__name__,
                    program=self.name,
                    entity=entity,
                    dtype=dtype,
                    label=label,
                    reference=reference,
                    uses=tuple(uses),
                    formula=formula,
                    description=description or (formula.__doc__ or "").strip(),
                )
            )
            return formula

        return register

    def aggregate(
        self,
        name: str,
        *,
        entity: Entity,
        source: Entity,
        how: AggHow,
        dtype: DType,
        label: str,
        reference: str,
        value: Formula | None = None,
        where: Formula | None = None,
        uses: Iterable[str] = (),
        description: str = "",
    ) -> None:
        if entity not in ANCESTORS[source]:
            raise ValueError(f"{name}: cannot aggregate {source} rows to {entity}")
        if how not in ("count",) and value is None:
            raise ValueError(f"{name}: aggregate {how} needs a value")
        self._add(
            Variable(
                name=name,
                program=self.name,
                entity=entity,
                dtype=dtype,
                label=label,
                reference=reference,
                uses=tuple(uses),
                aggregate=Aggregation(source, how, value, where),
                description=description,
            )
        )

    def parameter_variables(self) -> list[Variable]:
        return [v for v in self.variables.values() if v.parameter is not None]

    def household_variables(self) -> list[Variable]:
        return [v for v in self.variables.values() if v.entity == "household"]

    def member_variables(self) -> list[Variable]:
        return [v for v in self.variables.values() if v.entity == "member"]
