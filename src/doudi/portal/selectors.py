"""Portal reads that are not case or registry data: the region tree (public statistical divisions), the counties'
public contact details, the standards in force (public parameters). Case and registry data come only through
`doudi.cases.disclosure`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from doudi.core.choices import RegionLevel
from doudi.core.errors import NotFound
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.portal.models import CountyContact

PROVINCE_CODE = "460000000000"


@dataclass(frozen=True)
class PublicRegion:
    code: str
    name: str
    level: str
    path: str


@dataclass(frozen=True)
class RegionPage:
    region: PublicRegion
    ancestors: tuple[PublicRegion, ...]  # province first, without the region itself
    children: tuple[PublicRegion, ...]

    def ancestor(self, level: str) -> PublicRegion | None:
        if self.region.level == level:
            return self.region
        return next((r for r in self.ancestors if r.level == level), None)


def _public(region: Region) -> PublicRegion:
    return PublicRegion(code=region.code, name=region.name, level=region.level, path=region.path)


_paths: dict[str, tuple[str, str]] = {}


def region_path_level(*, code: str) -> tuple[str, str] | None:
    """(materialised path, level) of a region, remembered by the process: region codes and their places in the tree
    do not change while the server runs (a region that does not exist is looked up again next time)."""
    known = _paths.get(code)
    if known is None and code.isdigit() and len(code) == 12:
        row = Region.objects.filter(code=code).values_list("path", "level").first()
        if row is not None:
            known = _paths[code] = (row[0], row[1])
    return known


def region_page(*, code: str) -> RegionPage:
    """A region with its ancestors and children (two queries). Unknown codes are a 404."""
    region = Region.objects.filter(code=code).first() if code.isdigit() and len(code) == 12 else None
    if region is None:
        raise NotFound("区划不存在", "code")
    codes = [c for c in region.path.split("/") if c and c != region.code]
    ancestors = sorted(Region.objects.filter(code__in=codes), key=lambda r: len(r.path))
    children = Region.objects.filter(parent=region).order_by("code")
    return RegionPage(
        region=_public(region),
        ancestors=tuple(_public(r) for r in ancestors),
        children=tuple(_public(r) for r in children),
    )


def home_regions() -> tuple[PublicRegion, tuple[tuple[PublicRegion, tuple[PublicRegion, ...]], ...]]:
    """The province and, for each of its children (cities and directly administered county-level units), the
    county-level units under it (a city's districts): two queries."""
    province = Region.objects.get(code=PROVINCE_CODE)
    top = list(Region.objects.filter(parent=province).order_by("code"))
    below: dict[str, list[PublicRegion]] = {}
    for r in Region.objects.filter(parent__in=[t.code for t in top], level=RegionLevel.COUNTY).order_by("code"):
        assert r.parent_id is not None
        below.setdefault(r.parent_id, []).append(_public(r))
    return _public(province), tuple((_public(t), tuple(below.get(t.code, []))) for t in top)


@dataclass(frozen=True)
class PublicContact:
    county: str
    office: str
    address: str
    phone: str
    hotline: str
    hours: str
    updated_on: dt.date


def county_contact(*, county_code: str) -> PublicContact | None:
    contact = CountyContact.objects.select_related("region").filter(region_id=county_code).first()
    if contact is None:
        return None
    return PublicContact(
        county=contact.region.name,
        office=contact.office,
        address=contact.address,
        phone=contact.phone,
        hotline=contact.hotline,
        hours=contact.hours,
        updated_on=contact.updated_at.date(),
    )


@dataclass(frozen=True)
class ContactRow:
    county: PublicRegion
    contact: CountyContact | None


def contact_rows(*, scope: Scope) -> list[ContactRow]:
    """The county-level units in the caller's region with their contact row (staff page): two queries."""
    counties = list(
        Region.objects.filter(path__startswith=scope.region_path, level=RegionLevel.COUNTY).order_by("code")
    )
    contacts = {c.region_id: c for c in CountyContact.objects.filter(region__in=counties)}
    return [ContactRow(county=_public(c), contact=contacts.get(c.code)) for c in counties]
