"""Validate a case (one household as a dict) and convert it to the five input Arrow tables.

Every problem raises :class:`RulesInputError` naming the field, e.g. ``household.members[2].birth_date``.
Unknown keys are errors too (a misspelt ``serious_ilness`` must not silently become ``false``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from .errors import RulesInputError
from .model import Program
from .regions import validate_region
from .schema import (
    ASSET_KINDS,
    EXPENSE_KINDS,
    FUNERAL_ITEMS,
    INCOME_KINDS,
    LABOUR_CAPACITIES,
    MEMBER_STATUSES,
    RELATIONS,
    REQUEST_GROUPS,
    REQUEST_TYPES,
    SELF_CARE_ITEMS,
    SUPPORT_MODES,
    TABLE_COLUMNS,
    arrow_schema,
)

AREAS = ("urban", "rural")
MAX_MONEY = Decimal("1000000000000")


@dataclass(frozen=True)
class CaseContext:
    as_of: dt.date
    region_code: str
    area: str
    household_id: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    member_ids: tuple[str, ...] = ()


# --- scalar parsers ---------------------------------------------------------------------------------
def _require(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj or obj[key] is None:
        raise RulesInputError(_join(where, key), "is required")
    return obj[key]


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RulesInputError(where or "case", f"must be an object, got {type(value).__name__}")
    return value


def _no_unknown(obj: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in obj:
        if key not in allowed:
            raise RulesInputError(_join(where, str(key)), f"unknown field (allowed: {', '.join(allowed)})")


def parse_date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise RulesInputError(where, f"must be a date YYYY-MM-DD, got {value!r}")


def parse_money(value: Any, where: str) -> Decimal:
    """Non-negative amount with at most 2 decimal places (floats accepted via their shortest repr)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise RulesInputError(where, f"must be a decimal amount, got {value!r}")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise RulesInputError(where, f"must be a decimal amount, got {value!r}") from None
    if not amount.is_finite():
        raise RulesInputError(where, f"must be a finite amount, got {value!r}")
    if amount < 0:
        raise RulesInputError(where, f"must not be negative, got {value!r}")
    if amount != amount.quantize(Decimal("0.01")):
        raise RulesInputError(where, f"at most 2 decimal places (0.01 yuan), got {value!r}")
    if amount >= MAX_MONEY:
        raise RulesInputError(where, f"implausibly large amount {value!r}")
    return amount.quantize(Decimal("0.01"))


