"""The access matrix: every URL of the project, for every role, against records inside and outside the role's region.

How it works
------------
* `MATRIX` maps each URL name ("namespace:name") to a `Row`: the calls to make (method, path kwargs and body built
  from fixture objects), which roles may use it, and whether the target record's region matters.
* `test_every_url_pattern_is_in_the_access_matrix` walks the URLconf (ninja's API routes included) and FAILS when
  a URL has no row, so a new page or endpoint cannot ship without saying who may use it. Add a row to `MATRIX`.
* `test_access_matrix[<url>-<role>]` makes each call as each role against three households: one in village A
  (甲村), one in village B (乙村, same township) and one in the other county (外县村). The expected status
  follows from the row: 403 when the role may not use the URL at all, 404 when the record is outside the role's
  region, otherwise the row's success codes. Every denied or out-of-region write must leave the database exactly
  as it was (all registry rows, tokens, regions and the audit log are compared).
* Every response body (pages, JSON, CSV downloads, error pages) is searched for names, ID numbers and region
  names from outside the role's region, and every `<option value="…12 digits…">` must be a region in scope, so
  counts, search results, exports and dropdowns cannot leak either.
* Anonymous requests get 401 (API) or a redirect to the login page (pages), and change nothing.

Roles: village_worker (village A), township_reviewer, county_approver, county_verifier (county 469001),
supervisor and admin (province), outsider (county approver of the other county 469002).
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from doudi.core import token_services
from doudi.core.choices import PERSONAL_DATA_ROLES, REGISTRY_BULK_ROLES, REGISTRY_WRITE_ROLES, Role
from doudi.core.models import ApiToken, AuditLog, Region, User
from doudi.core.scope import Scope, scope_for
from doudi.registry import services
from doudi.registry.models import AssetItem, ExpenseItem, Household, IncomeItem, Membership, Person
from doudi.testing.fixtures import make_user, new_id

ROLES = (
    "village_worker",
    "township_reviewer",
    "county_approver",
    "county_verifier",
    "supervisor",
    "admin",
    "outsider",
)
PERSONAL = frozenset(str(r) for r in PERSONAL_DATA_ROLES)
WRITE = frozenset(str(r) for r in REGISTRY_WRITE_ROLES)
BULK = frozenset(str(r) for r in REGISTRY_BULK_ROLES)
ANY = None  # any authenticated role


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Seven users and two peers per test; PBKDF2 at production strength would cost seconds per test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- the world: households in and out of each role's region ---------------------------------------------------


@dataclass
class HouseholdFixture:
    household: Household
    head: Person
    member: Person  # a non-head member
    membership: Membership  # the member's live membership
    income: IncomeItem
    names: tuple[str, ...]
    id_numbers: tuple[str, ...]


@dataclass
class World:
    tree: Any
    users: Any
    households: dict[str, HouseholdFixture]  # A1, A2 (village A), B1 (village B), O1, O2 (other county)
    peers: dict[str, User]  # token owners: a village worker in village A and one in the other county

    def user(self, role: str) -> User:
        return getattr(self.users, role)

    scopes: dict[str, Scope] = field(default_factory=dict)

    def scope(self, role: str) -> Scope:
        if role not in self.scopes:
            self.scopes[role] = scope_for(self.user(role))
        return self.scopes[role]

    def covers(self, role: str, region: Region) -> bool:
        return self.scope(role).covers(region)

    def home(self, role: str) -> HouseholdFixture:
        """A second household the role may write to: the destination of moves."""
        return self.households["A2" if self.covers(role, self.tree.village) else "O2"]

    def outside(self, role: str) -> list[HouseholdFixture]:
        return [h for h in self.households.values() if not self.covers(role, h.household.region)]

    def inside(self, role: str) -> list[HouseholdFixture]:
        return [h for h in self.households.values() if self.covers(role, h.household.region)]

    def foreign_region_names(self, role: str) -> list[str]:
        """Names of test regions neither in the role's region nor above it (those may appear in breadcrumbs)."""
        own = self.user(role).region
        assert own is not None
        regions = [
            self.tree.village,
            self.tree.village2,
            self.tree.township,
            self.tree.county,
            self.tree.other_county,
            self.tree.other_township,
            self.tree.other_village,
        ]
        return [r.name for r in regions if not r.path.startswith(own.path) and not own.path.startswith(r.path)]


