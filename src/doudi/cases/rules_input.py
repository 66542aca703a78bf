"""Registry household → the `rules` input contract (docs/rules.md), as of a date.

The registry keeps GB/T 4761 relation codes and its own income/asset/expense kinds; `rules` has a smaller,
program-oriented vocabulary. The mapping lives here, beside its only writer of determinations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q

from doudi.registry.models import AssetItem, ExpenseItem, Household, IncomeItem, Membership

INCOME_KIND = {
    "wage": "wage",
    "business": "business",
    "property": "property",
    "support": "transfer_support",
    "pension_basic": "basic_pension_base",
    "pension": "pension",
    "unemployment": "unemployment_benefit",
    "family_planning_award": "family_planning_award",
    "reward_subsidy": "preferential_treatment",
    "social_assistance": "social_assistance",
    "disability_subsidy": "disability_subsidy",
    "other": "other",
}
ASSET_KIND = {
    "deposit": "deposit",
    "securities": "securities",
    "vehicle": "vehicle",
    "disabled_mobility": "disabled_mobility_vehicle",
    "residential_property": "housing",
    "commercial_property": "non_residential_property",
    "business_registration": "business_registration",
    "other": "other",
}
EXPENSE_KIND = {
    "medical": "medical",
    "education": "education",
    "disability": "disability_rehabilitation",
    "rent": "rent",
    "employment_cost": "other",
    "other": "other",
}
IN_LAWS = {"28", "38"}  # 女婿, 儿媳: household members, but not the head's children


def relation_for_rules(code: str) -> str:
    """GB/T 4761-2008 code → rules relation."""
    if code == "02":
        return "head"
    if code in IN_LAWS:
        return "other"
    group = code[:1]
    return {
        "1": "spouse",
        "2": "child",
        "3": "child",
        "4": "grandchild",
        "5": "parent",
        "6": "grandparent",
        "7": "sibling",
    }.get(group, "other")


def _in_force(as_of: dt.date) -> Q:
    return Q(start_date__lte=as_of) & (Q(end_date__isnull=True) | Q(end_date__gte=as_of))


def household_case(
    household: Household,
    *,
    as_of: dt.date,
    dibao_recipient: bool = False,
    request: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The case dict for `rules.evaluate`: members alive and in the household on `as_of`, items in force."""
    memberships = (
        Membership.objects.filter(household=household)
        .filter(_in_force(as_of))
        .filter(Q(person__death_date__isnull=True) | Q(person__death_date__gt=as_of))
        .select_related("person")
        .order_by("pk")
    )
    members: list[dict[str, Any]] = []
    member_ids: set[str] = set()
    for m in memberships:
        p = m.person
        row: dict[str, Any] = {
            "id": str(p.pk),
            "birth_date": p.birth_date.isoformat(),
            "relation": relation_for_rules(m.relation),
            "labour_capacity": p.labour_capacity,
            "serious_illness": p.serious_illness,
            "student": p.student,
            "registered_poor": household.registered_poor,
        }
        if p.disability_category:
            row["disability_category"] = int(p.disability_category)
            row["disability_grade"] = p.disability_grade
        members.append(row)
        member_ids.add(str(p.pk))

    def member_of(item: Any) -> dict[str, str]:
        pid = str(item.person_id) if item.person_id else None
        return {"member": pid} if pid in member_ids else {}

    incomes = [
        {**member_of(i), "kind": INCOME_KIND.get(i.kind, "other"), "monthly_amount": str(i.monthly_amount)}
        for i in IncomeItem.objects.filter(household=household).filter(_in_force(as_of)).order_by("pk")
    ]
    expenses = [
        {**member_of(e), "kind": EXPENSE_KIND.get(e.kind, "other"), "monthly_amount": str(e.monthly_amount)}
        for e in ExpenseItem.objects.filter(household=household).filter(_in_force(as_of)).order_by("pk")
    ]
    assets = [
        {**member_of(a), "kind": ASSET_KIND.get(a.kind, "other"), "value": str(a.value), "count": a.count}
        for a in AssetItem.objects.filter(household=household).filter(_in_force(as_of)).order_by("pk")
    ]
    case: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "region_code": household.region_id,
        "area": household.hukou_type,
        "household": {
            "id": str(household.pk),
            "members": members,
            "incomes": incomes,
            "expenses": expenses,
            "assets": assets,
            "dibao_recipient": dibao_recipient,
        },
    }
    if request:
        case["request"] = request
    return case
