"""Parameters as data: dated, region-keyed values loaded from the YAML files in this directory.

A file ``parameters/dibao/standard.yaml`` defines the parameter ``dibao.standard``::

    description: 最低生活保障标准 / dibao standard
    unit: CNY per person per month
    type: money            # money | rate | int | bool | str | list_str | list_rate
    reference: 琼府〔2015〕54号 ...
    confirmed: true        # default for values that do not say otherwise
    values:
      "460000":            # region code (string), or "default"
        urban:             # optional area level: urban / rural
          2015-07-01: 420
          2023-09-01: {value: 690, confirmed: false, reference: "...", note: "..."}

Resolution (``ParameterSet.get``): walk the region chain (exact code → county → city → province, see
``doudi.rules.regions``) then ``default``; the first key that has values for the area (or area-independent
values) wins, and the value in effect at ``as_of`` is the latest one dated on or before it.  A region
that has its own values owns its whole history: a date before its first value is an error
(:class:`ParameterNotFound`), never a silent fall back to the parent's value.
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import yaml

from ..errors import ParameterFileError, ParameterNotFound, RulesInputError
from ..regions import DEFAULT_KEY, region_chain

PARAMETER_DIR = Path(__file__).parent

ParamType = Literal["money", "rate", "int", "bool", "str", "list_str", "list_rate"]
PARAM_TYPES: tuple[str, ...] = ("money", "rate", "int", "bool", "str", "list_str", "list_rate")
AREAS = ("urban", "rural")
ALL_AREAS = "all"
# Money carries at most 2 decimal places and rates at most 4, so every product money × rate is exact at
# the 6 decimal places used for intermediate amounts (see docs/rules.md, "Arithmetic and rounding").
MONEY_PLACES = 2
RATE_PLACES = 4

ParamScalar = Decimal | int | str | bool
ParamValueType = ParamScalar | list[str] | list[Decimal]


# The libyaml parser (same safe constructors and resolver) loads the ~70 files several times faster, which
# matters for `doudi assess` start-up; pure Python is the fallback when PyYAML was built without libyaml.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DecimalLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """YAML loader that never produces floats: ``0.3`` becomes ``Decimal("0.3")``."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    assert isinstance(node, yaml.ScalarNode)
    text = str(loader.construct_scalar(node)).replace("_", "")
    return Decimal(text)


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def load_yaml(text: str) -> Any:
    """Parse YAML with Decimal floats (used for parameter files and YAML tests)."""
    return yaml.load(text, Loader=_DecimalLoader)  # noqa: S506 - SafeLoader subclass


@dataclass(frozen=True)
class DatedValue:
    effective_from: dt.date
    value: ParamValueType
    reference: str
    confirmed: bool
    note: str | None = None


@dataclass(frozen=True)
class ParameterValue:
    """A resolved parameter value and where it came from."""

    path: str
    value: ParamValueType
    effective_from: dt.date | None
    reference: str
    confirmed: bool
    region_key: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "value": json_value(self.value),
            "effective_from": self.effective_from.isoformat() if self.effective_from else None,
            "reference": self.reference,
            "confirmed": self.confirmed,
            "region_key": self.region_key,
            "note": self.note,
        }


@dataclass(frozen=True)
class Parameter:
    path: str
    description: str
    unit: str
    type: ParamType
    reference: str
    confirmed: bool
    # region key -> area key ("urban"/"rural"/"all") -> values sorted by date
    values: Mapping[str, Mapping[str, tuple[DatedValue, ...]]]
    source: str = ""

    def resolve(self, region_code: str, area: str, as_of: dt.date) -> ParameterValue:
        for key in [*region_chain(region_code), DEFAULT_KEY]:
            by_area = self.values.get(key)
            if by_area is None:
                continue
            series = by_area.get(area) or by_area.get(ALL_AREAS)
            if series is None:
                continue
            in_effect = [v for v in series if v.effective_from <= as_of]
            if not in_effect:
                raise ParameterNotFound(
                    self.path,
                    f"no value in effect on {as_of.isoformat()} for region {key} ({area}); "
                    f"the earliest value is dated {series[0].effective_from.isoformat()}",
                )
            chosen = in_effect[-1]
            return ParameterValue(
                path=self.path,
                value=chosen.value,
                effective_from=chosen.effective_from,
                reference=chosen.reference,
                confirmed=chosen.confirmed,
                region_key=key,
                note=chosen.note,
            )
        raise ParameterNotFound(self.path, f"no value for region {region_code} ({area}) or any parent region")

    def parse(self, raw: object, where: str) -> ParamValueType:
        return parse_value(self.type, raw, where)