def _household(scope: Scope, village: Region, tag: str, address_code: str) -> HouseholdFixture:
    household = services.household_create(
        scope=scope, region_code=village.code, data={"address": f"{tag}号院", "hukou_type": "rural"}
    )
    head_id, member_id = (
        new_id(dt.date(1970, 3, 1), address=address_code),
        new_id(dt.date(2001, 6, 1), male=False, address=address_code),
    )
    services.member_add(
        scope=scope,
        household_id=household.pk,
        relation="02",
        start_date="2020-01-01",
        data={"id_number": head_id, "name": f"{tag}户主"},
    )
    membership = services.member_add(
        scope=scope,
        household_id=household.pk,
        relation="30",
        start_date="2020-01-01",
        data={"id_number": member_id, "name": f"{tag}之女"},
    )
    income = services.item_add(
        scope=scope,
        household_id=household.pk,
        kind_group="income",
        data={"kind": "wage", "monthly_amount": "1500.00", "start_date": "2024-01-01"},
    )
    household.refresh_from_db()
    assert isinstance(income, IncomeItem)
    return HouseholdFixture(
        household=household,
        head=Person.objects.get(id_number=head_id),
        member=membership.person,
        membership=membership,
        income=income,
        names=(f"{tag}户主", f"{tag}之女"),
        id_numbers=(head_id, member_id),
    )


@pytest.fixture
def world(tree, users) -> World:
    admin = scope_for(users.admin)
    households = {
        "A1": _household(admin, tree.village, "甲壹", "469001"),
        "A2": _household(admin, tree.village, "甲贰", "469001"),
        "B1": _household(admin, tree.village2, "乙壹", "469001"),
        "O1": _household(admin, tree.other_village, "外壹", "469002"),
        "O2": _household(admin, tree.other_village, "外贰", "469002"),
    }
    peers = {
        "peer_a": make_user("peer_a", Role.VILLAGE_WORKER, tree.village),
        "peer_o": make_user("peer_o", Role.VILLAGE_WORKER, tree.other_village),
    }
    return World(tree=tree, users=users, households=households, peers=peers)


# --- targets ----------------------------------------------------------------------------------------------------


@dataclass
class Target:
    label: str
    in_scope: bool
    household: HouseholdFixture | None = None
    token: ApiToken | None = None

    @property
    def h(self) -> HouseholdFixture:
        assert self.household is not None
        return self.household


def household_targets(world: World, role: str) -> list[Target]:
    return [
        Target(label, world.covers(role, world.households[label].household.region), world.households[label])
        for label in ("A1", "B1", "O1")
    ]


def token_targets(world: World, role: str) -> list[Target]:
    user = world.user(role)
    own, _ = token_services.api_token_create(scope=scope_for(user), name="本人令牌")
    targets = [Target("own", True, token=own)]
    for name, peer in world.peers.items():
        record, _ = token_services.api_token_create(scope=scope_for(peer), name="他人令牌")
        assert peer.region is not None
        admin_over = role == Role.ADMIN and world.covers(role, peer.region)
        targets.append(Target(name, admin_over, token=record))
    return targets


TARGETS: dict[str, Callable[[World, str], list[Target]]] = {"household": household_targets, "token": token_targets}


# --- calls and rows ---------------------------------------------------------------------------------------------


@dataclass
class Ctx:
    world: World
    role: str
    client: Client
    headers: dict[str, str]
    target: Target | None

    @property
    def user(self) -> User:
        return self.world.user(self.role)

    @property
    def t(self) -> Target:
        assert self.target is not None
        return self.target

    @property
    def home(self) -> HouseholdFixture:
        return self.world.home(self.role)

    def get(self, url: str, params: dict[str, Any] | None = None) -> Any:
        response = self.client.get(url, params or {}, **self.headers)
        assert_no_leak(self, response, sent=params)
        return response


@dataclass(frozen=True)
class Call:
    method: str
    kwargs: Callable[[Ctx], dict[str, Any]] = lambda c: {}
    data: Callable[[Ctx], Any] = lambda c: None
    encoding: str = "json"  # json | form (also multipart uploads)
    scoped: bool = True  # False: the outcome does not depend on the target's region
    check: Callable[[Ctx, Any], None] | None = None  # more assertions on an allowed response


@dataclass(frozen=True)
class Row:
    kind: str  # "api" | "page"
    calls: tuple[Call, ...]
    roles: frozenset[str] | None = ANY
    ok: frozenset[int] = frozenset({200})
    target: str | None = None  # "household" | "token": run once per target, 404 outside the region
    outside: frozenset[int] = frozenset({404})  # accepted answers for a target outside the region
    writes: bool = False
    public: bool = False  # anonymous use allowed; `anonymous` lists the expected answers
    anonymous: frozenset[int] = frozenset()
    must_change: bool = False  # an allowed write must change the database (proves the call was well-formed)
    needs: tuple[str, ...] = ()  # modules that must exist (the matrix skips the row until they do)
    static: bool = False  # the same fixed document for everyone (a template): no leak check on its text
    note: str = ""

    def expected(self, role: str, target: Target | None, call: Call) -> tuple[frozenset[int], bool]:
        """The accepted status codes for a user's role (Role value), and whether the call is allowed (False: it
        must change nothing)."""
        denied: set[int] = set()
        if self.roles is not None and role not in self.roles:
            denied.add(403)
        if target is not None and call.scoped and not target.in_scope:
            denied |= self.outside
        return (frozenset(denied), False) if denied else (self.ok, True)


