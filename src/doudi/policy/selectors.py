"""Reads of policy parameters: the YAML set with operator changes applied, and rows for the pages.

Parameters are public policy, so every authenticated role may read them; the scope picks the region whose
current values are shown.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from django.db import connection
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from doudi.core.choices import RegionLevel, Role
from doudi.core.errors import ApplicationError, NotFound, PermissionDenied
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.policy.layering import (
    ALL_AREAS,
    ChangeRecord,
    apply_changes,
    is_area_keyed,
    rules_region_key,
    statistical_code,
)
from doudi.policy.models import ChangeStatus, ParameterValueChange
from doudi.rules.errors import ParameterNotFound
from doudi.rules.parameters import Parameter, ParameterSet, format_decimal, load_parameters

if TYPE_CHECKING:
    from doudi.rules.simulation import RegionResult

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


# --- policy simulation ---------------------------------------------------------------------------------------
# What-if changes to parameters applied to the current caseload (the active registry households in scope), set
# based: the registry rows are read in bulk into Arrow (no ORM objects), mapped to the rules' input tables in
# DuckDB, and evaluated twice by `doudi.rules.simulation.simulate_caseload` — the same compiled program as
# `doudi simulate`. The result is aggregates only (counts and sums by county): no personal data.

SIMULATION_ROLES = frozenset({Role.COUNTY_APPROVER, Role.SUPERVISOR, Role.ADMIN})
SIMULATION_PROGRAM = "dibao"
SIMULATION_MODES = {
    "pct_up": gettext_lazy("提高百分比"),
    "pct_down": gettext_lazy("降低百分比"),
    "add": gettext_lazy("增加数额"),
    "subtract": gettext_lazy("减少数额"),
    "set": gettext_lazy("设为"),
}
NUMERIC_TYPES = frozenset({"money", "rate", "int"})
SIMULATION_REGION_LEVELS = (RegionLevel.CITY, RegionLevel.COUNTY)

_SIM_HOUSEHOLDS = (
    "SELECT h.id AS household_id, h.region_id AS region_code, h.hukou_type AS area "
    "FROM registry_household h JOIN core_region r ON r.code = h.region_id "
    "WHERE h.status = 'active' AND r.path LIKE %s",
    pa.schema([("household_id", pa.int64()), ("region_code", pa.string()), ("area", pa.string())]),
)
# Members living in the household on the date (membership in force, alive, born); no names or ID numbers.
_SIM_MEMBERS = (
    "SELECT m.household_id AS household_id, p.id AS member_id, p.birth_date AS birth_date, m.relation AS relation, "
    "p.labour_capacity AS labour_capacity, p.disability_category AS disability_category, "
    "p.disability_grade AS disability_grade, p.serious_illness AS serious_illness, p.student AS student, "
    "h.registered_poor AS registered_poor "
    "FROM registry_membership m JOIN registry_person p ON p.id = m.person_id "
    "JOIN registry_household h ON h.id = m.household_id JOIN core_region r ON r.code = h.region_id "
    "WHERE h.status = 'active' AND r.path LIKE %s AND m.start_date <= %s "
    "AND (m.end_date IS NULL OR m.end_date >= %s) AND (p.death_date IS NULL OR p.death_date > %s) "
    "AND p.birth_date <= %s",
    pa.schema(
        [
            ("household_id", pa.int64()),
            ("member_id", pa.int64()),
            ("birth_date", pa.date32()),
            ("relation", pa.string()),
            ("labour_capacity", pa.string()),
            ("disability_category", pa.string()),
            ("disability_grade", pa.int64()),
            ("serious_illness", pa.bool_()),
            ("student", pa.bool_()),
            ("registered_poor", pa.bool_()),
        ]
    ),
)


def _sim_items(table: str, amount: str) -> tuple[str, pa.Schema]:
    count = ", i.count AS count" if table == "registry_assetitem" else ""
    sql = (
        f"SELECT i.id AS row_id, i.household_id AS household_id, i.person_id AS person_id, i.kind AS kind, "  # noqa: S608
        f"i.{amount} AS {amount}{count} "
        f"FROM {table} i JOIN registry_household h ON h.id = i.household_id "
        "JOIN core_region r ON r.code = h.region_id "
        "WHERE h.status = 'active' AND r.path LIKE %s AND i.start_date <= %s "
        "AND (i.end_date IS NULL OR i.end_date >= %s)"
    )
    fields = [
        ("row_id", pa.int64()),
        ("household_id", pa.int64()),
        ("person_id", pa.int64()),
        ("kind", pa.string()),
        (amount, pa.decimal128(14, 2)),
    ]
    if count:
        fields.append(("count", pa.int64()))
    return sql, pa.schema(fields)


def _mapping(pairs: dict[str, str]) -> pa.Table:
    return pa.table({"code": list(pairs), "mapped": list(pairs.values())})


def simulation_caseload(scope: Scope, as_of: dt.date) -> dict[str, pa.Table]:
    """The active registry households in scope as the rules' input tables on `as_of` (the mapping of
    `doudi.cases.rules_input.household_case`, applied to whole columns): members living in the household on
    that date, items in force. Households without a living member are left out."""
    import duckdb

    from doudi.cases.rules_input import ASSET_KIND, EXPENSE_KIND, INCOME_KIND, relation_for_rules
    from doudi.registry.snapshot import _fetch

    prefix = scope.region_path + "%"
    items = {
        "inc": _sim_items("registry_incomeitem", "monthly_amount"),
        "exp": _sim_items("registry_expenseitem", "monthly_amount"),
        "ast": _sim_items("registry_assetitem", "value"),
    }
    con = duckdb.connect(":memory:")
    try:
        con.register("hh", _fetch(_SIM_HOUSEHOLDS[0], [prefix], _SIM_HOUSEHOLDS[1]))
        members = _fetch(_SIM_MEMBERS[0], [prefix, as_of, as_of, as_of, as_of], _SIM_MEMBERS[1])
        con.register("mem", members)
        for name, (sql, schema) in items.items():
            con.register(name, _fetch(sql, [prefix, as_of, as_of], schema))
        codes = {c for c in members.column("relation").to_pylist() if c is not None}
        con.register("rel", _mapping({c: relation_for_rules(c) for c in codes}))
        con.register("inc_kind", _mapping(INCOME_KIND))
        con.register("exp_kind", _mapping(EXPENSE_KIND))
        con.register("ast_kind", _mapping(ASSET_KIND))

        def item(name: str, kinds: str, columns: str) -> pa.Table:
            return con.sql(
                f"""SELECT CAST(i.household_id AS VARCHAR) AS household_id, i.row_id,
                       CASE WHEN m.member_id IS NOT NULL THEN CAST(i.person_id AS VARCHAR) END AS member_id,
                       coalesce(k.mapped, 'other') AS kind, {columns}
                FROM {name} i
                LEFT JOIN mem m ON m.household_id = i.household_id AND m.member_id = i.person_id
                LEFT JOIN {kinds} k ON k.code = i.kind
                WHERE i.household_id IN (SELECT household_id FROM mem)
                ORDER BY i.household_id, i.row_id"""  # noqa: S608 - our own table names
            ).to_arrow_table()

        return {
            "households": con.sql(
                """SELECT CAST(household_id AS VARCHAR) AS household_id, region_code, area FROM hh
                WHERE household_id IN (SELECT household_id FROM mem) ORDER BY hh.household_id"""
            ).to_arrow_table(),
            "members": con.sql(
                """SELECT CAST(m.household_id AS VARCHAR) AS household_id, CAST(m.member_id AS VARCHAR) AS member_id,
                       m.birth_date, coalesce(rel.mapped, 'other') AS relation,
                       CASE WHEN m.labour_capacity IN ('full', 'partial', 'none') THEN m.labour_capacity END
                         AS labour_capacity,
                       CASE WHEN m.disability_category IN ('1', '2', '3', '4', '5', '6', '7')
                         THEN CAST(m.disability_category AS BIGINT) END AS disability_category,
                       CASE WHEN m.disability_category IN ('1', '2', '3', '4', '5', '6', '7')
                         THEN m.disability_grade END AS disability_grade,
                       coalesce(m.serious_illness, false) AS serious_illness,
                       coalesce(m.student, false) AS student,
                       coalesce(m.registered_poor, false) AS registered_poor
                FROM mem m LEFT JOIN rel ON rel.code = m.relation
                ORDER BY m.household_id, m.member_id"""
            ).to_arrow_table(),
            "incomes": item("inc", "inc_kind", "i.monthly_amount"),
            "expenses": item("exp", "exp_kind", "i.monthly_amount"),
            "assets": item("ast", "ast_kind", "i.value, i.count"),
        }
    finally:
        con.close()


@dataclass(frozen=True)
class SimulationRow:
    region_code: str  # the rules key (6 digits: county)
    name: str
    result: RegionResult


@dataclass(frozen=True)
class SimulationResult:
    program: str
    path: str
    description: str
    mode: str
    amount: str
    regions: list[str]  # region names the change applies to; empty: everywhere in scope
    as_of: dt.date
    total: RegionResult
    rows: list[SimulationRow]


def _clean_sim_date(raw: object) -> dt.date:
    if isinstance(raw, dt.date):
        return raw
    text = str(raw or "").strip()
    if not text:
        return timezone.localdate()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ApplicationError("invalid", _("日期格式应为 YYYY-MM-DD"), "effective_from") from None


def _clean_sim_amount(raw: object, mode: str, param: Parameter) -> str:
    text = str(raw or "").strip()
    if not text:
        raise ApplicationError("required", _("请填写调整数值"), "amount")
    if mode == "set":
        try:
            value = param.parse(text, param.path)
        except ValueError:
            raise ApplicationError("invalid", _("取值格式不正确"), "amount") from None
        if isinstance(value, Decimal | int) and not isinstance(value, bool) and value < 0:
            raise ApplicationError("negative", _("不能为负数"), "amount")
        return text
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ApplicationError("invalid", _("应为数字"), "amount") from None
    if not number.is_finite():
        raise ApplicationError("invalid", _("应为数字"), "amount")
    if number < 0:
        raise ApplicationError("negative", _("不能为负数；降低请选择“降低百分比”或“减少数额”"), "amount")
    if mode == "pct_down" and number > 100:
        raise ApplicationError("invalid", _("降低的百分比不能超过100"), "amount")
    return text


def _clean_sim_regions(scope: Scope, raw: object) -> list[Region]:
    if raw is None or raw == "":
        items: list[object] = []
    elif isinstance(raw, str):
        items = [raw]
    elif isinstance(raw, list | tuple | set | frozenset):
        items = list(raw)
    else:
        raise ApplicationError("invalid", _("适用区域格式不正确"), "regions")
    codes = [str(c).strip() for c in items if str(c).strip()]
    if not codes:
        return []
    regions = list(scope.regions().filter(code__in=codes, level__in=SIMULATION_REGION_LEVELS))
    if len(regions) != len(set(codes)):
        raise ApplicationError("invalid", _("所选区域不存在或不在您的管辖范围内"), "regions")
    return sorted(regions, key=lambda r: r.code)


def simulation_parameters() -> list[tuple[str, str]]:
    """(path, description) of the parameters the simulated program uses; numeric ones first."""
    from doudi.rules import get_program

    pset = current_parameter_set()
    paths = sorted({v.parameter for v in get_program(SIMULATION_PROGRAM).parameter_variables() if v.parameter})
    params = [pset.parameter(p) for p in paths]
    params.sort(key=lambda p: (p.path != "dibao.standard", p.type not in NUMERIC_TYPES, p.path))
    return [(p.path, _chinese(p.description)) for p in params]


def _chinese(description: str) -> str:
    """The Chinese half of a bilingual "中文 / English" parameter description."""
    return re.split(r"\s*/\s+(?=[A-Za-z])", description, maxsplit=1)[0].strip()


def simulation_region_choices(scope: Scope) -> list[tuple[str, str]]:
    return list(scope.regions().filter(level__in=SIMULATION_REGION_LEVELS).order_by("code").values_list("code", "name"))


def require_simulation_role(scope: Scope) -> None:
    if scope.role not in SIMULATION_ROLES:
        raise PermissionDenied(_("只有县级审批人、监管人员和系统管理员可以进行政策模拟"))


def policy_simulate(
    *,
    scope: Scope,
    path: object,
    mode: object,
    amount: object,
    regions: object = None,
    effective_from: object = None,
) -> SimulationResult:
    """Apply one parameter change (from `effective_from`, in `regions` or everywhere in scope) to the current
    caseload in scope and compare it with the current parameters. Aggregates only."""
    from doudi.rules import Change, get_program
    from doudi.rules.errors import RulesInputError
    from doudi.rules.simulation import simulate_caseload

    require_simulation_role(scope)
    path = str(path or "").strip()
    mode = str(mode or "").strip()
    if not path:
        raise ApplicationError("required", _("请选择要调整的参数"), "path")
    program = get_program(SIMULATION_PROGRAM)
    used = {v.parameter for v in program.parameter_variables()}
    base = current_parameter_set()
    if path not in base or path not in used:
        raise ApplicationError("invalid", _("未知的参数路径，或该参数不用于低保测算"), "path")
    param = base.parameter(path)
    if mode not in SIMULATION_MODES:
        raise ApplicationError("invalid", _("请选择调整方式"), "mode")
    if mode != "set" and param.type not in NUMERIC_TYPES:
        raise ApplicationError("invalid", _("只有数值型参数可以按比例或数额调整"), "mode")
    text = _clean_sim_amount(amount, mode, param)
    regions_in = _clean_sim_regions(scope, regions)
    when = _clean_sim_date(effective_from)

    op, spec = {
        "pct_up": ("pct", text),
        "pct_down": ("pct", f"-{text}"),
        "add": ("add", text),
        "subtract": ("add", f"-{text}"),
        "set": ("set", text),
    }[mode]
    keys = [rules_region_key(r.code) for r in regions_in] or [_scope_key(scope)]
    change = Change(path, op, spec, frozenset(keys), when)  # type: ignore[arg-type]
    try:
        reform = base.with_changes([change])
        tables = simulation_caseload(scope, when)
        report = simulate_caseload(SIMULATION_PROGRAM, tables, when, base, reform, region_digits=6)
    except ParameterNotFound as exc:
        raise ApplicationError(
            "parameter_not_found",
            _("该日期没有可用的参数取值：%(message)s") % {"message": exc.message},
            "effective_from",
        ) from None
    except RulesInputError as exc:
        if exc.field == "set":
            raise ApplicationError(
                "invalid", _("调整后的取值无效：%(message)s") % {"message": exc.message}, "amount"
            ) from None
        raise ApplicationError(
            "rules_input", _("测算数据有误（%(field)s）：%(message)s") % {"field": exc.field, "message": exc.message}
        ) from None
    names = dict(
        Region.objects.filter(code__in=[statistical_code(r.region_code or "") for r in report.by_region]).values_list(
            "code", "name"
        )
    )
    rows = [
        SimulationRow(
            region_code=r.region_code or "",
            name=names.get(statistical_code(r.region_code or ""), r.region_code or ""),
            result=r,
        )
        for r in report.by_region
    ]
    return SimulationResult(
        program=SIMULATION_PROGRAM,
        path=path,
        description=_chinese(param.description),
        mode=str(SIMULATION_MODES[mode]),
        amount=f"{text}%" if mode in ("pct_up", "pct_down") else text,
        regions=[r.name for r in regions_in],
        as_of=when,
        total=report.total,
        rows=rows,
    )
