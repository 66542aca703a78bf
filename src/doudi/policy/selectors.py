"""Reads of policy parameters: the YAML set with operator changes applied, and rows for the pages.

Parameters are public policy, so every authenticated role may read them; the scope picks the region whose
current values are shown.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from doudi.core.errors import NotFound
from doudi.core.scope import Scope
from doudi.policy.layering import ALL_AREAS, ChangeRecord, apply_changes, is_area_keyed, rules_region_key
from doudi.policy.models import ChangeStatus, ParameterValueChange
from doudi.rules.errors import ParameterNotFound
from doudi.rules.parameters import Parameter, ParameterSet, format_decimal, load_parameters

_cache: dict[tuple[Any, ...], ParameterSet] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _records(queryset: Any) -> list[ChangeRecord]:
    return [
        ChangeRecord(
            id=c.pk,
            path=c.path,
            region_code=c.region_code,
            area=c.area,
            effective_from=c.effective_from,
            value=c.value,
            reference=c.reference,
            note=c.reason,
        )
        for c in queryset
    ]


def current_parameter_set(as_of: dt.datetime | None = None) -> ParameterSet:
    """The YAML parameters with every active operator change applied.

    `as_of` gives the set as recorded at that moment (changes created later are left out), for re-computing a
    past decision with the values that were known when it was taken.
    """
    base = load_parameters()
    active = ParameterValueChange.objects.filter(status=ChangeStatus.ACTIVE)
    if as_of is not None:
        # A change withdrawn after `as_of` was still part of the set at that moment.
        then = ParameterValueChange.objects.filter(created_at__lte=as_of).filter(
            Q(status=ChangeStatus.ACTIVE) | Q(withdrawn_at__gt=as_of)
        )
        return apply_changes(base, _records(then))
    if connection.in_atomic_block:
        # Uncommitted rows may be rolled back and their ids reused (SQLite): never cache what may not last.
        return apply_changes(base, _records(active))
    # Keyed by the newest id and the active count, so a change or withdrawal in another process is seen too.
    stats = ParameterValueChange.objects.aggregate(
        last=Max("id"), active=Count("id", filter=Q(status=ChangeStatus.ACTIVE))
    )
    key = (base.digest, stats["last"], stats["active"])
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    result = apply_changes(base, _records(active))
    with _lock:
        _cache.clear()
        _cache[key] = result
    return result


def display_value(value: object) -> str:
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, bool):
        return str(_("是") if value else _("否"))
    if isinstance(value, list):
        return ", ".join(display_value(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class CurrentValue:
    area: str  # "" when the parameter is not area-keyed
    value: str
    effective_from: dt.date | None
    reference: str
    confirmed: bool
    region_key: str | None


@dataclass(frozen=True)
class ParameterRow:
    path: str
    description: str
    unit: str
    type: str
    reference: str
    confirmed: bool
    area_keyed: bool
    current: list[CurrentValue]
    changes: list[ParameterValueChange]

    @property
    def all_confirmed(self) -> bool:
        return self.confirmed and all(v.confirmed for v in self.current)


def _current(pset: ParameterSet, param: Parameter, region_key: str, today: dt.date) -> list[CurrentValue]:
    areas = ["urban", "rural"] if is_area_keyed(param) else [""]
    out = []
    for area in areas:
        try:
            resolved = pset.get(param.path, region_key, area or "urban", today)
        except ParameterNotFound:
            continue
        out.append(
            CurrentValue(
                area=area,
                value=display_value(resolved.value),
                effective_from=resolved.effective_from,
                reference=resolved.reference,
                confirmed=resolved.confirmed,
                region_key=resolved.region_key,
            )
        )
    return out


def _scope_key(scope: Scope) -> str:
    return rules_region_key(scope.region_code)


def parameter_rows(scope: Scope) -> list[ParameterRow]:
    """Every parameter with its value in effect today for the scope's region, and the operator history."""
    pset = current_parameter_set()
    today = timezone.localdate()
    key = _scope_key(scope)
    history: dict[str, list[ParameterValueChange]] = {}
    for change in ParameterValueChange.objects.order_by("effective_from", "id"):
        history.setdefault(change.path, []).append(change)
    return [
        ParameterRow(
            path=param.path,
            description=param.description,
            unit=param.unit,
            type=param.type,
            reference=param.reference,
            confirmed=param.confirmed,
            area_keyed=is_area_keyed(param),
            current=_current(pset, param, key, today),
            changes=history.get(param.path, []),
        )
        for param in pset.list()
    ]


@dataclass(frozen=True)
class YamlValue:
    region_key: str
    area: str
    effective_from: dt.date
    value: str
    reference: str
    confirmed: bool
    note: str


@dataclass(frozen=True)
class ParameterDetail:
    row: ParameterRow
    yaml_values: list[YamlValue]


def parameter_detail(scope: Scope, path: str) -> ParameterDetail:
    base = load_parameters()
    if path not in base:
        raise NotFound("没有这个参数")
    pset = current_parameter_set()
    param = pset.parameter(path)
    row = ParameterRow(
        path=param.path,
        description=param.description,
        unit=param.unit,
        type=param.type,
        reference=param.reference,
        confirmed=param.confirmed,
        area_keyed=is_area_keyed(param),
        current=_current(pset, param, _scope_key(scope), timezone.localdate()),
        changes=list(ParameterValueChange.objects.filter(path=path).order_by("effective_from", "id")),
    )
    yaml_values = [
        YamlValue(
            region_key=key,
            area="" if area == ALL_AREAS else area,
            effective_from=v.effective_from,
            value=display_value(v.value),
            reference=v.reference,
            confirmed=v.confirmed,
            note=v.note or "",
        )
        for key, by_area in base.parameter(path).values.items()
        for area, series in by_area.items()
        for v in series
    ]
    return ParameterDetail(row=row, yaml_values=yaml_values)


def parameter_value_change_get(scope: Scope, change_id: int) -> ParameterValueChange:
    try:
        return ParameterValueChange.objects.get(pk=change_id)
    except ParameterValueChange.DoesNotExist:
        raise NotFound() from None