def s(*codes: int) -> frozenset[int]:
    return frozenset(codes)


TODAY = dt.date.today().isoformat()


def _h(c: Ctx) -> dict[str, Any]:
    return {"household_id": c.t.h.household.pk}


# --- checks (run on allowed responses) --------------------------------------------------------------------------


def check_api_household_search(c: Ctx, response: Any) -> None:
    ids = {item["id"] for item in response.json()["items"]}
    assert ids == {h.household.pk for h in c.world.inside(c.role)}
    url = reverse("api:household_list")
    for other in c.world.outside(c.role):
        for params in (
            {"q": other.names[0]},
            {"q": other.id_numbers[0]},
            {"q": other.household.number},
            {"village": other.household.region_id},
        ):
            found = c.get(url, params)
            assert found.status_code == 200
            assert found.json()["items"] == [], params
    for own in c.world.inside(c.role):  # the same searches find records in the region: the above is no accident
        for params in ({"q": own.names[0]}, {"q": own.id_numbers[0]}):
            assert own.household.pk in {h["id"] for h in c.get(url, params).json()["items"]}, params


def check_api_regions(c: Ctx, response: Any) -> None:
    scope = c.world.scope(c.role)
    in_scope = set(scope.regions().values_list("code", flat=True))
    assert {r["code"] for r in response.json()} <= in_scope
    villages = c.get(reverse("api:region_list"), {"level": "village"}).json()
    assert {r["code"] for r in villages} <= in_scope
    for other in c.world.outside(c.role):
        region = other.household.region
        siblings = {r["code"] for r in c.get(reverse("api:region_list"), {"parent": region.parent_id}).json()}
        assert region.code not in siblings
        assert siblings <= in_scope


def check_api_stats(c: Ctx, response: Any) -> None:
    scope = c.world.scope(c.role)
    rows = response.json()
    in_scope = set(scope.regions().values_list("code", flat=True))
    assert {r["region_code"] for r in rows} <= in_scope
    # Child regions sum to every household in the region (a village-level scope reports the village itself).
    assert sum(r["households"] for r in rows) == len(c.world.inside(c.role))


def check_api_me(c: Ctx, response: Any) -> None:
    assert response.json()["region"]["code"] == c.user.region_id
    assert response.json()["role"] == c.user.role


def check_api_tokens(c: Ctx, response: Any) -> None:
    listed = {t["id"] for t in response.json()}
    assert listed == set(ApiToken.objects.filter(user=c.user).values_list("pk", flat=True))


def check_page_search(c: Ctx, response: Any) -> None:
    url = reverse("web:household_list")
    for other in c.world.outside(c.role):
        for params in ({"q": other.names[0]}, {"q": other.id_numbers[0]}, {"village": other.household.region_id}):
            c.get(url, params)  # the leak check runs on every response
    for own in c.world.inside(c.role):
        assert own.names[0] in c.get(url, {"q": own.names[0]}).content.decode(), "search finds nothing at all"


def check_export_has_only_in_scope_people(c: Ctx, response: Any) -> None:
    content = response.content.decode("utf-8-sig")
    for other in c.world.outside(c.role):
        for id_number in other.id_numbers:
            assert id_number not in content


# --- bodies -----------------------------------------------------------------------------------------------------


def new_member(c: Ctx) -> dict[str, Any]:
    return {"id_number": new_id(dt.date(1995, 5, 5)), "name": "新增成员", "relation": "20", "start_date": "2024-01-01"}


def import_csv(c: Ctx) -> dict[str, Any]:
    """A households import file with one new household in the target's village."""
    from doudi.registry import imports

    values = {
        "head_id_number": (head := new_id(dt.date(1966, 6, 6))),
        "id_number": head,
        "region_code": c.t.h.household.region_id,
        "address": "导入村1号",
        "hukou_type": "农村",
        "name": "导入户主",
        "relation": "户主",
    }
    out = io.StringIO()
    writer = csv.writer(out)
    columns = imports.COLUMNS["households"]
    writer.writerow([col.header for col in columns])
    writer.writerow([values.get(col.key, "") for col in columns])
    return {"file": SimpleUploadedFile("households.csv", out.getvalue().encode("utf-8"), content_type="text/csv")}


def _move_member(c: Ctx) -> Person:
    """A live non-head member of the role's home household (moves shift members around within one test)."""
    membership = (
        Membership.objects.filter(household=c.home.household, end_date__isnull=True).exclude(relation="02").first()
    )
    assert membership is not None
    return membership.person


# --- the matrix -------------------------------------------------------------------------------------------------

