"""The integrity checks: each one is a single set-based INSERT … SELECT over the database (SQLite and PostgreSQL).

Every check selects the columns of `FINDING_COLUMNS` for the suspected cases in the run's region subtree; `_insert`
wraps the select so that a subject which already has an open, assigned or dismissed finding of the same check gets
no new one (and `ON CONFLICT DO NOTHING` covers two runs racing on the partial unique constraint). No check loops
over recipients in Python: at a million households each is one statement the database plans as joins.

These are read-only queries over the registry and case tables (the one place this app reads other apps' tables
directly: a per-row walk through their selectors would take hours at provincial scale; architecture §5). Table
and column names come from the models' metadata.

Portability rules kept here: string concatenation with `||`, casts to VARCHAR/BIGINT, `TRUE`/`FALSE`, no
parameters inside the JSON builders (PostgreSQL cannot type them), dates compared as dates (SQLite stores ISO text).
"""

# ruff: noqa: S608 - statements are built from model metadata and this module's constants; values are parameters

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import translation

from doudi.cases.choices import LIVE_RECIPIENT_STATUSES, Program, RecipientStatus
from doudi.cases.models import Application, CaseStep, Decision, Recipient
from doudi.core.models import Region
from doudi.integrity.choices import (
    EXCLUSIVE_PROGRAMS,
    KIN_PAIRS,
    RELATION_GROUPS,
    SAME_HOUSEHOLD,
    SUPPRESSING_STATUSES,
    VERIFICATION_REQUIRED,
    CheckCode,
    FindingStatus,
    StaffKind,
)
from doudi.integrity.models import Finding, StaffMember
from doudi.registry.models import Household, Membership, Person

FINDING_COLUMNS = (
    "check_code",
    "subject_key",
    "county_id",
    "region_id",
    "region_path",
    "household_id",
    "person_id",
    "recipient_id",
    "application_id",
    "staff_id",
    "description",
    "evidence",
)
PAID_STATUSES = (RecipientStatus.ACTIVE, RecipientStatus.GRADUAL_EXIT)
FAR_FUTURE = "9999-12-31"


@dataclass(frozen=True)
class Context:
    run_id: int | None
    region_path: str
    today: dt.date
    now: dt.datetime


# ---- SQL helpers ------------------------------------------------------------------------------------------


def _t(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)  # type: ignore[attr-defined]


def _lit(text: str) -> str:
    """A constant string as an SQL literal (only our own constants: never user input)."""
    if "%" in text:
        raise ValueError("a literal may not contain %")
    return "'" + text.replace("'", "''") + "'"


def _in(values: Iterable[str]) -> str:
    return "(" + ", ".join(_lit(str(v)) for v in values) + ")"


def _str(expr: str) -> str:
    return f"CAST({expr} AS VARCHAR(40))"


def _json(**pairs: str) -> str:
    """A JSON object built in SQL from column expressions (keys are constants)."""
    args = ", ".join(f"{_lit(key)}, {expr}" for key, expr in pairs.items())
    if connection.vendor == "postgresql":
        return f"jsonb_build_object({args})"
    return f"json_object({args})"


def _json_text(column: str, key: str) -> str:
    """The text value of a top-level key of a JSON column."""
    if connection.vendor == "postgresql":
        return f"({column} ->> {_lit(key)})"
    return f"json_extract({column}, {_lit('$.' + key)})"


def _labels(column: str, choices: type) -> str:
    """A CASE turning a code column into its Chinese label."""
    with translation.override("zh-hans"):
        whens = " ".join(f"WHEN {_lit(value)} THEN {_lit(str(label))}" for value, label in choices.choices)  # type: ignore[attr-defined]
    return f"CASE {column} {whens} ELSE {column} END"


def _county_joins(village_expr: str) -> str:
    """Joins giving `v` (the village) and `tw` (its township; tw.parent_id is the county)."""
    region = _t(Region)
    return f"LEFT JOIN {region} v ON v.code = {village_expr} LEFT JOIN {region} tw ON tw.code = v.parent_id"


