"""Region lists for the public form (the administrative tree is public information): counties, and a county's
townships with their villages."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from doudi.core.choices import RegionLevel
from doudi.core.models import Region


def counties() -> list[tuple[str, str]]:
    """Counties (and county-level units) that have townships, i.e. where complaints can be routed."""
    with_townships = Region.objects.filter(level=RegionLevel.TOWNSHIP).values("parent_id")
    return list(
        Region.objects.filter(level=RegionLevel.COUNTY, code__in=with_townships)
        .order_by("code")
        .values_list("code", "name")
    )


def county_for(code: str) -> Region | None:
    """The county of a county, township or village code (from the form, or from a portal link)."""
    code = code.strip()
    if len(code) != 12 or not code.isdigit():
        return None
    region = Region.objects.filter(code=code).first()
    if region is None:
        return None
    if region.level == RegionLevel.COUNTY:
        return region
    codes = [c for c in region.path.split("/") if c]
    return Region.objects.filter(code__in=codes, level=RegionLevel.COUNTY).first()


def region_choices(county: Region) -> list[tuple[str, Any]]:
    """Grouped choices: each township of the county (itself, then its villages)."""
    rows = list(
        Region.objects.filter(path__startswith=county.path, level__in=(RegionLevel.TOWNSHIP, RegionLevel.VILLAGE))
        .order_by("path")
        .values_list("code", "name", "level", "parent_id")
    )
    townships = [(code, name) for code, name, level, _parent in rows if level == RegionLevel.TOWNSHIP]
    villages: dict[str, list[tuple[str, str]]] = {}
    for code, name, level, parent in rows:
        if level == RegionLevel.VILLAGE and parent:
            villages.setdefault(parent, []).append((code, name))
    return [
        (name, [(code, _("%(name)s（乡镇本级）") % {"name": name}), *villages.get(code, [])])
        for code, name in townships
    ]