def json_value(value: object) -> Any:
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def format_decimal(value: Decimal) -> str:
    """Format a Decimal: at least 2 decimal places, no trailing zeros beyond that, never exponent form."""
    if value == value.quantize(Decimal("0.01")):
        return f"{value.quantize(Decimal('0.01')):f}"
    return f"{value.normalize():f}"


def _to_decimal(raw: object, where: str, places: int) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | str | Decimal):
        raise ValueError(f"{where}: expected a number, got {raw!r}")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError(f"{where}: not a decimal number: {raw!r}") from None
    if not value.is_finite():
        raise ValueError(f"{where}: not a finite number: {raw!r}")
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise ValueError(f"{where}: at most {places} decimal places allowed, got {raw!r}")
    return value


def parse_value(ptype: str, raw: object, where: str) -> ParamValueType:
    """Parse a raw YAML/JSON/CLI value into the parameter type; raises ValueError with ``where``."""
    if ptype == "money":
        return _to_decimal(raw, where, MONEY_PLACES)
    if ptype == "rate":
        return _to_decimal(raw, where, RATE_PLACES)
    if ptype == "int":
        if isinstance(raw, bool):
            raise ValueError(f"{where}: expected an integer, got {raw!r}")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
            return int(raw.strip())
        raise ValueError(f"{where}: expected an integer, got {raw!r}")
    if ptype == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise ValueError(f"{where}: expected true/false, got {raw!r}")
    if ptype == "str":
        if isinstance(raw, str) and raw:
            return raw
        raise ValueError(f"{where}: expected a non-empty string, got {raw!r}")
    if ptype == "list_str":
        if isinstance(raw, str):
            raw = [s.strip() for s in raw.split(",") if s.strip()]
        if isinstance(raw, list) and all(isinstance(s, str) and s for s in raw):
            return list(raw)
        raise ValueError(f"{where}: expected a list of strings, got {raw!r}")
    if ptype == "list_rate":
        if isinstance(raw, str):
            raw = [s.strip() for s in raw.split(",") if s.strip()]
        if isinstance(raw, list) and raw:
            return [_to_decimal(v, f"{where}[{i}]", RATE_PLACES) for i, v in enumerate(raw)]
        raise ValueError(f"{where}: expected a non-empty list of rates, got {raw!r}")
    raise ValueError(f"{where}: unknown parameter type {ptype!r}")


def _parse_date(raw: object, where: str) -> dt.date:
    if isinstance(raw, dt.datetime):
        raise ValueError(f"{where}: expected a date, got a datetime {raw!r}")
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str):
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            pass
    raise ValueError(f"{where}: expected a date YYYY-MM-DD, got {raw!r}")


def _parse_series(
    ptype: str, raw: object, where: str, reference: str, confirmed: bool
) -> tuple[DatedValue, ...]:
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{where}: expected a mapping of dates to values")
    out: list[DatedValue] = []
    for raw_date, entry in raw.items():
        when = _parse_date(raw_date, f"{where}")
        here = f"{where}.{when.isoformat()}"
        if isinstance(entry, dict):
            unknown = set(entry) - {"value", "reference", "confirmed", "note"}
            if unknown or "value" not in entry:
                raise ValueError(f"{here}: entry needs 'value' (and optional reference/confirmed/note)")
            e_conf = entry.get("confirmed", confirmed)
            if not isinstance(e_conf, bool):
                raise ValueError(f"{here}.confirmed: expected true/false")
            out.append(
                DatedValue(
                    effective_from=when,
                    value=parse_value(ptype, entry["value"], here),
                    reference=str(entry.get("reference", reference)),
                    confirmed=e_conf,
                    note=str(entry["note"]) if entry.get("note") is not None else None,
                )
            )
        else:
            out.append(DatedValue(when, parse_value(ptype, entry, here), reference, confirmed))
    out.sort(key=lambda v: v.effective_from)
    dates = [v.effective_from for v in out]
    if len(set(dates)) != len(dates):
        raise ValueError(f"{where}: duplicate dates")
    return tuple(out)


