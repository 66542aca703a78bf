"""API shapes of payrolls, bank files, return files and payments. Outputs list their fields explicitly; money leaves
as a decimal string, months as YYYY-MM, account numbers masked (first 4 and last 4 digits)."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

from doudi.registry.schemas import Money


class PayrollGenerateIn(Schema):
    county_code: str = Field(examples=["469001000000"], description="县级区划代码")
    program: str = Field(examples=["dibao"])
    month: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-01"], description="发放月份 YYYY-MM")


class VersionIn(Schema):
    version: int = Field(description="读取名册时的版本号；名册已变化时返回409")


class ReissueIn(Schema):
    line_ids: list[int] | None = Field(None, description="只重新发放这些失败明细；为空则全部已更正账户的失败明细")


class StatusTotalOut(Schema):
    status: str
    failure_reason: str
    count: int
    amount: Money


class PayrollOut(Schema):
    id: int
    region_code: str
    region_name: str
    program: str
    program_label: str
    month: str
    status: str
    status_label: str
    line_count: int
    total_amount: Money
    exports: int = Field(description="已生成的银行文件批次数")
    version: int
    created_at: dt.datetime
    approved_at: dt.datetime | None


class PayrollDetailOut(PayrollOut):
    partial: bool = Field(description="乡镇只看到本乡镇的明细")
    totals: list[StatusTotalOut]
    count: int = Field(description="未取消的明细笔数（本人可见部分）")
    amount: Money
    pending_differences: int
    failed: int
    unsent: int = Field(description="尚未进入银行文件的明细")
    approved_by_name: str | None


class PayrollLineOut(Schema):
    id: int
    recipient_id: int
    household_id: int
    household_number: str
    person_id: int | None
    name: str | None = Field(description="个人项目为本人，家庭项目为户主")
    amount: Money
    bank_code: str
    bank_name: str
    account_masked: str
    holder_name: str
    status: str
    failure_reason: str
    attempt: int
    batch: int
    paid_at: dt.datetime | None


class PayrollLinePageOut(Schema):
    items: list[PayrollLineOut]
    next_after: int | None
    page_size: int


class DifferenceOut(Schema):
    id: int
    recipient_id: int
    household_id: int
    kind: str
    kind_label: str
    old_amount: Money | None
    new_amount: Money | None
    status: str


class DifferencesResultOut(Schema):
    applied: int
    not_applied: int
    lines_added: int
    payroll: PayrollOut


class ReturnResultOut(Schema):
    paid: int
    failed: int
    total_paid: Money
    reconciled: bool
    payroll: PayrollOut


class ReissueResultOut(Schema):
    reissued: int
    not_corrected: list[int] = Field(description="账户尚未更正、未重新发放的明细")
    payroll: PayrollOut


class BankAccountIn(Schema):
    bank_code: str = Field(examples=["ABC"])
    bank_name: str = Field(examples=["中国农业银行"])
    account_number: str = Field(examples=["6228480000000000000"])
    holder_name: str
    person_id: int | None = Field(None, description="个人项目：登记在本户某成员名下；为空则为家庭账户")


class BankAccountOut(Schema):
    id: int
    household_id: int | None
    person_id: int | None
    bank_code: str
    bank_name: str
    account_masked: str
    holder_name: str
    active: bool
    created_at: dt.datetime


class PaymentOut(Schema):
    month: str
    program: str
    person_id: int | None
    amount: Money
    status: str
    failure_reason: str
    attempt: int
    bank_name: str
    account_masked: str
    paid_at: dt.datetime | None
    payroll_id: int


class HouseholdPaymentsOut(Schema):
    account: BankAccountOut | None = Field(description="家庭的有效发放账户")
    payments: list[PaymentOut]