API_TOKENS = (
    ("api:token_list", Row("api", (Call("GET", check=check_api_tokens),))),
    (
        "api:token_create",
        Row("api", (Call("POST", data=lambda c: {"name": "矩阵令牌"}),), ok=s(201), writes=True, must_change=True),
    ),
    (
        "api:token_revoke",
        Row(
            "api",
            (Call("DELETE", kwargs=lambda c: {"token_id": c.t.token.pk}),),  # type: ignore[union-attr]
            ok=s(204),
            target="token",
            writes=True,
            must_change=True,
        ),
    ),
)

ADMIN = frozenset({str(Role.ADMIN)})


def policy_value(c: Ctx) -> dict[str, Any]:
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    return {
        "region_code": "469001000000",
        "area": "urban",
        "effective_from": tomorrow,
        "value": "800",
        "reference": "矩阵测试文件",
    }


def policy_future_change(c: Ctx) -> dict[str, Any]:
    # Created directly (no audit row), so the matrix's before/after comparison sees only the request's own writes.
    from doudi.policy.models import ParameterValueChange

    change = ParameterValueChange.objects.create(
        path="dibao.standard",
        region_code="469001",
        area="urban",
        effective_from=dt.date.today() + dt.timedelta(days=30),
        value="800",
        reference="矩阵测试文件",
        created_by_name="matrix",
    )
    return {"change_id": change.pk}


def policy_import_csv(c: Ctx) -> dict[str, Any]:
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    header = "参数路径,区划代码,城乡,生效日期,取值,法规依据,原因"
    text = f"{header}\ndibao.standard,469001000000,urban,{tomorrow},800,矩阵测试文件,\n"
    return {"file": SimpleUploadedFile("policy.csv", text.encode("utf-8"), content_type="text/csv")}


