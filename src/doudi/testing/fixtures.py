"""Shared pytest fixtures: a small synthetic region tree, one user per role, and household builders.

Two counties are involved so that every access test has an "outside" region to prove it cannot reach.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

import pytest

from doudi.core import idnumber
from doudi.core.choices import Role
from doudi.core.models import Region, User
from doudi.core.scope import Scope, scope_for
from doudi.core.services import region_path

PASSWORD = "Doudi-Test-Pass-2026"  # noqa: S105


@dataclass
class Tree:
    province: Region
    county: Region  # 五指山市 469001
    township: Region
    village: Region
    village2: Region
    other_county: Region  # 琼海市 469002
    other_township: Region
    other_village: Region


def _region(code: str, name: str, level: str, parent: Region) -> Region:
    return Region.objects.create(
        code=code, name=name, level=level, parent=parent, path=region_path(parent, code), synthetic=True
    )


def ensure_base_data() -> None:
    """Reload what the data migrations install (Hainan regions, address codes, default workflows) when a
    transactional test's closing flush has wiped it, so test order never matters."""
    if Region.objects.filter(code="460000000000").exists():
        return
    import importlib

    from django.apps import apps

    for module in (
        "doudi.core.migrations.0002_hainan_regions_address_codes",
        "doudi.cases.migrations.0002_default_workflows",
    ):
        try:
            migration = importlib.import_module(module)
        except ImportError:  # pragma: no cover - app not installed
            continue
        loader = getattr(migration, "load", None) or getattr(migration, "install", None)
        if loader is not None:
            loader(apps, None)  # the loaders use the ORM only


@pytest.fixture
def tree(db: Any) -> Tree:
    ensure_base_data()
    province = Region.objects.get(code="460000000000")
    county = Region.objects.get(code="469001000000")
    other_county = Region.objects.get(code="469002000000")
    township = _region("469001100000", "测试镇", "township", county)
    other_township = _region("469002100000", "外县镇", "township", other_county)
    return Tree(
        province=province,
        county=county,
        township=township,
        village=_region("469001100201", "甲村", "village", township),
        village2=_region("469001100202", "乙村", "village", township),
        other_county=other_county,
        other_township=other_township,
        other_village=_region("469002100201", "外县村", "village", other_township),
    )


@dataclass
class Users:
    village_worker: User
    township_reviewer: User
    county_approver: User
    county_verifier: User
    supervisor: User
    admin: User
    outsider: User  # a county approver of the other county

    def all(self) -> dict[str, User]:
        return dict(self.__dict__)


def make_user(username: str, role: str, region: Region) -> User:
    return User.objects.create_user(username=username, password=PASSWORD, role=role, region=region, full_name=username)


@pytest.fixture
def users(tree: Tree) -> Users:
    return Users(
        village_worker=make_user("vw", Role.VILLAGE_WORKER, tree.village),
        township_reviewer=make_user("tr", Role.TOWNSHIP_REVIEWER, tree.township),
        county_approver=make_user("ca", Role.COUNTY_APPROVER, tree.county),
        county_verifier=make_user("cv", Role.COUNTY_VERIFIER, tree.county),
        supervisor=make_user("sv", Role.SUPERVISOR, tree.province),
        admin=make_user("ad", Role.ADMIN, tree.province),
        outsider=make_user("out", Role.COUNTY_APPROVER, tree.other_county),
    )


@pytest.fixture
def county_scope(users: Users) -> Scope:
    return scope_for(users.county_approver)


@pytest.fixture
def admin_scope(users: Users) -> Scope:
    return scope_for(users.admin)


_sequence = itertools.count(11)


def new_id(birth: dt.date = dt.date(1980, 5, 17), *, male: bool = True, address: str = "469001") -> str:
    """A fresh valid ID number (unique within a test session)."""
    seq = next(_sequence) % 500 * 2 + (1 if male else 0)
    if seq == 0:
        seq = 2
    return idnumber.make(address, birth, seq)


def person_data(
    name: str = "王小明", *, birth: dt.date = dt.date(1980, 5, 17), male: bool = True, **extra: Any
) -> dict[str, Any]:
    return {"id_number": new_id(birth, male=male), "name": name, **extra}


def make_household(
    scope: Scope, village: Region, *, members: int = 2, registered_poor: bool = False, head_name: str = "王大山"
) -> Any:
    from doudi.registry import services

    household = services.household_create(
        scope=scope,
        region_code=village.code,
        data={"address": f"{village.name}1号", "hukou_type": "rural", "registered_poor": registered_poor},
    )
    services.member_add(
        scope=scope,
        household_id=household.pk,
        relation="02",
        start_date="2020-01-01",
        data=person_data(head_name, birth=dt.date(1970, 3, 1)),
    )
    for i in range(members - 1):
        services.member_add(
            scope=scope,
            household_id=household.pk,
            relation="30",
            start_date="2020-01-01",
            data=person_data(f"王{'一二三四五六七八九'[i % 9]}妹", birth=dt.date(2005, 1, 1 + i), male=False),
        )
    household.refresh_from_db()
    return household