def _is_area_map(raw: object) -> bool:
    return isinstance(raw, dict) and bool(raw) and all(k in AREAS for k in raw)


def parse_parameter(path: str, doc: object, source: str = "") -> Parameter:
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: a parameter file must be a mapping")
    required = ("description", "unit", "type", "reference", "confirmed", "values")
    missing = [k for k in required if k not in doc]
    if missing:
        raise ValueError(f"{path}: missing keys {missing}")
    ptype = doc["type"]
    if ptype not in PARAM_TYPES:
        raise ValueError(f"{path}: type must be one of {PARAM_TYPES}, got {ptype!r}")
    if not isinstance(doc["confirmed"], bool):
        raise ValueError(f"{path}: confirmed must be true/false")
    reference = str(doc["reference"]).strip()
    if not reference:
        raise ValueError(f"{path}: empty reference")
    values: dict[str, dict[str, tuple[DatedValue, ...]]] = {}
    raw_values = doc["values"]
    if not isinstance(raw_values, dict) or not raw_values:
        raise ValueError(f"{path}: values must be a non-empty mapping keyed by region code or 'default'")
    for region_key, by_area in raw_values.items():
        key = str(region_key)
        if key != DEFAULT_KEY:
            try:
                region_chain(key)
            except ValueError as exc:
                raise ValueError(f"{path}.values: {exc}") from None
        where = f"{path}.values.{key}"
        if _is_area_map(by_area):
            assert isinstance(by_area, dict)
            values[key] = {
                area: _parse_series(ptype, series, f"{where}.{area}", reference, doc["confirmed"])
                for area, series in by_area.items()
            }
        else:
            values[key] = {ALL_AREAS: _parse_series(ptype, by_area, where, reference, doc["confirmed"])}
    return Parameter(
        path=path,
        description=str(doc["description"]).strip(),
        unit=str(doc["unit"]),
        type=ptype,
        reference=reference,
        confirmed=doc["confirmed"],
        values=values,
        source=source,
    )


@dataclass(frozen=True)
class Change:
    """A what-if change for simulation: ``op`` is ``set``, ``add`` or ``pct`` (percent)."""

    path: str
    op: Literal["set", "add", "pct"]
    amount: str
    regions: frozenset[str] | None = None
    from_date: dt.date | None = None

    @classmethod
    def parse(
        cls, spec: str, regions: Iterable[str] | None = None, from_date: dt.date | None = None
    ) -> Change:
        """Parse ``dibao.standard=+5%``, ``dibao.standard=+20`` or ``dibao.standard=500``."""
        if "=" not in spec:
            raise RulesInputError("set", f"expected PATH=VALUE, got {spec!r}")
        path, _, text = spec.partition("=")
        text = text.strip()
        op: Literal["set", "add", "pct"] = "set"
        if text.endswith("%"):
            op, text = "pct", text[:-1]
        elif text[:1] in "+-" and len(text) > 1:
            op = "add"
        return cls(path.strip(), op, text, frozenset(regions) if regions else None, from_date)

    def applies(self, region_code: str, as_of: dt.date) -> bool:
        if self.from_date is not None and as_of < self.from_date:
            return False
        return self.regions is None or bool(self.regions.intersection(region_chain(region_code)))


def _apply_change(param: Parameter, change: Change, value: ParamValueType) -> ParamValueType:
    if change.op == "set":
        return param.parse(change.amount, f"change {change.path}")
    if param.type not in ("money", "rate", "int") or isinstance(value, bool | list | str):
        raise RulesInputError("set", f"{change.path}: only numeric parameters can be changed by +/-/%")
    try:
        amount = Decimal(change.amount)
    except InvalidOperation:
        raise RulesInputError("set", f"{change.path}: not a number: {change.amount!r}") from None
    base = Decimal(value)
    new = base + amount if change.op == "add" else base * (Decimal(100) + amount) / Decimal(100)
    places = {"money": MONEY_PLACES, "rate": RATE_PLACES, "int": 0}[param.type]
    # Simulated values are rounded half-up to the parameter's precision (0.01 yuan for money).
    new = new.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if new < 0:
        raise RulesInputError("set", f"{change.path}: the changed value would be negative ({new})")
    if param.type == "int":
        return int(new)
    return new