NULL_ID = "CAST(NULL AS BIGINT)"


def _insert(ctx: Context, select_sql: str, params: list[Any]) -> int:
    """INSERT the rows of a check's select as open findings, skipping subjects that already have one."""
    finding = _t(Finding)
    qn = connection.ops.quote_name
    columns = ", ".join(qn(c) for c in FINDING_COLUMNS)
    outer = ", ".join(f"c.{qn(c)}" for c in FINDING_COLUMNS)
    sql = (
        f"INSERT INTO {finding} ({columns}, status, detected_at, run_id, resolution, version) "
        f"SELECT {outer}, %s, %s, %s, '', 1 FROM ({select_sql}) c "
        f"WHERE NOT EXISTS (SELECT 1 FROM {finding} f WHERE f.check_code = c.check_code "
        f"AND f.subject_key = c.subject_key AND f.status IN {_in(SUPPRESSING_STATUSES)}) "
        "ON CONFLICT DO NOTHING"
    )
    now = connection.ops.adapt_datetimefield_value(ctx.now)
    with connection.cursor() as cursor:
        cursor.execute(sql, [FindingStatus.OPEN.value, now, ctx.run_id, *params])
        return max(cursor.rowcount, 0)


def _scope_param(ctx: Context) -> str:
    return ctx.region_path + "%"


# ---- (a) deceased recipients ------------------------------------------------------------------------------


def check_deceased_recipient(ctx: Context) -> int:
    """Recipients still paid (active or gradual exit) after their death: the person of a personal benefit died,
    or every live member of a household benefit died (Person.death_date; deaths reach it through
    person_death_record, registry edits and imports). The benefit should stop the month after death
    (docs/cases.md §8; 2022 兜底通知)."""
    r, p, m = _t(Recipient), _t(Person), _t(Membership)
    program = _labels("r.program", Program)
    status = _labels("r.status", RecipientStatus)
    code = _lit(CheckCode.DECEASED_RECIPIENT)
    personal = (
        f"SELECT {code} AS check_code, 'r' || {_str('r.id')} AS subject_key, tw.parent_id AS county_id, "
        "r.region_id AS region_id, r.region_path AS region_path, r.household_id AS household_id, "
        f"r.person_id AS person_id, r.id AS recipient_id, r.application_id AS application_id, {NULL_ID} AS staff_id, "
        f"'救助对象已于' || {_str('p.death_date')} || '死亡，' || {program} || '仍为“' || {status} || "
        "'”状态，应自死亡次月起停发' AS description, "
        f"{_json(death_date='p.death_date', program='r.program', status='r.status', start_month='r.start_month', end_month='r.end_month')} AS evidence "  # noqa: E501
        f"FROM {r} r JOIN {p} p ON p.id = r.person_id {_county_joins('r.region_id')} "
        f"WHERE r.status IN {_in(PAID_STATUSES)} AND r.region_path LIKE %s "
        "AND p.death_date IS NOT NULL AND p.death_date <= %s "
        "AND (r.end_month IS NULL OR r.end_month > p.death_date)"
    )
    last_death = f"(SELECT MAX(pm.death_date) FROM {m} mm JOIN {p} pm ON pm.id = mm.person_id WHERE mm.household_id = r.household_id AND mm.end_date IS NULL)"  # noqa: E501
    household = (
        f"SELECT {code}, 'r' || {_str('r.id')}, tw.parent_id, r.region_id, r.region_path, r.household_id, "
        f"{NULL_ID}, r.id, r.application_id, {NULL_ID}, "
        f"'全户成员均已死亡（最后一人死亡日期' || {_str(last_death)} || '），' || {program} || '仍为“' || {status} || "
        "'”状态，应自死亡次月起停发', "
        f"{_json(death_date=last_death, program='r.program', status='r.status', start_month='r.start_month', end_month='r.end_month')} "  # noqa: E501
        f"FROM {r} r {_county_joins('r.region_id')} "
        f"WHERE r.person_id IS NULL AND r.status IN {_in(PAID_STATUSES)} AND r.region_path LIKE %s "
        f"AND EXISTS (SELECT 1 FROM {m} m1 JOIN {p} p1 ON p1.id = m1.person_id WHERE m1.household_id = r.household_id "
        "AND m1.end_date IS NULL AND p1.death_date IS NOT NULL AND p1.death_date <= %s) "
        f"AND NOT EXISTS (SELECT 1 FROM {m} m2 JOIN {p} p2 ON p2.id = m2.person_id "
        "WHERE m2.household_id = r.household_id "
        "AND m2.end_date IS NULL AND (p2.death_date IS NULL OR p2.death_date > %s)) "
        f"AND (r.end_month IS NULL OR r.end_month > {last_death})"
    )
    scope = _scope_param(ctx)
    return _insert(ctx, f"{personal} UNION ALL {household}", [scope, ctx.today, scope, ctx.today, ctx.today])


