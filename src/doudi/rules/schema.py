"""Input table schemas shared by every program.

A case (one household) and a caseload (many) are the same five tables: ``households``, ``members``,
``incomes``, ``expenses`` and ``assets``.  Optional columns are filled with their documented default
(``None`` means SQL NULL) when absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa

Entity = Literal["household", "member", "income", "expense", "asset"]
ENTITIES: tuple[Entity, ...] = ("household", "member", "income", "expense", "asset")
TABLE_OF: dict[Entity, str] = {
    "household": "households",
    "member": "members",
    "income": "incomes",
    "expense": "expenses",
    "asset": "assets",
}
ENTITY_KEYS: dict[Entity, tuple[str, ...]] = {
    "household": ("household_id",),
    "member": ("household_id", "member_id"),
    "income": (),
    "expense": (),
    "asset": (),
}
# Entities whose variables may be broadcast down to an entity (ancestors).
ANCESTORS: dict[Entity, tuple[Entity, ...]] = {
    "household": (),
    "member": ("household",),
    "income": ("member", "household"),
    "expense": ("member", "household"),
    "asset": ("member", "household"),
}

MONEY_ARROW = pa.decimal128(18, 2)
RATE_ARROW = pa.decimal128(18, 6)

# Codes accepted by the input contract (docs/rules.md lists their meanings).
RELATIONS = ("head", "spouse", "child", "parent", "grandparent", "grandchild", "sibling", "other")
LABOUR_CAPACITIES = ("full", "partial", "none")
MEMBER_STATUSES = (
    "present",
    "clergy_away",
    "in_prison",
    "re_education_through_labour",
    "drug_rehabilitation",
    "missing",
)
SUPPORT_MODES = ("dispersed", "centralised")
SELF_CARE_ITEMS = ("eating", "dressing", "bed_transfer", "toileting", "indoor_walking", "bathing")
INCOME_KINDS = (
    "wage",
    "business",
    "property",
    "transfer_support",
    "pension",
    "basic_pension_base",
    "unemployment_benefit",
    "social_assistance",
    "preferential_treatment",
    "family_planning_award",
    "scholarship",
    "good_samaritan_award",
    "elderly_allowance",
    "disability_subsidy",
    "other",
)
EXPENSE_KINDS = ("medical", "education", "disability_rehabilitation", "rent", "other")
ASSET_KINDS = (
    "deposit",
    "securities",
    "fund",
    "commercial_insurance",
    "internet_finance",
    "creditor_right",
    "vehicle",
    "disabled_mobility_vehicle",
    "ship",
    "housing",
    "non_residential_property",
    "business_registration",
    "other",
)
REQUEST_TYPES = ("emergency", "expense")
REQUEST_GROUPS = ("tekun", "dibao", "other")
FUNERAL_ITEMS = (
    "transport",
    "disinfection",
    "refrigeration",
    "farewell_hall",
    "cremation",
    "urn",
    "ashes_storage",
)
# 中国残疾人分类 (GB/T 26341-2010): 1 视力 2 听力 3 言语 4 肢体 5 智力 6 精神 7 多重.
DISABILITY_VISUAL, DISABILITY_PHYSICAL, DISABILITY_INTELLECTUAL, DISABILITY_MENTAL = 1, 4, 5, 6


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    required: bool = False
    default: object = None


TABLE_COLUMNS: dict[str, tuple[Column, ...]] = {
    "households": (
        Column("household_id", pa.string(), True),
        Column("region_code", pa.string(), True),
        Column("area", pa.string(), True),
        Column("dibao_recipient", pa.bool_(), default=False),
        Column("gradual_exit_month", pa.int64()),
        Column("gradual_exit_previous_amount", MONEY_ARROW),
        Column("request_type", pa.string()),
        Column("request_group", pa.string()),
        Column("request_persons", pa.int64()),
        Column("request_months", pa.int64()),
        Column("request_expense", MONEY_ARROW),
        Column("request_items", pa.list_(pa.string())),
        Column("request_deceased", pa.string()),
    ),
    "members": (
        Column("household_id", pa.string(), True),
        Column("member_id", pa.string(), True),
        Column("birth_date", pa.date32(), True),
        Column("relation", pa.string(), True),
        Column("labour_capacity", pa.string()),
        Column("disability_category", pa.int64()),
        Column("disability_grade", pa.int64()),
        Column("serious_illness", pa.bool_(), default=False),
        Column("registered_poor", pa.bool_(), default=False),
        Column("student", pa.bool_(), default=False),
        Column("status", pa.string(), default="present"),
        Column("support_mode", pa.string()),
        Column("has_able_supporter", pa.bool_()),
        *(Column(f"self_care_{item}", pa.bool_()) for item in SELF_CARE_ITEMS),
        Column("long_term_care", pa.bool_(), default=False),
        Column("tekun_recipient", pa.bool_(), default=False),
        Column("work_injury_care", pa.bool_(), default=False),
    ),
    "incomes": (
        Column("household_id", pa.string(), True),
        Column("row_id", pa.int64()),
        Column("member_id", pa.string()),
        Column("kind", pa.string(), True),
        Column("monthly_amount", MONEY_ARROW, True),
    ),
    "expenses": (
        Column("household_id", pa.string(), True),
        Column("row_id", pa.int64()),
        Column("member_id", pa.string()),
        Column("kind", pa.string(), True),
        Column("monthly_amount", MONEY_ARROW, True),
    ),
    "assets": (
        Column("household_id", pa.string(), True),
        Column("row_id", pa.int64()),
        Column("member_id", pa.string()),
        Column("kind", pa.string(), True),
        Column("value", MONEY_ARROW, default=0),
        Column("count", pa.int64(), default=1),
    ),
}
TABLE_NAMES: tuple[str, ...] = tuple(TABLE_COLUMNS)


def arrow_schema(table: str) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.type) for c in TABLE_COLUMNS[table]])


def ibis_schema(table: str) -> ibis.Schema:
    return ibis.Schema.from_pyarrow(arrow_schema(table))


def ibis_type(arrow_type: pa.DataType) -> dt.DataType:
    return dt.DataType.from_pyarrow(arrow_type)


def _check_no_clashes() -> None:
    household_cols = {c.name for c in TABLE_COLUMNS["households"]} - {"household_id"}
    for name, cols in TABLE_COLUMNS.items():
        if name != "households":
            clash = household_cols & {c.name for c in cols}
            assert not clash, f"{name} columns clash with household columns: {clash}"


_check_no_clashes()