@dataclass(frozen=True)
class ParameterSet:
    parameters: Mapping[str, Parameter]
    overrides: Mapping[str, ParamValueType] = field(default_factory=dict)
    changes: tuple[Change, ...] = ()
    digest: str = ""

    def __contains__(self, path: object) -> bool:
        return path in self.parameters

    def parameter(self, path: str) -> Parameter:
        try:
            return self.parameters[path]
        except KeyError:
            raise ParameterNotFound(path, "unknown parameter path") from None

    def get(self, path: str, region_code: str, area: str, as_of: dt.date) -> ParameterValue:
        param = self.parameter(path)
        if path in self.overrides:
            return ParameterValue(
                path, self.overrides[path], None, "override supplied with the case", False, None, None
            )
        resolved = param.resolve(region_code, area, as_of)
        for change in self.changes:
            if change.path == path and change.applies(region_code, as_of):
                resolved = replace(
                    resolved,
                    value=_apply_change(param, change, resolved.value),
                    reference=f"{resolved.reference}; simulated change {change.op} {change.amount}",
                    confirmed=False,
                )
        return resolved

    def with_overrides(self, overrides: Mapping[str, object], field_prefix: str = "parameters") -> ParameterSet:
        """Return a copy where each ``path -> value`` override replaces the resolved value everywhere."""
        if not isinstance(overrides, Mapping):
            raise RulesInputError(field_prefix, "must be a mapping of parameter path to value")
        parsed: dict[str, ParamValueType] = dict(self.overrides)
        for path, raw in overrides.items():
            where = f"{field_prefix}.{path}"
            if path not in self.parameters:
                raise RulesInputError(where, "unknown parameter path")
            try:
                parsed[path] = self.parameters[path].parse(raw, where)
            except ValueError as exc:
                raise RulesInputError(where, str(exc).removeprefix(f"{where}: ")) from None
        return replace(self, overrides=parsed)

    def with_changes(self, changes: Iterable[Change]) -> ParameterSet:
        changes = tuple(changes)
        for change in changes:
            param = self.parameter(change.path)
            if change.op == "set":
                try:
                    param.parse(change.amount, change.path)
                except ValueError as exc:
                    raise RulesInputError("set", str(exc)) from None
        return replace(self, changes=self.changes + changes)

    def list(self) -> list[Parameter]:
        return [self.parameters[p] for p in sorted(self.parameters)]

    def current_values(self, path: str, as_of: dt.date) -> builtins.list[tuple[str, str, DatedValue]]:
        """(region key, area key, value) in effect at ``as_of`` for every region key of ``path``."""
        out: builtins.list[tuple[str, str, DatedValue]] = []
        param = self.parameter(path)
        for key, by_area in param.values.items():
            for area, series in by_area.items():
                in_effect = [v for v in series if v.effective_from <= as_of]
                if in_effect:
                    out.append((key, area, in_effect[-1]))
        return out


def load_parameters(dir: str | Path | None = None) -> ParameterSet:
    """Load every ``*.yaml`` under ``dir`` (default: this package directory)."""
    root = Path(dir) if dir is not None else PARAMETER_DIR
    if dir is None and _DEFAULT_CACHE:
        return _DEFAULT_CACHE[0]
    params: dict[str, Parameter] = {}
    digest = hashlib.sha256()
    for file in sorted(root.rglob("*.yaml")):
        rel = file.relative_to(root).with_suffix("")
        path = ".".join(rel.parts)
        text = file.read_text(encoding="utf-8")
        digest.update(path.encode() + b"\0" + text.encode())
        try:
            params[path] = parse_parameter(path, load_yaml(text), source=str(file))
        except (ValueError, yaml.YAMLError) as exc:
            raise ParameterFileError(f"{file}: {exc}") from exc
    if not params:
        raise ParameterFileError(f"no parameter files under {root}")
    result = ParameterSet(params, digest=digest.hexdigest())
    if dir is None:
        _DEFAULT_CACHE.append(result)
    return result


_DEFAULT_CACHE: list[ParameterSet] = []

__all__ = [
    "Change",
    "DatedValue",
    "Parameter",
    "ParameterSet",
    "ParameterValue",
    "format_decimal",
    "load_parameters",
    "load_yaml",
    "parse_value",
]