MATRIX: dict[str, Row] = {
    # -- framework and public URLs
    "set_language": Row(
        "page",
        (Call("POST", data=lambda c: {"language": "zh-hans"}, encoding="form"),),
        ok=s(302),
        public=True,
        anonymous=s(302),
    ),
    "api:openapi-json": Row("api", (Call("GET"),), public=True, anonymous=s(200)),
    "api:openapi-view": Row("api", (Call("GET"),), public=True, anonymous=s(200)),
    "api:api-root": Row(
        "api", (Call("GET"),), ok=s(404), public=True, anonymous=s(404), note="ninja's prefix anchor; answers 404"
    ),
    "api:not_found": Row(
        "api",
        (
            Call("GET", kwargs=lambda c: {"rest": "no/such/endpoint"}),
            Call("POST", kwargs=lambda c: {"rest": "households/1/nothing"}, data=lambda c: {}),
        ),
        ok=s(404),
        public=True,
        anonymous=s(404),
        note="unknown API paths, JSON 404",
    ),
    # -- API: who am I, regions, tokens
    "api:me": Row("api", (Call("GET", check=check_api_me),)),
    "api:region_list": Row("api", (Call("GET", check=check_api_regions),)),
    **dict(API_TOKENS),
    # -- API: households
    "api:household_list": Row("api", (Call("GET", check=check_api_household_search),), roles=PERSONAL),
    "api:household_create": Row(
        "api",
        (
            Call(
                "POST",
                data=lambda c: {"region_code": c.t.h.household.region_id, "address": "新户1号", "hukou_type": "rural"},
            ),
        ),
        roles=WRITE,
        ok=s(201),
        target="household",
        outside=s(403, 404),
        writes=True,
        must_change=True,
    ),
    "api:household_detail": Row("api", (Call("GET", kwargs=_h),), roles=PERSONAL, target="household"),
    "api:household_update": Row(
        "api",
        (Call("PATCH", kwargs=_h, data=lambda c: {"version": c.t.h.household.version, "address": "改址1号"}),),
        roles=WRITE,
        target="household",
        writes=True,
        must_change=True,
    ),
    "api:household_history": Row("api", (Call("GET", kwargs=_h),), roles=PERSONAL, target="household"),
    "api:member_add": Row(
        "api",
        (Call("POST", kwargs=_h, data=new_member),),
        roles=WRITE,
        ok=s(201),
        target="household",
        writes=True,
        must_change=True,
    ),
    "api:person_update": Row(
        "api",
        (
            Call(
                "PATCH",
                kwargs=lambda c: {"person_id": c.t.h.member.pk},
                data=lambda c: {"version": c.t.h.member.version, "phone": "0898-6666666"},
            ),
        ),
        roles=WRITE,
        target="household",
        writes=True,
        must_change=True,
    ),
    "api:person_move": Row(
        "api",
        (
            # out of the target household into the role's own…
            Call(
                "POST",
                kwargs=lambda c: {"person_id": c.t.h.member.pk},
                data=lambda c: {"to_household_id": c.home.household.pk, "relation": "70", "date": "2024-02-01"},
            ),
            # …and from the role's own household into the target
            Call(
                "POST",
                kwargs=lambda c: {"person_id": _move_member(c).pk},
                data=lambda c: {"to_household_id": c.t.h.household.pk, "relation": "70", "date": "2024-03-01"},
            ),
        ),
        roles=WRITE,
        ok=s(201),
        target="household",
        writes=True,
        must_change=True,
    ),
    "api:membership_end": Row(
        "api",
        (
            Call(
                "POST",
                kwargs=lambda c: {"membership_id": c.t.h.membership.pk},
                data=lambda c: {"end_date": TODAY, "reason": "迁出"},
            ),
        ),
        roles=WRITE,
        target="household",
        writes=True,
        must_change=True,
    ),
    "api:item_add": Row(
        "api",
        (
            Call(
                "POST",
                kwargs=lambda c: {**_h(c), "group": "income"},
                data=lambda c: {"kind": "pension", "monthly_amount": "300.00"},
            ),
        ),
        roles=WRITE,
        ok=s(201),
        target="household",
        writes=True,
        must_change=True,
    ),
    "api:item_end": Row(
        "api",
        (
            Call(
                "POST",
                kwargs=lambda c: {"group": "income", "item_id": c.t.h.income.pk},
                data=lambda c: {"end_date": TODAY},
            ),
        ),
        roles=WRITE,
        ok=s(204),
        target="household",
        writes=True,
        must_change=True,
    ),
    "api:stats_households": Row("api", (Call("GET", check=check_api_stats),), note="supervisors too"),
    "api:import_upload": Row(
        "api",
        (Call("POST", kwargs=lambda c: {"kind": "households"}, data=import_csv, encoding="form"),),
        roles=BULK,
        target="household",
        outside=s(403, 404, 422),
        writes=True,
        must_change=True,
        needs=("doudi.registry.imports",),
    ),
    "api:export_households": Row(
        "api",
        (
            Call("GET", data=lambda c: {"format": "csv"}, scoped=False, check=check_export_has_only_in_scope_people),
            Call(
                "GET",
                data=lambda c: {"region": c.t.h.household.region_id, "format": "csv"},
                check=check_export_has_only_in_scope_people,
            ),
        ),
        roles=BULK & PERSONAL,
        target="household",
        outside=s(403, 404),
        writes=True,  # exports are audited
        needs=("doudi.registry.exports",),
    ),
    # -- pages
    "web:home": Row("page", (Call("GET"),)),
    "web:login": Row("page", (Call("GET"),), ok=s(200, 302), public=True, anonymous=s(200)),
    "web:logout": Row("page", (Call("POST", encoding="form"),), ok=s(302), public=True, anonymous=s(302)),
    "web:household_list": Row("page", (Call("GET", check=check_page_search),), roles=PERSONAL),
    "web:household_new": Row(
        "page",
        (
            Call("GET", scoped=False),
            Call(
                "POST",
                encoding="form",
                data=lambda c: {"region_code": c.t.h.household.region_id, "address": "新户2号", "hukou_type": "rural"},
            ),
        ),
        roles=WRITE,
        ok=s(200, 302, 422),
        target="household",
        outside=s(403, 404, 422),
        writes=True,
        note="out-of-region villages are not even choices: the form refuses them (422)",
    ),
    "web:household_detail": Row("page", (Call("GET", kwargs=_h),), roles=PERSONAL, target="household"),
    "web:household_edit": Row(
        "page",
        (
            Call("GET", kwargs=_h),
            Call(
                "POST",
                kwargs=_h,
                encoding="form",
                data=lambda c: {
                    "version": c.t.h.household.version,
                    "region_code": c.t.h.household.region_id,
                    "address": "改址2号",
                    "hukou_type": "rural",
                },
            ),
        ),
        roles=WRITE,
        ok=s(200, 302, 422),
        target="household",
        writes=True,
    ),
    "web:member_add": Row(
        "page",
        (Call("GET", kwargs=_h), Call("POST", kwargs=_h, encoding="form", data=new_member)),
        roles=WRITE,
        ok=s(200, 302, 422),
        target="household",
        writes=True,
    ),
    "web:membership_end": Row(
        "page",
        (
            Call("GET", kwargs=lambda c: {**_h(c), "membership_id": c.t.h.membership.pk}),
            Call(
                "POST",
                kwargs=lambda c: {**_h(c), "membership_id": c.t.h.membership.pk},
                encoding="form",
                data=lambda c: {"end_date": TODAY, "end_reason": "迁出"},
            ),
        ),
        roles=WRITE,
        ok=s(200, 302, 422),
        target="household",
        writes=True,
    ),
    "web:item_add": Row(
        "page",
        (
            Call("GET", kwargs=lambda c: {**_h(c), "kind_group": "income"}),
            Call(
                "POST",
                kwargs=lambda c: {**_h(c), "kind_group": "income"},
                encoding="form",
                data=lambda c: {"kind": "pension", "monthly_amount": "300", "start_date": "2024-01-01"},
            ),
        ),
        roles=WRITE,
        ok=s(200, 302, 422),
        target="household",
        writes=True,
    ),
    "web:item_end": Row(
        "page",
        (
            Call("GET", kwargs=lambda c: {**_h(c), "kind_group": "income", "item_id": c.t.h.income.pk}),
            Call(
                "POST",
                kwargs=lambda c: {**_h(c), "kind_group": "income", "item_id": c.t.h.income.pk},
                encoding="form",
                data=lambda c: {"end_date": TODAY},
            ),
        ),
        roles=WRITE,
        ok=s(200, 302, 422),
        target="household",
        writes=True,
    ),
    "web:person_edit": Row(
        "page",
        (
            Call("GET", kwargs=lambda c: {"person_id": c.t.h.member.pk}),
            Call(
                "POST",
                kwargs=lambda c: {"person_id": c.t.h.member.pk},
                encoding="form",
                data=lambda c: {
                    "version": c.t.h.member.version,
                    "name": c.t.h.member.name,
                    "id_number": c.t.h.member.id_number,
                    "phone": "0898-7777777",
                },
            ),
        ),
        roles=WRITE,
        ok=s(200, 302, 422),
        target="household",
        writes=True,
    ),
    "web:person_move": Row(
        "page",
        (
            Call("GET", kwargs=lambda c: {"person_id": c.t.h.member.pk}),
            Call(
                "POST",
                kwargs=lambda c: {"person_id": c.t.h.member.pk},
                encoding="form",
                data=lambda c: {"to_household": c.home.household.number, "relation": "70", "date": "2024-02-01"},
            ),
            Call(
                "POST",
                kwargs=lambda c: {"person_id": _move_member(c).pk},
                encoding="form",
                data=lambda c: {"to_household": c.t.h.household.number, "relation": "70", "date": "2024-03-01"},
            ),
        ),
        roles=WRITE,
        ok=s(200, 302, 422),
        target="household",
        outside=s(404, 422),
        writes=True,
        note="moving into an out-of-region household: its number is unknown to the form (422)",
    ),
    "web:import": Row(
        "page",
        (
            Call("GET", scoped=False),
            Call("POST", data=lambda c: {"kind": "households", **import_csv(c)}, encoding="form"),
        ),
        roles=BULK,
        ok=s(200, 302, 422),
        target="household",
        outside=s(403, 404, 422),
        writes=True,
        needs=("doudi.registry.imports",),
    ),
    "web:import_errors": Row(
        "page", (Call("GET"),), roles=BULK, ok=s(404), note="404 until an import has failed in this session"
    ),
    "web:import_template": Row(
        "page",
        (Call("GET", kwargs=lambda c: {"kind": "households", "fmt": "csv"}),),
        roles=BULK,
        needs=("doudi.registry.imports",),
        static=True,
        note="a fixed file whose example row happens to say 甲村",
    ),
    "web:export": Row(
        "page",
        (
            Call(
                "POST",
                encoding="form",
                scoped=False,
                data=lambda c: {"region": c.user.region_id, "fmt": "csv"},
                check=check_export_has_only_in_scope_people,
            ),
            Call(
                "POST",
                encoding="form",
                data=lambda c: {"region": c.t.h.household.region_id, "fmt": "csv"},
                check=check_export_has_only_in_scope_people,
            ),
        ),
        roles=BULK & PERSONAL,
        ok=s(200, 422),
        target="household",
        outside=s(403, 404, 422),
        writes=True,
        needs=("doudi.registry.exports",),
        note="the form offers the role's region and its direct children; deeper codes are refused (422)",
    ),
    # Policy parameters are public: every role reads them; only administrators change them.
    "policy:parameter_list": Row("page", (Call("GET"),), needs=("doudi.policy.views",)),
    "policy:parameter_detail": Row(
        "page", (Call("GET", kwargs=lambda c: {"path": "dibao.standard"}),), needs=("doudi.policy.views",)
    ),
    "policy:value_add": Row(
        "page",
        (
            Call("GET", kwargs=lambda c: {"path": "dibao.standard"}),
            Call("POST", kwargs=lambda c: {"path": "dibao.standard"}, data=policy_value, encoding="form"),
        ),
        roles=ADMIN,
        ok=s(200, 302),
        writes=True,
        needs=("doudi.policy.views",),
    ),
    "policy:value_withdraw": Row(
        "page",
        (Call("POST", kwargs=policy_future_change, encoding="form"),),
        roles=ADMIN,
        ok=s(302),
        writes=True,
        needs=("doudi.policy.views",),
    ),
    "policy:parameter_import": Row(
        "page",
        (Call("GET"), Call("POST", data=policy_import_csv, encoding="form")),
        roles=ADMIN,
        ok=s(200, 302),
        writes=True,
        needs=("doudi.policy.views",),
    ),
}