# ---- (b) mutually exclusive programs ----------------------------------------------------------------------


def check_exclusive_programs(ctx: Context) -> int:
    """Persons receiving two programs that exclude each other (the EXCLUSIVE_PROGRAMS table): both benefits live
    (not terminated) for the same person, or — for a household benefit — for a household the person lives in."""
    r, m = _t(Recipient), _t(Membership)
    code = _lit(CheckCode.EXCLUSIVE_PROGRAMS)
    parts: list[str] = []
    params: list[Any] = []
    with translation.override("zh-hans"):
        for pair in EXCLUSIVE_PROGRAMS:
            key = f"{pair.first}+{pair.second}"
            first_label, second_label = str(Program(pair.first).label), str(Program(pair.second).label)
            if pair.household:
                join = (
                    f"JOIN {m} m ON m.person_id = a.person_id AND m.end_date IS NULL "
                    f"JOIN {r} b ON b.household_id = m.household_id"
                )
                where_text = f"所在家庭同时享受{second_label}"
            else:
                join = f"JOIN {r} b ON b.person_id = a.person_id"
                where_text = f"同时享受{second_label}"
            parts.append(
                f"SELECT {code} AS check_code, 'p' || {_str('a.person_id')} || {_lit(':' + key)} AS subject_key, "
                "tw.parent_id AS county_id, a.region_id AS region_id, a.region_path AS region_path, "
                "b.household_id AS household_id, a.person_id AS person_id, a.id AS recipient_id, "
                f"a.application_id AS application_id, {NULL_ID} AS staff_id, "
                f"{_lit(f'{first_label}对象{where_text}，两项待遇不得重复享受（依据：{pair.basis}）')} AS description, "
                f"{_json(pair=f'CAST({_lit(key)} AS VARCHAR(40))', first_recipient_id='a.id', second_recipient_id='b.id', first_program='a.program', second_program='b.program', first_status='a.status', second_status='b.status')} AS evidence "  # noqa: E501
                f"FROM {r} a {join} {_county_joins('a.region_id')} "
                f"WHERE a.program = {_lit(pair.first)} AND a.status IN {_in(LIVE_RECIPIENT_STATUSES)} "
                f"AND b.program = {_lit(pair.second)} AND b.status IN {_in(LIVE_RECIPIENT_STATUSES)} "
                "AND a.region_path LIKE %s"
            )
            params.append(_scope_param(ctx))
    return _insert(ctx, " UNION ALL ".join(parts), params)


# ---- (c) persons in two households ------------------------------------------------------------------------


def _identity_key(column: str) -> str:
    """The first 17 characters of an 18-digit number (the check character follows from them), with an old
    15-digit number upgraded (address code + '19' + the rest): one key per real person."""
    return (
        f"CASE WHEN LENGTH({column}) = 15 THEN SUBSTR({column}, 1, 6) || '19' || SUBSTR({column}, 7, 9) "
        f"ELSE UPPER(SUBSTR({column}, 1, 17)) END"
    )


