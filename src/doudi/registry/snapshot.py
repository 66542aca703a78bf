"""Snapshot the registry to Parquet for caseload jobs (verification, reassessment, payroll).

Columnar and bulk: on PostgreSQL the rows stream out with COPY … TO STDOUT (CSV) into Arrow; on SQLite they
are fetched in large batches. No ORM objects are built. The snapshot is restricted to the caller's scope and to
live memberships and items in force on `as_of`.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from django.db import connection

from doudi.core.scope import Scope

MONEY = pa.decimal128(14, 2)

# (name, SQL select over aliases h = household, r = region, m = membership, p = person, i = item, Arrow schema)
_HOUSEHOLDS = (
    "SELECT h.id AS household_id, h.region_id AS region_code, h.hukou_type AS area, "
    "h.registered_poor AS registered_poor, h.poverty_status AS poverty_status "
    "FROM registry_household h JOIN core_region r ON r.code = h.region_id "
    "WHERE h.status = 'active' AND r.path LIKE %s",
    pa.schema(
        [
            ("household_id", pa.int64()),
            ("region_code", pa.string()),
            ("area", pa.string()),
            ("registered_poor", pa.bool_()),
            ("poverty_status", pa.string()),
        ]
    ),
)
_PERSONS = (
    "SELECT m.household_id AS household_id, p.id AS person_id, p.id_number AS id_number, m.relation AS relation, "
    "p.sex AS sex, p.birth_date AS birth_date, p.labour_capacity AS labour_capacity, "
    "p.disability_category AS disability_category, p.disability_grade AS disability_grade, "
    "p.serious_illness AS serious_illness, p.student AS student, p.death_date AS death_date "
    "FROM registry_membership m JOIN registry_person p ON p.id = m.person_id "
    "JOIN registry_household h ON h.id = m.household_id JOIN core_region r ON r.code = h.region_id "
    "WHERE h.status = 'active' AND m.end_date IS NULL AND r.path LIKE %s",
    pa.schema(
        [
            ("household_id", pa.int64()),
            ("person_id", pa.int64()),
            ("id_number", pa.string()),
            ("relation", pa.string()),
            ("sex", pa.string()),
            ("birth_date", pa.date32()),
            ("labour_capacity", pa.string()),
            ("disability_category", pa.string()),
            ("disability_grade", pa.int16()),
            ("serious_illness", pa.bool_()),
            ("student", pa.bool_()),
            ("death_date", pa.date32()),
        ]
    ),
)


def _items(table: str, amount: str) -> tuple[str, pa.Schema]:
    extra = ", i.count AS count" if table == "registry_assetitem" else ""
    sql = (
        f"SELECT i.household_id AS household_id, i.person_id AS person_id, i.kind AS kind, "  # noqa: S608
        f"i.{amount} AS {amount}{extra} "
        f"FROM {table} i JOIN registry_household h ON h.id = i.household_id "
        "JOIN core_region r ON r.code = h.region_id "
        "WHERE h.status = 'active' AND r.path LIKE %s AND i.start_date <= %s "
        "AND (i.end_date IS NULL OR i.end_date >= %s)"
    )
    fields = [("household_id", pa.int64()), ("person_id", pa.int64()), ("kind", pa.string()), (amount, MONEY)]
    if extra:
        fields.append(("count", pa.int64()))
    return sql, pa.schema(fields)


@dataclass(frozen=True)
class Snapshot:
    directory: Path
    as_of: dt.date
    rows: dict[str, int]

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.parquet"


def _fetch(sql: str, params: list[object], schema: pa.Schema) -> pa.Table:
    if connection.vendor == "postgresql":
        buffer = io.BytesIO()
        with connection.cursor() as cursor:
            raw = cursor.connection  # psycopg 3 connection
            with raw.cursor() as pg, pg.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER true)", params) as copy:
                for chunk in copy:
                    buffer.write(chunk)
        buffer.seek(0)
        if buffer.getbuffer().nbytes == 0:
            return schema.empty_table()
        convert = pacsv.ConvertOptions(
            column_types=schema, strings_can_be_null=False, true_values=["t"], false_values=["f"]
        )
        return pacsv.read_csv(buffer, convert_options=convert).select(schema.names).cast(schema)
    batches = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)  # type: ignore[arg-type]
        while rows := cursor.fetchmany(100_000):
            columns = list(zip(*rows, strict=True))
            arrays = [_array(col, field.type) for col, field in zip(columns, schema, strict=True)]
            batches.append(pa.record_batch(arrays, schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


def _array(values: tuple[object, ...], arrow_type: pa.DataType) -> pa.Array:
    from decimal import Decimal

    if pa.types.is_decimal(arrow_type):
        return pa.array([None if v is None else Decimal(str(v)) for v in values], type=arrow_type)
    if pa.types.is_date32(arrow_type):
        return pa.array(
            [None if v is None else (v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))) for v in values],
            type=arrow_type,
        )
    if pa.types.is_boolean(arrow_type):
        return pa.array([None if v is None else bool(v) for v in values], type=arrow_type)
    return pa.array(values, type=arrow_type)


def snapshot_registry(*, scope: Scope, directory: Path, as_of: dt.date) -> Snapshot:
    """Write households, persons, incomes, assets and expenses in scope to Parquet files in `directory`."""
    scope.require_personal()
    directory.mkdir(parents=True, exist_ok=True)
    prefix = scope.region_path + "%"
    queries: dict[str, tuple[str, pa.Schema, list[object]]] = {
        "households": (*_HOUSEHOLDS, [prefix]),
        "persons": (*_PERSONS, [prefix]),
        "incomes": (*_items("registry_incomeitem", "monthly_amount"), [prefix, as_of, as_of]),
        "assets": (*_items("registry_assetitem", "value"), [prefix, as_of, as_of]),
        "expenses": (*_items("registry_expenseitem", "monthly_amount"), [prefix, as_of, as_of]),
    }
    rows = {}
    for name, (sql, schema, params) in queries.items():
        table = _fetch(sql, params, schema)
        pq.write_table(table, directory / f"{name}.parquet")
        rows[name] = table.num_rows
    return Snapshot(directory=directory, as_of=as_of, rows=rows)
