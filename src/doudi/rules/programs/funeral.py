"""惠民殡葬补贴 (funeral subsidy by item).

Legal basis (rules-cn.md §10.1): Hainan 2011 pilot and 《三亚市惠民殡葬补贴实施方案》(2016-05-11) as reported
[NEWS]; province-wide amounts NOT CONFIRMED (the default values copy Sanya's and are unconfirmed).
"""

from __future__ import annotations

from typing import cast

import ibis
import ibis.expr.types as ir

from ..exprs import full_years, money, round_amount, zero
from ..model import Program
from ..schema import FUNERAL_ITEMS

R_SANYA = "三亚市惠民殡葬补贴实施方案 (2016) as reported [NEWS 海口晚报]; rules-cn.md §10.1"

funeral = Program(name="funeral", label="惠民殡葬补贴", reference=R_SANYA)
funeral.request_fields = ("items", "deceased")


def _b(value: ir.Value) -> ir.BooleanValue:
    return cast(ir.BooleanValue, value)


P = funeral.parameter
for _item in FUNERAL_ITEMS:
    P(f"funeral_item_{_item}", f"funeral.item.{_item}", dtype="money", label=f"补贴项目：{_item}")
P("funeral_bonus", "funeral.bonus.amount", dtype="money", label="额外补贴（低保、特困、百岁老人）")
P("funeral_bonus_min_age", "funeral.bonus.min_age", dtype="int", label="额外补贴年龄")

V = funeral.variable


@V(entity="household", dtype="money", label="申请项目补贴合计", reference=R_SANYA,
   uses=[f"funeral_item_{i}" for i in FUNERAL_ITEMS])
def funeral_items_amount(t: ir.Table) -> ir.Value:
    total = zero()
    for item in FUNERAL_ITEMS:
        total = total + ibis.ifelse(_b(t.request_items.contains(item)), t[f"funeral_item_{item}"], zero())
    return money(total)


@V(entity="member", dtype="bool", label="逝者", reference=R_SANYA, uses=["request_deceased"])
def funeral_member_deceased(t: ir.Table) -> ir.Value:
    return t.member_id == t.request_deceased


@V(entity="member", dtype="bool", label="逝者属于额外补贴对象（特困、百岁以上）", reference=R_SANYA,
   uses=["funeral_member_deceased", "as_of", "funeral_bonus_min_age"])
def funeral_member_bonus_group(t: ir.Table) -> ir.Value:
    old = full_years(t.birth_date, t.as_of) >= t.funeral_bonus_min_age
    return _b(t.funeral_member_deceased) & (t.tekun_recipient.fill_null(False) | old)


funeral.aggregate(
    "funeral_deceased_bonus_group", entity="household", source="member", how="any", dtype="bool",
    label="逝者属于额外补贴对象", reference=R_SANYA, uses=["funeral_member_bonus_group"],
    value=lambda t: t.funeral_member_bonus_group,
)


@V(entity="household", dtype="money", label="额外补贴", reference=R_SANYA,
   uses=["funeral_deceased_bonus_group", "funeral_bonus"])
def funeral_bonus_amount(t: ir.Table) -> ir.Value:
    """Dibao households, 特困 and persons aged 100+ get the extra amount."""
    qualifies = _b(t.funeral_deceased_bonus_group) | t.dibao_recipient.fill_null(False)
    return ibis.ifelse(qualifies, t.funeral_bonus, zero())


@V(entity="household", dtype="bool", label="申请了补贴项目", reference=R_SANYA, uses=["funeral_items_amount"])
def funeral_items_test_passed(t: ir.Table) -> ir.Value:
    return t.funeral_items_amount > zero()


@V(entity="household", dtype="bool", label="给予殡葬补贴", reference=R_SANYA, uses=["funeral_items_test_passed"])
def funeral_eligible(t: ir.Table) -> ir.Value:
    return t.funeral_items_test_passed


@V(entity="household", dtype="amount", label="殡葬补贴金额（元）", reference="rounding rule docs/rules.md",
   uses=["funeral_items_amount", "funeral_bonus_amount", "funeral_eligible"])
def funeral_amount(t: ir.Table) -> ir.Value:
    total = money(t.funeral_items_amount + t.funeral_bonus_amount)
    return round_amount(ibis.ifelse(_b(t.funeral_eligible), total, zero()))


funeral.eligible = "funeral_eligible"
funeral.amount = "funeral_amount"
funeral.tests = ("funeral_items_test_passed",)
funeral.outputs = ("funeral_items_amount", "funeral_bonus_amount")