def check_two_households(ctx: Context) -> int:
    """A person in two households at once. Two live memberships are impossible by construction (the partial
    unique constraint `membership_one_live_household_per_person`), so this finds what the registry does allow:
    (1) memberships of one person in two households whose dated periods overlap (a later membership started
    before the earlier one ended; a move on the same day is not an overlap), and (2) one real person stored as two
    Person rows: the same number as an old 15-digit and an 18-digit number, or 18-digit numbers differing only in
    the check character or in the case of 'x'."""
    m, h, p = _t(Membership), _t(Household), _t(Person)
    code = _lit(CheckCode.TWO_HOUSEHOLDS)
    overlap = (
        f"SELECT {code} AS check_code, 'm' || {_str('m1.id')} || '+' || {_str('m2.id')} AS subject_key, "
        "tw.parent_id AS county_id, h.region_id AS region_id, v.path AS region_path, m2.household_id AS household_id, "
        f"m1.person_id AS person_id, {NULL_ID} AS recipient_id, {NULL_ID} AS application_id, {NULL_ID} AS staff_id, "
        "'同一人员在' || " + _str("m2.start_date") + " || '起同时登记在两户（另一户成员关系'"
        " || CASE WHEN m1.end_date IS NULL THEN '仍有效' ELSE '至' || " + _str("m1.end_date") + " || '止' END"
        " || '），请核实并终止其中一户的成员关系' AS description, "
        f"{_json(first_household_id='m1.household_id', first_start='m1.start_date', first_end='m1.end_date', second_household_id='m2.household_id', second_start='m2.start_date', second_end='m2.end_date')} AS evidence "  # noqa: E501
        f"FROM {m} m1 JOIN {m} m2 ON m2.person_id = m1.person_id AND m2.id > m1.id "
        "AND m2.household_id <> m1.household_id "
        f"AND m1.start_date < COALESCE(m2.end_date, {_lit(FAR_FUTURE)}) "
        f"AND m2.start_date < COALESCE(m1.end_date, {_lit(FAR_FUTURE)}) "
        f"JOIN {h} h ON h.id = m2.household_id {_county_joins('h.region_id')} "
        "WHERE v.path LIKE %s"
    )
    key = _identity_key("id_number")
    duplicates = (
        f"SELECT {code}, 'p' || {_str('d.first_id')} || '+' || {_str('d.second_id')}, tw.parent_id, "
        "COALESCE(h1.region_id, h2.region_id), v.path, COALESCE(m1.household_id, m2.household_id), d.first_id, "
        f"{NULL_ID}, {NULL_ID}, {NULL_ID}, "
        "'同一公民身份号码登记为' || " + _str("d.n") + " || '个人员（新旧号码或校验位、大小写不同），请合并为一人', "
        f"{_json(first_person_id='d.first_id', second_person_id='d.second_id', count='d.n', first_household_id='m1.household_id', second_household_id='m2.household_id')} "  # noqa: E501
        f"FROM (SELECT MIN(id) AS first_id, MAX(id) AS second_id, COUNT(*) AS n FROM {p} GROUP BY {key} "
        "HAVING COUNT(*) > 1) d "
        f"LEFT JOIN {m} m1 ON m1.person_id = d.first_id AND m1.end_date IS NULL "
        f"LEFT JOIN {h} h1 ON h1.id = m1.household_id "
        f"LEFT JOIN {m} m2 ON m2.person_id = d.second_id AND m2.end_date IS NULL "
        f"LEFT JOIN {h} h2 ON h2.id = m2.household_id "
        f"{_county_joins('COALESCE(h1.region_id, h2.region_id)')} "
        "WHERE v.path LIKE %s"
    )
    scope = _scope_param(ctx)
    return _insert(ctx, f"{overlap} UNION ALL {duplicates}", [scope, scope])


# ---- (d) undeclared kinship with staff or cadres ----------------------------------------------------------


