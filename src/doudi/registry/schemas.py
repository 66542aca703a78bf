"""API shapes of the registry. Money leaves as a decimal string ("1234.50"), never a float; dates are ISO 8601.

Input schemas check only types; the meaning (valid ID number, code tables, money) is checked by the services'
validation, whose errors name the field, so the API, the forms and the imports refuse the same things.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import PlainSerializer, WithJsonSchema

from doudi.core import idnumber

MONEY_PATTERN = r"^\d{1,8}(\.\d{1,2})?$"


def money_str(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


# Serialised as a string in both the Python and JSON dumps, and documented as a string in the OpenAPI schema.
Money = Annotated[
    Decimal,
    PlainSerializer(money_str, return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "pattern": r"^\d+\.\d{2}$", "examples": ["1234.50"]}),
]
# Accepted as text so that "0.1" stays exactly 0.1; numbers are refused (floats cannot hold cents exactly).
MoneyIn = Annotated[str, Field(examples=["1234.50"], description="十进制金额文本，最多两位小数")]


# --- households -------------------------------------------------------------------------------------------------


class HouseholdListItemOut(Schema):
    id: int
    number: str
    region_code: str = Field(alias="region_id")
    region_name: str = Field(alias="region.name")
    address: str
    hukou_type: str
    registered_poor: bool
    poverty_status: str
    status: str
    head_name: str | None = Field(None, description="户主姓名")
    head_id_number_masked: str | None = Field(None, description="户主身份证号（列表中遮蔽）")
    version: int

    @staticmethod
    def resolve_head_name(obj: Any) -> str | None:
        return obj.head.name if obj.head is not None else None

    @staticmethod
    def resolve_head_id_number_masked(obj: Any) -> str | None:
        return idnumber.mask(obj.head.id_number) if obj.head is not None else None


class HouseholdPageOut(Schema):
    items: list[HouseholdListItemOut]
    next_after: int | None = Field(description="下一页的 after 参数；为空表示没有更多")
    page_size: int


class HouseholdOut(Schema):
    id: int
    number: str
    region_code: str = Field(alias="region_id")
    address: str
    hukou_type: str
    registered_poor: bool
    poverty_status: str
    poverty_exit_year: int | None
    head_person_id: int | None = Field(None, alias="head_id")
    status: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class HouseholdCreateIn(Schema):
    region_code: str = Field(description="村（社区）12位区划代码", examples=["469001100201"])
    address: str
    hukou_type: str = Field(examples=["rural"])
    registered_poor: bool = False
    poverty_status: str | None = None
    poverty_exit_year: int | None = None


class HouseholdPatchIn(Schema):
    version: int = Field(description="读取时的版本号；记录已被他人修改时返回409")
    region_code: str | None = None
    address: str | None = None
    hukou_type: str | None = None
    registered_poor: bool | None = None
    poverty_status: str | None = None
    poverty_exit_year: int | None = None


# --- persons and memberships ------------------------------------------------------------------------------------


class PersonOut(Schema):
    id: int
    id_number: str
    name: str
    sex: str
    birth_date: dt.date
    ethnicity: str
    phone: str
    labour_capacity: str
    disability_category: str
    disability_grade: int | None
    disability_cert_no: str
    serious_illness: bool
    student: bool
    left_behind: str
    hiv: bool
    protection_order: bool
    confidential: bool
    death_date: dt.date | None
    version: int


class MembershipOut(Schema):
    id: int
    household_id: int
    relation: str
    start_date: dt.date
    end_date: dt.date | None
    end_reason: str
    person: PersonOut


class _PersonFields(Schema):
    sex: str | None = None
    birth_date: dt.date | None = None
    ethnicity: str | None = None
    phone: str | None = None
    labour_capacity: str | None = None
    disability_category: str | None = None
    disability_grade: int | None = None
    disability_cert_no: str | None = None
    serious_illness: bool | None = None
    student: bool | None = None
    left_behind: str | None = None
    hiv: bool | None = None
    protection_order: bool | None = None
    confidential: bool | None = None
    death_date: dt.date | None = None


class MemberAddIn(_PersonFields):
    id_number: str = Field(examples=["46900119800517001X"])
    name: str
    relation: str = Field(description="与户主关系（GB/T 4761）", examples=["30"])
    start_date: dt.date | None = None


class PersonPatchIn(_PersonFields):
    version: int
    id_number: str | None = None
    name: str | None = None


class PersonMoveIn(Schema):
    to_household_id: int
    relation: str
    date: dt.date


class MembershipEndIn(Schema):
    end_date: dt.date
    reason: str


# --- dated items ------------------------------------------------------------------------------------------------


class ItemOut(Schema):
    id: int
    kind: str
    person_id: int | None
    start_date: dt.date
    end_date: dt.date | None
    note: str
    monthly_amount: Money | None = Field(None, description="收入、支出：月金额（元）")
    value: Money | None = Field(None, description="财产：价值（元）")
    count: int | None = Field(None, description="财产：数量")


class ItemAddIn(Schema):
    kind: str
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    note: str = ""
    monthly_amount: MoneyIn | None = None
    value: MoneyIn | None = None
    count: int | None = None
    person_id: int | None = None


class ItemEndIn(Schema):
    end_date: dt.date


class HouseholdDetailOut(Schema):
    household: HouseholdOut
    members: list[MembershipOut]
    former_members: list[MembershipOut]
    incomes: list[ItemOut]
    assets: list[ItemOut]
    expenses: list[ItemOut]


class AuditEntryOut(Schema):
    id: int
    at: dt.datetime
    actor_name: str
    action: str
    subject_type: str
    subject_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    note: str


# --- aggregates, imports ----------------------------------------------------------------------------------------


class RegionCountOut(Schema):
    region_code: str
    region_name: str
    households: int
    registered_poor: int


class ImportErrorOut(Schema):
    row: int | None = Field(None, description="文件中的行号（表头为第1行）")
    column: str | None = Field(None, description="列名")
    cell: str = Field("", description="Excel单元格位置，如 J5")
    value: str = Field("", description="单元格内容（身份证号已遮蔽）")
    reason: str


class ImportResultOut(Schema):
    ok: bool
    summary: str
    errors: list[ImportErrorOut]
