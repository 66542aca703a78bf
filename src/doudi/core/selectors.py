"""Reads owned by the core app. Every list is restricted to the caller's region subtree."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import QuerySet

from doudi.core.choices import RegionLevel
from doudi.core.errors import NotFound
from doudi.core.models import AddressCode, AuditLog, Region
from doudi.core.scope import Scope


def region_get(*, scope: Scope, code: str) -> Region:
    region = scope.regions().filter(code=code).first()
    if region is None:
        raise NotFound("区划不存在或不在您的管辖范围内", "region_code")
    return region


def region_list(*, scope: Scope, level: str | None = None, parent_code: str | None = None) -> QuerySet[Region]:
    qs = scope.regions()
    if level:
        qs = qs.filter(level=level)
    if parent_code:
        qs = qs.filter(parent_id=parent_code)
    return qs.order_by("code")


def village_choices(*, scope: Scope) -> list[tuple[str, str]]:
    return list(region_list(scope=scope, level=RegionLevel.VILLAGE).values_list("code", "name"))


def address_code_checker() -> Callable[[str], bool]:
    """A checker for 6-digit ID address codes (current or obsolete), loading the table once.

    Codes of a province whose list is loaded (Hainan ships its own) must be in the table; for other
    provinces, whose full lists operators have not loaded, the province prefix is checked.
    """
    from doudi.core.idnumber import PROVINCE_PREFIXES

    known = set(AddressCode.objects.values_list("code", flat=True))
    loaded_provinces = {c[:2] for c in known}

    def check(code: str) -> bool:
        if code in known:
            return True
        prefix = code[:2]
        return prefix in PROVINCE_PREFIXES and prefix not in loaded_provinces

    return check


def audit_for_household(*, scope: Scope, household_id: int, limit: int = 200) -> QuerySet[AuditLog]:
    scope.require_personal()
    return (
        AuditLog.objects.filter(household_id=household_id, region__path__startswith=scope.region_path)
        .select_related("actor")
        .order_by("-at", "-id")[:limit]
    )