# --- plumbing ---------------------------------------------------------------------------------------------------


def url_patterns() -> Iterator[tuple[str, str, URLPattern]]:
    """(qualified name, route, pattern) for every URL pattern, recursively."""

    def walk(patterns: list[Any], prefix: str, namespace: str | None) -> Iterator[tuple[str, str, URLPattern]]:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = ":".join(x for x in (namespace, p.namespace) if x) or None
                yield from walk(p.url_patterns, prefix + str(p.pattern), ns)
            else:
                name = f"{namespace}:{p.name}" if namespace and p.name else (p.name or "")
                yield name, prefix + str(p.pattern), p

    yield from walk(get_resolver().url_patterns, "", None)


def ninja_methods(pattern: URLPattern) -> set[str] | None:
    """The HTTP methods of a ninja operation (its view closes over the PathView)."""
    from ninja.operation import PathView

    for cell in getattr(pattern.callback, "__closure__", None) or ():
        view = cell.cell_contents
        if isinstance(view, PathView):
            return {m for op in view.operations if op.url_name == pattern.name for m in op.methods}
    return None


def module_missing(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        return True
    return False


def fingerprint() -> dict[str, Any]:
    """Everything a request could change: registry rows, tokens, regions and the audit log."""
    models = (Household, Person, Membership, IncomeItem, AssetItem, ExpenseItem, ApiToken)
    state: dict[str, Any] = {m.__name__: list(m.objects.order_by("pk").values()) for m in models}
    for token in state["ApiToken"]:
        token.pop("last_used_at")  # authenticating with a token stamps it; that is not a change to records
    state["Region"] = Region.objects.count()
    state["AuditLog"] = AuditLog.objects.count()
    state["User"] = list(User.objects.order_by("pk").values_list("pk", "is_active", "role", "region_id"))
    return state


OPTION_RE = re.compile(r"""<option[^>]*value=["'](\d{12})["']""")


def assert_no_leak(c: Ctx, response: Any, sent: Any = None) -> None:
    """No out-of-region names, ID numbers or region names in the body; dropdowns list only regions in scope.

    What the caller sent (a search term, a form value shown back with its error) is not a leak and is ignored.
    """
    if getattr(response, "streaming", False):
        return
    body = response.content
    if body[:2] == b"PK":  # xlsx: zipped, checked through the CSV exports instead
        return
    text = body.decode("utf-8-sig", errors="replace")
    if response.get("Content-Type", "").startswith("application/json"):
        text += json.dumps(json.loads(body or b"null"), ensure_ascii=False) if body else ""
    echoed = [str(v) for v in (sent or {}).values() if isinstance(v, str | int) and len(str(v)) >= 2]
    for value in sorted(echoed, key=len, reverse=True):
        text = text.replace(value, "")
    for other in c.world.outside(c.role):
        for secret in (*other.names, *other.id_numbers, other.household.number):
            assert secret not in text, f"{c.role} sees {secret} in {response.request['PATH_INFO']}"
    if response.status_code < 400:
        # Refusals may name the region whose code the caller sent (codes and names are public statistics);
        # answers must not reveal regions the caller did not ask about.
        for name in c.world.foreign_region_names(c.role):
            assert name not in text, f"{c.role} sees region {name} in {response.request['PATH_INFO']}"
    scope = c.world.scope(c.role)
    offered = set(OPTION_RE.findall(text))
    if offered:
        in_scope = set(scope.regions().filter(code__in=offered).values_list("code", flat=True))
        assert offered <= in_scope, f"{c.role} is offered regions {sorted(offered - in_scope)}"


def send(c: Ctx, call: Call, name: str) -> tuple[Any, dict[str, Any]]:
    """Make the call; returns the response and the data sent."""
    url = reverse(name, kwargs=call.kwargs(c) or None)
    data = call.data(c) or {}
    if call.method == "GET":
        return c.client.get(url, data, **c.headers), data
    if call.encoding == "form":
        assert call.method == "POST"
        return c.client.post(url, data, **c.headers), data
    body = json.dumps(data) if data else ""
    return c.client.generic(call.method, url, body, content_type="application/json", **c.headers), data


def is_login_redirect(response: Any) -> bool:
    login = reverse("web:login")
    if response.status_code in (301, 302):
        return response["Location"].split("?")[0].endswith(login)
    return response.status_code == 204 and response.get("HX-Redirect", "").startswith(login)


def run_row(world: World, name: str, row: Row, role: str, auth: str) -> None:
    client = Client()
    headers: dict[str, str] = {}
    user = world.user(role)
    if auth == "token":
        _, plain = token_services.api_token_create(scope=scope_for(user), name="矩阵")
        headers = {"HTTP_AUTHORIZATION": f"Bearer {plain}"}
    else:
        client.force_login(user)
    targets: list[Target | None] = list(TARGETS[row.target](world, role)) if row.target else [None]
    for target in targets:
        if target is not None and target.household is not None:
            target.household.household.refresh_from_db()
            target.household.member.refresh_from_db()
        c = Ctx(world=world, role=role, client=client, headers=headers, target=target)
        for index, call in enumerate(row.calls):
            where = f"{name} call {index + 1} ({call.method}) as {role} via {auth}, target {target and target.label}"
            expected, allowed = row.expected(user.role, target, call)
            before = fingerprint() if row.writes else None
            response, sent = send(c, call, name)
            assert response.status_code in expected, (
                f"{where}: got {response.status_code}, expected {sorted(expected)}: {response.content[:300]!r}"
            )
            if not row.static:
                assert_no_leak(c, response, sent)
            if row.writes and not allowed:
                assert fingerprint() == before, f"{where}: refused, yet the database changed"
            if row.writes and allowed and row.must_change and response.status_code < 300:
                assert fingerprint() != before, f"{where}: allowed, yet nothing changed (is the call well-formed?)"
            if allowed and call.check is not None and response.status_code < 300:
                call.check(c, response)


# --- the tests --------------------------------------------------------------------------------------------------

# URLs the matrix deliberately leaves out, with the reason (keep this short).
NOT_IN_MATRIX: dict[str, str] = {}


def test_every_url_pattern_is_in_the_access_matrix():
    unnamed, missing, wrong_method = [], [], []
    seen = set()
    for name, route, pattern in url_patterns():
        if not pattern.name:
            unnamed.append(route)
            continue
        seen.add(name)
        if name not in MATRIX and name not in NOT_IN_MATRIX:
            missing.append(f"{name}  ({route})")
            continue
        methods = ninja_methods(pattern)
        if methods is not None and name in MATRIX:
            used = {call.method for call in MATRIX[name].calls}
            if not used <= methods:
                wrong_method.append(f"{name}: matrix uses {sorted(used)}, the endpoint accepts {sorted(methods)}")
    stale = sorted(set(MATRIX) - seen)
    assert not unnamed, f"give these URL patterns a name so the access matrix can cover them: {unnamed}"
    assert not missing, "add these URLs to MATRIX in tests/test_access_matrix.py:\n" + "\n".join(missing)
    assert not wrong_method, "\n".join(wrong_method)
    assert not stale, f"MATRIX rows for URLs that no longer exist: {stale}"


@pytest.mark.parametrize("name", list(MATRIX))
def test_access_matrix(world, name):
    """Every role, through a session and (for the API) a token; all violations of one URL are reported together."""
    row = MATRIX[name]
    missing = [m for m in row.needs if module_missing(m)]
    if missing:
        pytest.skip(f"{name} needs {missing}")
    if name not in {n for n, _, _ in url_patterns()}:
        pytest.skip(f"{name} is not in the URLconf (see the coverage test)")
    failures = []
    for role in ROLES:
        for auth in ("session", "token") if row.kind == "api" and not row.public else ("session",):
            try:
                # Each role starts from the same world: its writes are rolled back to a savepoint.
                with transaction.atomic():
                    run_row(world, name, row, role, auth)
                    transaction.set_rollback(True)
            except AssertionError as exc:
                failures.append(f"[{role} via {auth}] {str(exc).splitlines()[0]}")
    assert not failures, f"{name}:\n" + "\n".join(failures)


@pytest.mark.parametrize("name", list(MATRIX))
def test_anonymous_requests_are_refused_and_change_nothing(world, name):
    row = MATRIX[name]
    if any(module_missing(m) for m in row.needs):
        pytest.skip(f"{name} needs {row.needs}")
    client = Client()
    role = "admin"  # only used to build kwargs and bodies
    targets: list[Target | None] = list(TARGETS[row.target](world, role)) if row.target else [None]
    c = Ctx(world=world, role=role, client=client, headers={}, target=targets[0])
    for call in row.calls:
        before = fingerprint()
        response, _ = send(c, call, name)
        if row.public:
            assert response.status_code in row.anonymous, f"{name}: got {response.status_code}"
        elif row.kind == "api":
            assert response.status_code == 401, f"{name}: got {response.status_code}"
            assert response.json()["code"] == "unauthenticated"
        else:
            assert is_login_redirect(response), f"{name}: got {response.status_code}, expected a login redirect"
        if name != "web:logout":
            assert fingerprint() == before, f"{name}: an anonymous {call.method} changed the database"
