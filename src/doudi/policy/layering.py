"""Layer operator changes over the YAML parameter set (no ORM: takes plain change records).

An operator value becomes one more dated value in the series of its (region key, area), exactly as if it had
been written in the YAML file, so resolution keeps the rules package's semantics. When the region key had no
series of its own, the new series starts with the history it inherited from its parent chain (values dated
before the change), because a region that has its own values owns its whole history: without the copy, dates
before the change would stop resolving and past decisions could no longer be re-computed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace

from doudi.rules.parameters import DatedValue, Parameter, ParameterSet
from doudi.rules.regions import DEFAULT_KEY, region_chain

ALL_AREAS = "all"


@dataclass(frozen=True)
class ChangeRecord:
    id: int
    path: str
    region_code: str
    area: str
    effective_from: dt.date
    value: str
    reference: str
    note: str = ""


def rules_region_key(code: str) -> str:
    """The key the rules package uses for a 12-digit statistical code: 6 digits down to the county, 9 for a
    township, 12 for a village."""
    if code == DEFAULT_KEY or len(code) != 12:
        return code
    if code[6:] == "000000":
        return code[:6]
    if code[9:] == "000":
        return code[:9]
    return code


def statistical_code(key: str) -> str:
    """The 12-digit core.Region code of a rules region key."""
    return key.ljust(12, "0") if key != DEFAULT_KEY else key


def is_area_keyed(param: Parameter) -> bool:
    return any(area != ALL_AREAS for by_area in param.values.values() for area in by_area)


def _depth(key: str) -> int:
    return 0 if key == DEFAULT_KEY else len(region_chain(key))


def _inherited(param: Parameter, key: str, area: str) -> tuple[DatedValue, ...]:
    own = param.values.get(key, {})
    if area != ALL_AREAS and ALL_AREAS in own:
        return own[ALL_AREAS]
    parents = [] if key == DEFAULT_KEY else region_chain(key)[1:]
    for parent in [*parents, DEFAULT_KEY]:
        by_area = param.values.get(parent)
        if by_area is None:
            continue
        series = by_area.get(area) or by_area.get(ALL_AREAS)
        if series is not None:
            return series
    return ()


def apply_change(param: Parameter, change: ChangeRecord) -> Parameter:
    """`param` with the change's dated value added; raises ValueError naming the problem."""
    area = change.area or ALL_AREAS
    parsed = param.parse(change.value, change.path)
    values = {key: dict(by_area) for key, by_area in param.values.items()}
    by_area = values.setdefault(change.region_code, {})
    series = by_area.get(area)
    if series is None:
        series = tuple(
            v for v in _inherited(param, change.region_code, area) if v.effective_from < change.effective_from
        )
    new = DatedValue(
        effective_from=change.effective_from,
        value=parsed,
        reference=change.reference,
        confirmed=True,
        note=change.note or None,
    )
    kept = tuple(v for v in series if v.effective_from != change.effective_from)
    by_area[area] = tuple(sorted((*kept, new), key=lambda v: v.effective_from))
    return replace(param, values=values)


def apply_changes(base: ParameterSet, changes: Iterable[ChangeRecord]) -> ParameterSet:
    ordered = sorted(changes, key=lambda c: (_depth(c.region_code), c.effective_from, c.id))
    if not ordered:
        return base
    params = dict(base.parameters)
    digest = hashlib.sha256(base.digest.encode())
    for change in ordered:
        params[change.path] = apply_change(params[change.path], change)
        digest.update(f"\0{change.id}".encode())
    return replace(base, parameters=params, digest=digest.hexdigest())