def parse_int(value: Any, where: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RulesInputError(where, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise RulesInputError(where, f"must be ≥ {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise RulesInputError(where, f"must be ≤ {maximum}, got {value}")
    return value


def parse_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise RulesInputError(where, f"must be true or false, got {value!r}")
    return value


def parse_choice(value: Any, choices: Sequence[str], where: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise RulesInputError(where, f"must be one of {', '.join(choices)}; got {value!r}")
    return value


def parse_id(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
        raise RulesInputError(where, f"must be a non-empty string id, got {value!r}")
    return str(value)


# --- case ---------------------------------------------------------------------------------------------
CASE_KEYS = ("as_of", "region_code", "area", "parameters", "household", "request")
HOUSEHOLD_KEYS = ("id", "members", "incomes", "expenses", "assets", "gradual_exit", "dibao_recipient")
MEMBER_KEYS = (
    "id",
    "birth_date",
    "relation",
    "labour_capacity",
    "disability_category",
    "disability_grade",
    "serious_illness",
    "registered_poor",
    "student",
    "status",
    "support_mode",
    "has_able_supporter",
    "self_care",
    "long_term_care",
    "tekun_recipient",
    "work_injury_care",
    "name",
)
REQUEST_KEYS = ("type", "group", "persons", "months", "expense", "items", "deceased")


def _member(raw: Any, where: str, as_of: dt.date, program: Program) -> dict[str, Any]:
    m = _mapping(raw, where)
    _no_unknown(m, MEMBER_KEYS, where)
    row: dict[str, Any] = {c.name: c.default for c in TABLE_COLUMNS["members"]}
    row["member_id"] = parse_id(_require(m, "id", where), _join(where, "id"))
    birth = parse_date(_require(m, "birth_date", where), _join(where, "birth_date"))
    if birth > as_of:
        raise RulesInputError(_join(where, "birth_date"), f"is after as_of {as_of.isoformat()}")
    row["birth_date"] = birth
    row["relation"] = parse_choice(_require(m, "relation", where), RELATIONS, _join(where, "relation"))
    for key in program.required_member_fields:
        _require(m, key, where)
    if m.get("labour_capacity") is not None:
        row["labour_capacity"] = parse_choice(
            m["labour_capacity"], LABOUR_CAPACITIES, _join(where, "labour_capacity")
        )
    category, grade = m.get("disability_category"), m.get("disability_grade")
    if (category is None) != (grade is None):
        missing = "disability_grade" if grade is None else "disability_category"
        raise RulesInputError(_join(where, missing), "disability_category and disability_grade go together")
    if category is not None:
        row["disability_category"] = parse_int(category, _join(where, "disability_category"), 1, 7)
        row["disability_grade"] = parse_int(grade, _join(where, "disability_grade"), 1, 4)
    for key in (
        "serious_illness",
        "registered_poor",
        "student",
        "has_able_supporter",
        "long_term_care",
        "tekun_recipient",
        "work_injury_care",
    ):
        if m.get(key) is not None:
            row[key] = parse_bool(m[key], _join(where, key))
    if m.get("status") is not None:
        row["status"] = parse_choice(m["status"], MEMBER_STATUSES, _join(where, "status"))
    if m.get("support_mode") is not None:
        row["support_mode"] = parse_choice(m["support_mode"], SUPPORT_MODES, _join(where, "support_mode"))
    if m.get("self_care") is not None:
        sc_where = _join(where, "self_care")
        sc = _mapping(m["self_care"], sc_where)
        _no_unknown(sc, SELF_CARE_ITEMS, sc_where)
        for item in SELF_CARE_ITEMS:
            row[f"self_care_{item}"] = parse_bool(_require(sc, item, sc_where), _join(sc_where, item))
    return row


def _rows(
    raw: Any,
    where: str,
    kinds: Sequence[str],
    amount_key: str,
    member_ids: set[str],
    household_id: str,
) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RulesInputError(where, "must be a list")
    out = []
    for i, item in enumerate(raw):
        here = f"{where}[{i}]"
        r = _mapping(item, here)
        allowed = ("member", "kind", amount_key, "note") + (("count",) if amount_key == "value" else ())
        _no_unknown(r, allowed, here)
        member = r.get("member")
        if member is not None:
            member = parse_id(member, _join(here, "member"))
            if member not in member_ids:
                raise RulesInputError(_join(here, "member"), f"no household member with id {member!r}")
        row: dict[str, Any] = {
            "household_id": household_id,
            "row_id": i,
            "member_id": member,
            "kind": parse_choice(_require(r, "kind", here), kinds, _join(here, "kind")),
        }
        if amount_key == "value":
            row["value"] = parse_money(r.get("value", 0), _join(here, "value"))
            row["count"] = parse_int(r.get("count", 1), _join(here, "count"), 0)
        else:
            row[amount_key] = parse_money(_require(r, amount_key, here), _join(here, amount_key))
        out.append(row)
    return out


def _table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = arrow_schema(name)
    columns = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return pa.table({k: pa.array(v, type=schema.field(k).type) for k, v in columns.items()}, schema=schema)


def case_to_tables(program: Program, case: Any) -> tuple[CaseContext, dict[str, pa.Table]]:
    c = _mapping(case, "case")
    _no_unknown(c, CASE_KEYS, "")
    as_of = parse_date(_require(c, "as_of", ""), "as_of")
    region = validate_region(_require(c, "region_code", ""), "region_code")
    area = parse_choice(_require(c, "area", ""), AREAS, "area")
    overrides = c.get("parameters") or {}
    if not isinstance(overrides, Mapping):
        raise RulesInputError("parameters", "must be an object mapping parameter path to value")
    h = _mapping(_require(c, "household", ""), "household")
    _no_unknown(h, HOUSEHOLD_KEYS, "household")
    household_id = parse_id(h.get("id", "household"), "household.id")
    members_raw = _require(h, "members", "household")
    if not isinstance(members_raw, list) or not members_raw:
        raise RulesInputError("household.members", "must be a non-empty list")
    members = []
    seen: set[str] = set()
    for i, raw in enumerate(members_raw):
        row = _member(raw, f"household.members[{i}]", as_of, program)
        if row["member_id"] in seen:
            raise RulesInputError(f"household.members[{i}].id", f"duplicate member id {row['member_id']!r}")
        seen.add(row["member_id"])
        row["household_id"] = household_id
        members.append(row)

    hh: dict[str, Any] = {c.name: c.default for c in TABLE_COLUMNS["households"]}
    hh.update(household_id=household_id, region_code=region, area=area)
    if h.get("dibao_recipient") is not None:
        hh["dibao_recipient"] = parse_bool(h["dibao_recipient"], "household.dibao_recipient")
    if h.get("gradual_exit") is not None:
        ge = _mapping(h["gradual_exit"], "household.gradual_exit")
        _no_unknown(ge, ("month", "previous_monthly_amount"), "household.gradual_exit")
        hh["gradual_exit_month"] = parse_int(
            _require(ge, "month", "household.gradual_exit"), "household.gradual_exit.month", 1
        )
        hh["gradual_exit_previous_amount"] = parse_money(
            _require(ge, "previous_monthly_amount", "household.gradual_exit"),
            "household.gradual_exit.previous_monthly_amount",
        )
    _request(program, c.get("request"), hh, seen)

    tables = {
        "households": _table("households", [hh]),
        "members": _table("members", members),
        "incomes": _table(
            "incomes", _rows(h.get("incomes"), "household.incomes", INCOME_KINDS, "monthly_amount", seen,
                             household_id)
        ),
        "expenses": _table(
            "expenses", _rows(h.get("expenses"), "household.expenses", EXPENSE_KINDS, "monthly_amount", seen,
                              household_id)
        ),
        "assets": _table("assets", _rows(h.get("assets"), "household.assets", ASSET_KINDS, "value", seen,
                                         household_id)),
    }
    ctx = CaseContext(as_of, region, area, household_id, dict(overrides), tuple(r["member_id"] for r in members))
    return ctx, tables


def _request(program: Program, raw: Any, hh: dict[str, Any], member_ids: set[str]) -> None:
    if not program.request_fields:
        if raw is not None:
            raise RulesInputError("request", f"program {program.name} takes no request")
        return
    r = _mapping(_require({"request": raw}, "request", ""), "request")
    _no_unknown(r, program.request_fields, "request")
    for key in program.request_fields:
        if key in ("expense",):
            continue
        _require(r, key, "request")
    if "type" in r:
        hh["request_type"] = parse_choice(r["type"], REQUEST_TYPES, "request.type")
    if "group" in r:
        hh["request_group"] = parse_choice(r["group"], REQUEST_GROUPS, "request.group")
    if "persons" in r:
        hh["request_persons"] = parse_int(r["persons"], "request.persons", 1, 100)
    if "months" in r:
        hh["request_months"] = parse_int(r["months"], "request.months", 1, 120)
    if r.get("expense") is not None:
        hh["request_expense"] = parse_money(r["expense"], "request.expense")
    elif hh.get("request_type") == "expense":
        raise RulesInputError("request.expense", "is required for an expense-type request")
    if "items" in r:
        items = r["items"]
        if not isinstance(items, list) or not items:
            raise RulesInputError("request.items", "must be a non-empty list")
        hh["request_items"] = [parse_choice(x, FUNERAL_ITEMS, f"request.items[{i}]") for i, x in enumerate(items)]
    if "deceased" in r:
        deceased = parse_id(r["deceased"], "request.deceased")
        if deceased not in member_ids:
            raise RulesInputError("request.deceased", f"no household member with id {deceased!r}")
        hh["request_deceased"] = deceased