def _relation_group(column: str) -> str:
    whens = " ".join(f"WHEN {column} IN {_in(codes)} THEN {_lit(group)}" for group, codes in RELATION_GROUPS.items())
    return f"CASE {whens} END"


def _kin_label(pair_expr: str) -> str:
    whens = " ".join(f"WHEN {pair_expr} IN {_in(pairs)} THEN {_lit(label)}" for label, pairs in KIN_PAIRS.items())
    return f"CASE {whens} END"


def check_undeclared_kin(ctx: Context) -> int:
    """Recipients related to assistance staff or village cadres (imported lists, matched by ID number) whose
    application did not declare the kinship (2012 审核审批办法 art. 14; 2021 审核确认办法 art. 11). Related means:
    the staff member lives in the recipient's household, or shares (or shared) a household with the applicant or
    the person receiving, with relations to the head that make them spouses, parent and child, siblings, or
    grandparent and grandchild (KIN_PAIRS over GB/T 4761 codes). The staff member's term must overlap the time
    from the application to today."""
    r, a, m, p, s = _t(Recipient), _t(Application), _t(Membership), _t(Person), _t(StaffMember)
    live = _in(LIVE_RECIPIENT_STATUSES)
    term = "st.from_date <= %s AND (st.to_date IS NULL OR st.to_date >= {received})"
    targets = (
        f"SELECT r.id AS recipient_id, ap.applicant_id AS person_id, ap.received_on AS received_on "
        f"FROM {r} r JOIN {a} ap ON ap.id = r.application_id "
        f"WHERE r.status IN {live} AND ap.kin_declared = FALSE AND r.region_path LIKE %s "
        "UNION ALL "
        f"SELECT r.id, r.person_id, ap.received_on FROM {r} r JOIN {a} ap ON ap.id = r.application_id "
        f"WHERE r.person_id IS NOT NULL AND r.person_id <> ap.applicant_id AND r.status IN {live} "
        "AND ap.kin_declared = FALSE AND r.region_path LIKE %s"
    )
    pair = f"{_relation_group('ms.relation')} || {_relation_group('mt.relation')}"
    links = (
        # The staff member lives in the recipient's household.
        f"SELECT r.id AS recipient_id, st.id AS staff_id, {_lit(SAME_HOUSEHOLD)} AS relation, "
        "ap.applicant_id AS person_id "
        f"FROM {s} st JOIN {p} ps ON ps.id_number = st.id_number "
        f"JOIN {m} ms ON ms.person_id = ps.id AND ms.end_date IS NULL "
        f"JOIN {r} r ON r.household_id = ms.household_id JOIN {a} ap ON ap.id = r.application_id "
        f"WHERE r.status IN {live} AND ap.kin_declared = FALSE AND r.region_path LIKE %s "
        f"AND {term.format(received='ap.received_on')} "
        "UNION ALL "
        # Close kin through a household both belong or belonged to.
        f"SELECT t.recipient_id, st.id, {_kin_label(pair)}, t.person_id "
        f"FROM {s} st JOIN {p} ps ON ps.id_number = st.id_number "
        f"JOIN {m} ms ON ms.person_id = ps.id "
        f"JOIN {m} mt ON mt.household_id = ms.household_id AND mt.person_id <> ms.person_id "
        f"JOIN ({targets}) t ON t.person_id = mt.person_id "
        f"WHERE {_kin_label(pair)} IS NOT NULL AND {term.format(received='t.received_on')}"
    )
    code = _lit(CheckCode.UNDECLARED_KIN)
    kind = _labels("st.kind", StaffKind)
    program = _labels("r.program", Program)
    select = (
        f"SELECT {code} AS check_code, 'r' || {_str('k.recipient_id')} || ':s' || {_str('k.staff_id')} AS subject_key, "
        "tw.parent_id AS county_id, r.region_id AS region_id, r.region_path AS region_path, "
        "r.household_id AS household_id, k.person_id AS person_id, r.id AS recipient_id, "
        "r.application_id AS application_id, k.staff_id AS staff_id, "
        f"{program} || '对象与' || sr.name || {kind} || '存在近亲属关系（' || k.relation || "
        "'），申请时未进行近亲属备案' AS description, "
        f"{_json(relation='k.relation', staff_kind='st.kind', staff_region='st.region_id', staff_from='st.from_date', staff_to='st.to_date', program='r.program')} AS evidence "  # noqa: E501
        f"FROM (SELECT recipient_id, staff_id, MIN(relation) AS relation, MIN(person_id) AS person_id "
        f"FROM ({links}) l GROUP BY recipient_id, staff_id) k "
        f"JOIN {r} r ON r.id = k.recipient_id JOIN {s} st ON st.id = k.staff_id "
        f"JOIN {_t(Region)} sr ON sr.code = st.region_id {_county_joins('r.region_id')}"
    )
    scope = _scope_param(ctx)
    return _insert(ctx, select, [scope, ctx.today, scope, scope, ctx.today])


