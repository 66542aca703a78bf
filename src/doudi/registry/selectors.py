"""Registry reads, always within the caller's region subtree; lists page by keyset (id), never OFFSET."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Substr

from doudi.core.errors import ApplicationError, NotFound
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.registry.models import AssetItem, ExpenseItem, Household, IncomeItem, Membership, Person

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
ID_QUERY_RE = re.compile(r"^\d{15}$|^\d{17}[\dXx]$")


@dataclass(frozen=True)
class Page:
    items: Sequence[Household]
    next_after: int | None
    page_size: int
    filters: dict[str, Any] = field(default_factory=dict)


def households_in_scope(*, scope: Scope) -> QuerySet[Household]:
    """All households the caller may see. Personal-record roles only."""
    scope.require_personal()
    return Household.objects.filter(region__path__startswith=scope.region_path)


def household_search(
    *, scope: Scope, q: str = "", village_code: str = "", after: int | None = None, page_size: int = PAGE_SIZE
) -> Page:
    """Search by person name (prefix, any live member), ID number, household number, or village.

    Keyset paging by id. The page of ids is found first (index-only where possible) and only those rows are
    loaded with their region and head, so a common name costs one short index scan, not a join per match.
    An 18-digit query may be an ID number or a full household number: both are matched.
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ApplicationError("invalid", f"每页条数应在1到{MAX_PAGE_SIZE}之间", "page_size")
    qs = households_in_scope(scope=scope)
    q = (q or "").strip()
    if village_code:
        qs = qs.filter(region_id=village_code)
    if q:
        live = Membership.objects.filter(end_date__isnull=True)
        if ID_QUERY_RE.match(q):
            from doudi.core import idnumber

            number = idnumber.upgrade_15(q) if len(q) == 15 else q.upper()
            # Two unique-index lookups resolved first: an OR across a semi-join defeats both indexes.
            candidates = list(live.filter(person__id_number=number).values_list("household_id", flat=True))
            candidates += Household.objects.filter(number=q).values_list("pk", flat=True)
            qs = qs.filter(pk__in=candidates)
        elif q.isdigit() and len(q) >= 12:
            qs = qs.filter(number__startswith=q)
        else:
            qs = qs.filter(pk__in=live.filter(person__name__startswith=q).values("household_id"))
    if after is not None:
        qs = qs.filter(pk__gt=after)
    ids = list(qs.order_by("pk").values_list("pk", flat=True)[: page_size + 1])
    has_more = len(ids) > page_size
    ids = ids[:page_size]
    live_members = Count("memberships", filter=Q(memberships__end_date__isnull=True))
    rows = (
        list(
            Household.objects.filter(pk__in=ids)
            .select_related("region", "head")
            .annotate(member_count=live_members)
            .order_by("pk")
        )
        if ids
        else []
    )
    return Page(
        items=rows,
        next_after=ids[-1] if has_more else None,
        page_size=page_size,
        filters={"q": q, "village_code": village_code},
    )


def household_get_by_number(*, scope: Scope, number: str, field: str = "household_number") -> Household:
    """A household in scope by its 18-digit number (village code + sequence)."""
    number = (number or "").strip()
    if len(number) != 18 or not number.isdigit():
        raise ApplicationError("invalid", "户编号应为18位数字", field)
    household = households_in_scope(scope=scope).select_related("region", "head").filter(number=number).first()
    if household is None:
        raise ApplicationError("unknown_household", "户编号不存在或不在您的管辖范围内", field, status=404)
    return household


def live_membership(*, scope: Scope, person_id: int) -> Membership | None:
    """The person's current membership, if its household is in scope."""
    scope.require_personal()
    return (
        Membership.objects.select_related("household", "household__region")
        .filter(person_id=person_id, end_date__isnull=True, household__region__path__startswith=scope.region_path)
        .first()
    )


def household_get(*, scope: Scope, household_id: int) -> Household:
    household = households_in_scope(scope=scope).select_related("region", "head").filter(pk=household_id).first()
    if household is None:
        raise NotFound("家庭不存在或不在您的管辖范围内", "household_id")
    return household


@dataclass(frozen=True)
class HouseholdDetail:
    household: Household
    members: list[Membership]
    former_members: list[Membership]
    incomes: list[IncomeItem]
    assets: list[AssetItem]
    expenses: list[ExpenseItem]


def _items(model: Any, household: Household) -> list[Any]:
    return list(model.objects.filter(household=household).select_related("person").order_by("-start_date", "pk"))


def household_detail(*, scope: Scope, household_id: int, as_of: dt.date | None = None) -> HouseholdDetail:
    household = household_get(scope=scope, household_id=household_id)
    memberships = list(
        Membership.objects.filter(household=household).select_related("person").order_by("relation", "start_date", "pk")
    )
    return HouseholdDetail(
        household=household,
        members=[m for m in memberships if m.end_date is None],
        former_members=[m for m in memberships if m.end_date is not None],
        incomes=_items(IncomeItem, household),
        assets=_items(AssetItem, household),
        expenses=_items(ExpenseItem, household),
    )


def person_get(*, scope: Scope, person_id: int) -> Person:
    scope.require_personal()
    # Only through a live membership: a region does not keep reading persons who moved away.
    visible = Membership.objects.filter(
        person=OuterRef("pk"), end_date__isnull=True, household__region__path__startswith=scope.region_path
    )
    person = Person.objects.filter(pk=person_id).filter(Exists(visible)).first()
    if person is None:
        raise NotFound("人员不存在或不在您的管辖范围内", "person_id")
    return person


def base_counts(scope: Scope) -> dict[str, int]:
    return Household.objects.filter(region__path__startswith=scope.region_path, status="active").aggregate(
        households=Count("pk"), registered_poor=Count("pk", filter=Q(registered_poor=True))
    )


def household_counts_by_region(*, scope: Scope) -> list[dict[str, Any]]:
    """Aggregates any role may read (supervisors included): households, registered-poor households and
    live persons per child region of the caller's region, in one grouped query (path segments are 13 chars).
    """
    start = len(scope.region_path) + 1
    households = (
        Household.objects.filter(region__path__startswith=scope.region_path, status="active")
        .annotate(child=Substr("region__path", start, 12))
        .values("child")
        .annotate(households=Count("pk"), registered_poor=Count("pk", filter=Q(registered_poor=True)))
        .order_by("child")
    )
    names = dict(Region.objects.filter(parent_id=scope.region_code).values_list("code", "name"))
    if not names:  # a village-level scope has no children: report the village itself
        own = base_counts(scope)
        return [
            {"region_code": scope.region_code, "region_name": Region.objects.get(code=scope.region_code).name, **own}
        ]
    return [
        {
            "region_code": row["child"],
            "region_name": names.get(row["child"], row["child"]),
            "households": row["households"],
            "registered_poor": row["registered_poor"],
        }
        for row in households
        if row["child"]
    ]