# ---- (e) approvals without verification -------------------------------------------------------------------


def check_unverified_approval(ctx: Context) -> int:
    """New applications of programs that require 信息核对 (VERIFICATION_REQUIRED) approved although the
    authorisation was not signed, or the verification step is missing, not done, or its result is not a pass."""
    a, d, st, r = _t(Application), _t(Decision), _t(CaseStep), _t(Recipient)
    result = _json_text("vs.payload", "result")
    program = _labels("a.program", Program)
    code = _lit(CheckCode.UNVERIFIED_APPROVAL)
    select = (
        f"SELECT {code} AS check_code, 'a' || {_str('a.id')} AS subject_key, tw.parent_id AS county_id, "
        "a.region_id AS region_id, a.region_path AS region_path, a.household_id AS household_id, "
        "a.subject_person_id AS person_id, "
        f"(SELECT MIN(rr.id) FROM {r} rr WHERE rr.application_id = a.id) AS recipient_id, "
        f"a.id AS application_id, {NULL_ID} AS staff_id, "
        f"{program} || '申请于' || {_str('d.decided_on')} || '获批准，但' || CASE "
        "WHEN a.verification_authorised = FALSE THEN '申请人未签署家庭经济状况核对授权书' "
        "WHEN vs.id IS NULL THEN '案件没有信息核对环节' "
        "WHEN vs.status <> 'done' THEN '信息核对环节未办结' "
        "ELSE '信息核对结果不是“符合”' END AS description, "
        f"{_json(decided_on='d.decided_on', program='a.program', authorised=_bool_text('a.verification_authorised'), verification_status='vs.status', verification_result=result, verified_on='vs.acted_on')} AS evidence "  # noqa: E501
        f"FROM {a} a JOIN {d} d ON d.application_id = a.id "
        f"LEFT JOIN {st} vs ON vs.application_id = a.id AND vs.code = 'verification' "
        f"{_county_joins('a.region_id')} "
        f"WHERE a.status = 'approved' AND d.outcome = 'approved' AND a.kind = 'new' "
        f"AND a.program IN {_in(VERIFICATION_REQUIRED)} AND a.region_path LIKE %s "
        f"AND (a.verification_authorised = FALSE OR vs.id IS NULL OR vs.status <> 'done' "
        f"OR {result} IS NULL OR {result} <> 'pass')"
    )
    return _insert(ctx, select, [_scope_param(ctx)])


def _bool_text(column: str) -> str:
    return f"CASE WHEN {column} THEN 'yes' ELSE 'no' END"


CHECKS: dict[str, Callable[[Context], int]] = {
    CheckCode.DECEASED_RECIPIENT: check_deceased_recipient,
    CheckCode.EXCLUSIVE_PROGRAMS: check_exclusive_programs,
    CheckCode.TWO_HOUSEHOLDS: check_two_households,
    CheckCode.UNDECLARED_KIN: check_undeclared_kin,
    CheckCode.UNVERIFIED_APPROVAL: check_unverified_approval,
}
