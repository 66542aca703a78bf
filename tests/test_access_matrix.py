"""The access matrix: every URL of the project, for every role, against records inside and outside the role's region.

How it works
------------
* `MATRIX` maps each URL name ("namespace:name") to a `Row`: the calls to make (method, path kwargs and body built
  from fixture objects), which roles may use it, and whether the target record's region matters.
* `test_every_url_pattern_is_in_the_access_matrix` walks the URLconf (ninja's API routes included) and FAILS when
  a URL has no row, so a new page or endpoint cannot ship without saying who may use it. Add a row to `MATRIX`.
* `test_access_matrix[<url>-<role>]` makes each call as each role against records in three villages: village A
  (甲村), village B (乙村, same township) and the other county's village (外县村). The expected status
  follows from the row: 403 when the role (or, for one call, `Call.roles`) may not use the URL at all, 404 when
  the record is outside the role's region, otherwise the row's success codes. Every denied or out-of-region write
  must leave the database exactly as it was (every row of every table of the project's apps is compared: registry,
  cases, payments, policy, tokens, users, the audit log …), so must any write answered with an error (4xx), and an
  allowed write marked `must_change` must change it (the call was well-formed).
* The world: registry households (A1, A2, B1, O1, O2) and, in each village, dibao cases driven through the case
  services to the step each action needs (acceptance, verification, democratic review, publicity with and without
  an objection, county approval, a decided case with its recipient, recheck and a member whose death can be
  recorded); each county's spot-check draw and payrolls in every state (draft, approved with pending differences,
  approved, exported, reconciled with a corrected account). It is built once for the module inside a transaction
  rolled back at the end; every test and every role runs in a savepoint within it.
* Every response body (pages, JSON, CSV downloads, error pages) is searched for names, ID numbers and region
  names from outside the role's region, and every `<option value="…12 digits…">` must be a region in scope, so
  counts, search results, exports and dropdowns cannot leak either.
* The later apps' records are built through their own services (`_build_later_apps`): a finding per village
  (integrity; village B's is assigned to the township reviewer), each county's vehicle register, an application
  verification run per village with its hit, notice, outcome and disputed evidence, a queued caseload run per county
  (verification), real-name complaints about each village handled by its township or, as county matters, by the
  county, one per handling state (complaints), and each county's public contact details (portal).
* A real-name complaint's reporter (name, phone, address) is searched for in every response of every row: only the
  handling office (its region and handling role) may see it. Supervisors' answers carry no person at all.
* Public pages (`published=True`: the portal, the public complaint forms) may show any county's published lists to
  anyone, so instead of the region check they must show no ID number, mobile number, address or household number of
  anyone, no name of a household that is not published, no reporter, and load no external asset. Anonymous visitors
  get them (and may file a complaint); the forms' rate limiter is reset before each call (`throttled`).
* Anonymous requests to staff URLs get 401 (API) or a redirect to the login page (pages), and change nothing.

Roles: village_worker (village A), township_reviewer, county_approver, county_verifier (county 469001),
supervisor and admin (province), outsider (county approver of the other county 469002).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import importlib
import io
import itertools
import json
import re
import tempfile
import traceback
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.http import urlencode

from doudi.cases import services as case_services
from doudi.cases.models import (
    Application,
    Objection,
    Publicity,
    Recheck,
    Recipient,
    SpotCheckBatch,
)
from doudi.core import ratelimit, token_services
from doudi.core.choices import PERSONAL_DATA_ROLES, REGISTRY_BULK_ROLES, REGISTRY_WRITE_ROLES, Role
from doudi.core.models import ApiToken, Region, User
from doudi.core.scope import Scope, scope_for
from doudi.payments import services as payment_services
from doudi.payments.models import Payroll, PayrollDifference, PayrollLine
from doudi.registry import services
from doudi.registry.models import Household, IncomeItem, Membership, Person
from doudi.testing.fixtures import Tree, Users, ensure_base_data, make_user, new_id

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


# Seven users and two peers; PBKDF2 at production strength would cost seconds.
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


# --- the world: households in and out of each role's region ---------------------------------------------------


@dataclass
class HouseholdFixture:
    household: Household
    head: Person
    member: Person  # a non-head member
    membership: Membership  # the member's live membership
    income: IncomeItem | None
    names: tuple[str, ...]
    id_numbers: tuple[str, ...]
    phone: str = ""  # the head's mobile number: never on a public page, nor outside the region


@dataclass
class World:
    tree: Any
    users: Any
    # A1, A2 (village A), B1 (village B), O1, O2 (other county), and the case households ("A-accept", …)
    households: dict[str, HouseholdFixture]
    peers: dict[str, User]  # token owners: a village worker in village A and one in the other county
    cases: dict[str, CaseFixture] = field(default_factory=dict)  # A, B (the two villages of county 469001), O
    var_dir: Path | None = None  # settings.VAR_DIR while the world was built (kept bank files)
    extra_regions: list[Region] = field(default_factory=list)  # a second township of county 469001 and its village
    apps: list[Application] = field(default_factory=list)  # every case of the world
    recipients: list[Recipient] = field(default_factory=list)
    # Records of the later apps (integrity, verification, complaints, portal) by kind and village label (A, B, O)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    # A later app whose records could not be built: its rows fail with this message (the others still run)
    build_errors: dict[str, str] = field(default_factory=dict)

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

    def outside(self, role: str, probe: bool = False) -> list[HouseholdFixture]:
        """Households outside the role's region (probe: the registry ones and one case household per village,
        enough to search for; the leak check looks for all of them in every answer)."""
        return [h for h in self._some(probe) if not self.covers(role, h.household.region)]

    def inside(self, role: str, probe: bool = False) -> list[HouseholdFixture]:
        return [h for h in self._some(probe) if self.covers(role, h.household.region)]

    def _some(self, probe: bool) -> list[HouseholdFixture]:
        return [h for label, h in self.households.items() if not probe or "-" not in label or "decided" in label]

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
            *self.extra_regions,
        ]
        return [r.name for r in regions if not r.path.startswith(own.path) and not own.path.startswith(r.path)]


_phones = itertools.count(13907550001)


def _household(
    scope: Scope, village: Region, tag: str, address_code: str, income: str | None = "1500.00", poor: bool = False
) -> HouseholdFixture:
    """A household of two (head and daughter); `poor`: a 建档立卡 household whose seriously ill daughter is an
    active-discovery candidate."""
    household = services.household_create(
        scope=scope,
        region_code=village.code,
        data={"address": f"{tag}号院", "hukou_type": "rural", "registered_poor": poor},
    )
    head_id, member_id = (
        new_id(dt.date(1970, 3, 1), address=address_code),
        new_id(dt.date(2001, 6, 1), male=False, address=address_code),
    )
    phone = str(next(_phones))
    services.member_add(
        scope=scope,
        household_id=household.pk,
        relation="02",
        start_date="2020-01-01",
        data={"id_number": head_id, "name": f"{tag}户主", "phone": phone},
    )
    membership = services.member_add(
        scope=scope,
        household_id=household.pk,
        relation="30",
        start_date="2020-01-01",
        data={"id_number": member_id, "name": f"{tag}之女", **({"serious_illness": True} if poor else {})},
    )
    item = None
    if income is not None:  # case households have none: the dibao rules find them eligible
        item = services.item_add(
            scope=scope,
            household_id=household.pk,
            kind_group="income",
            data={"kind": "wage", "monthly_amount": income, "start_date": "2024-01-01"},
        )
        assert isinstance(item, IncomeItem)
    household.refresh_from_db()
    return HouseholdFixture(
        household=household,
        head=Person.objects.get(id_number=head_id),
        member=membership.person,
        membership=membership,
        income=item,
        names=(f"{tag}户主", f"{tag}之女"),
        id_numbers=(head_id, member_id),
        phone=phone,
    )


# --- the world, part 2: cases and payrolls in each village and county --------------------------------------------

CASE_DAY = dt.date(2021, 9, 1)  # a Wednesday under the 2021 rules; every case is long overdue by now
DIBAO_DOCS = {
    "application_form": True,
    "id_card": True,
    "hukou_book": True,
    "income_proof": True,
    "authorisation": True,
}
MONTHS = {  # the payrolls of each county, one per state a payroll action needs
    "draft": "2026-01",  # → approve
    "differences": "2026-02",  # approved before the county's decisions; regenerated since → pending differences
    "approved": "2026-03",  # approved, no bank file yet → bank files
    "exported": "2026-04",  # bank file sent, awaiting the return file → return import
    "failed": "2026-05",  # reconciled with a wrong account, since corrected → re-issue
}
CASE_KINDS = ("accept", "verify", "review", "publicise", "objected", "approval", "decided")  # see CaseFixture
GENERATE_MONTH = "2026-06"  # no payroll yet: generating it creates one
HOLIDAY = dt.date(2031, 10, 9)  # an operator's calendar correction (the holiday page may delete it)
_accounts = itertools.count(6222020000001001)


@dataclass
class CaseFixture:
    """The case records of one village, each at the point where a page's action can be taken."""

    label: str  # A (甲村), B (乙村), O (外县村)
    village: Region
    county: Region
    households: dict[str, HouseholdFixture]
    accept: Application  # at 受理 (acceptance): the township can complete it
    verify: Application  # at 信息核对 (verification): the county verifier can complete it
    review: Application  # at 民主评议 (democratic review, optional): may be skipped
    publicise: Application  # at 初审公示 (publicity), not published yet
    objected: Application  # at 初审公示, published, one open objection
    publicity: Publicity
    objection: Objection
    approval: Application  # at 县级审核确认, not yet in a spot-check batch: may be refused, or drawn
    decided: Application  # approved (decision, determination, recipient); at 决定告知 (notice)
    recipient: Recipient
    recheck: Recheck  # the recipient's scheduled recheck
    person: Person  # a living member of the recipient household: a death can be recorded
    batch: SpotCheckBatch | None = None  # the county's spot-check draw (A and B share theirs)
    payrolls: dict[str, Payroll] = field(default_factory=dict)  # the county's, by state (see MONTHS)

    def app(self, role: str) -> Application:
        """A case whose current step the role may act on (complete)."""
        app = {"county_verifier": self.verify, "county_approver": self.decided, "outsider": self.decided}.get(
            role, self.accept
        )
        app.refresh_from_db()
        return app


def _v(app: Application) -> int:
    app.refresh_from_db()
    return app.version


def _walk(scope: Scope, app: Application, to: str, publish_on: dt.date | None = None) -> Application:
    """Drive a 2021 dibao case from acceptance to the step `to` (which stays pending), through the services;
    `publish_on`: the day its publicity starts (default: a few days after the application)."""
    day = CASE_DAY
    plan = ["acceptance", "investigation", "verification", "democratic_review", "township_opinion", "publish"]
    plan += ["publicity", "county_approval"]
    for step in plan[: plan.index(to)]:
        kw: dict[str, Any] = {"scope": scope, "application_id": app.pk, "version": _v(app)}
        if step == "investigation":
            day += dt.timedelta(days=1)
            case_services.home_visit_record(
                **kw,
                level="township",
                visited_on=day,
                investigators=["张调查", "李调查"],
                findings="家庭情况与申报一致",
                today=day,
            )
            kw["version"] = _v(app)
        if step == "democratic_review":
            case_services.step_skip(**kw, step_code=step, reason="公示前无异议", today=day)
        elif step == "publish":
            day = publish_on or day + dt.timedelta(days=1)
            case_services.publicity_start(**kw, step_code="publicity", start_date=day, place="村务公开栏", today=day)
        elif step == "publicity":
            day += dt.timedelta(days=8)
            case_services.step_complete(**kw, step_code=step, today=day)
        else:
            payload = {"result": "pass"} if step == "verification" else {"recommend": True}
            case_services.step_complete(**kw, step_code=step, payload=payload, today=day)
    app.refresh_from_db()
    return app


def _intake(scope: Scope, h: HouseholdFixture, kin: bool = False) -> Application:
    """A dibao application with every document; `kin`: the applicant declares a relative on the village committee
    (近亲属备案)."""
    return case_services.application_create(
        scope=scope,
        program="dibao",
        household_id=h.household.pk,
        applicant_id=h.head.pk,
        received_on=CASE_DAY,
        today=CASE_DAY,
        documents=DIBAO_DOCS,
        verification_authorised=True,
        authorised_on=CASE_DAY,
        kin_declared=kin,
        kin_details=[{"name": "村委委员", "relation": "sibling", "position": "committee"}] if kin else None,
    )


def _account(scope: Scope, h: HouseholdFixture) -> None:
    payment_services.bank_account_set(
        scope=scope,
        household_id=h.household.pk,
        bank_code="ABC",
        bank_name="中国农业银行",
        account_number=str(next(_accounts)),
        holder_name=h.names[0],  # the head's name: bank files and lines must not show it outside the region
    )


def _return_file(payroll: Payroll, result: str = "paid") -> tuple[str, bytes]:
    """The bank's return file for the lines of the payroll's last bank file: every line paid (or failed)."""
    payroll.refresh_from_db()
    lines = PayrollLine.objects.filter(payroll=payroll, batch=payroll.exports, status__in=["pending", "reissued"])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["明细编号", "账号", "金额", "结果"])
    total = Decimal("0.00")
    rows = list(lines.order_by("pk"))
    for line in rows:
        writer.writerow([line.pk, line.account_number, str(line.amount), result])
        total += line.amount
    writer.writerow(["合计", len(rows), str(total), ""])
    return "return.csv", out.getvalue().encode("utf-8")


def _build_cases(admin: Scope, tree: Any, village3: Region, world: World) -> None:
    """Cases in the villages and payrolls in the two counties, all through the services (as admin; draws and
    payroll approvals by each county's approver). Village C (丙村, another township of county 469001) only has a
    recipient: a township reviewer reading the county's payroll must not see it."""
    households = world.households
    places = {
        "A": (tree.village, "甲", "469001"),
        "B": (tree.village2, "乙", "469001"),
        "O": (tree.other_village, "外", "469002"),
        "C": (village3, "丙", "469001"),
    }
    approvers = {
        tree.county.code: scope_for(User.objects.get(username="ca")),
        tree.other_county.code: scope_for(User.objects.get(username="out")),
    }
    counties = {"A": tree.county, "B": tree.county, "O": tree.other_county, "C": tree.county}
    # Payrolls approved before the decisions: regenerating them later finds the new recipients (differences).
    for county in (tree.county, tree.other_county):
        payroll = payment_services.payroll_generate(
            scope=admin, county_code=county.code, program="dibao", month=MONTHS["differences"]
        )
        payment_services.payroll_approve(scope=approvers[county.code], payroll_id=payroll.pk, version=payroll.version)
    made: dict[str, dict[str, Any]] = {}
    for label, (village, prefix, address) in places.items():
        tags = dict(zip(CASE_KINDS, "受核评示异审定", strict=True))
        hh = {
            kind: _household(admin, village, f"{prefix}{tags[kind]}", address, income=None)
            for kind in (("decided",) if label == "C" else CASE_KINDS)
        }
        for kind, h in hh.items():
            households[f"{label}-{kind}"] = h
        apps = {kind: _intake(admin, h, kin=kind == "accept") for kind, h in hh.items()}
        world.apps.extend(apps.values())
        _walk(admin, apps["decided"], "county_approval")
        if label == "C":
            made[label] = {"hh": hh, "apps": apps}
            continue
        households[f"{label}-discovery"] = _household(admin, village, f"{prefix}寻", address, income=None, poor=True)
        _walk(admin, apps["verify"], "verification")
        _walk(admin, apps["review"], "democratic_review")
        _walk(admin, apps["publicise"], "publish")
        _walk(admin, apps["objected"], "publicity", publish_on=dt.date.today())  # running now
        publicity = Publicity.objects.get(application=apps["objected"])
        objection = case_services.objection_record(
            scope=admin,
            application_id=apps["objected"].pk,
            version=_v(apps["objected"]),
            publicity_id=publicity.pk,
            received_on=publicity.start_date,
            content="群众反映家中有车辆",
        )
        made[label] = {"hh": hh, "apps": apps, "publicity": publicity, "objection": objection}
    # Each county draws its spot check among the cases awaiting it, visits the sampled ones and approves.
    batches: dict[str, SpotCheckBatch] = {}
    decision_day = CASE_DAY + dt.timedelta(days=12)
    for county in (tree.county, tree.other_county):
        batches[county.code] = case_services.spot_check_batch_create(
            scope=approvers[county.code], program="dibao", county_code=county.code
        )
    for label in places:
        app = made[label]["apps"]["decided"]
        app.refresh_from_db()
        if app.spot_check_selected:
            case_services.home_visit_record(
                scope=admin,
                application_id=app.pk,
                version=_v(app),
                level="county",
                visited_on=decision_day,
                investigators=["县核查甲", "县核查乙"],
                findings="情况属实",
                today=decision_day,
            )
        case_services.step_complete(
            scope=admin,
            application_id=app.pk,
            version=_v(app),
            step_code="county_approval",
            comment="同意",
            today=decision_day,
        )
        if "approval" in made[label]["apps"]:  # after the draw: not in a batch
            _walk(admin, made[label]["apps"]["approval"], "county_approval")
        _account(admin, made[label]["hh"]["decided"])
    # The payrolls, one per state, of each county.
    payrolls: dict[str, dict[str, Payroll]] = {}
    for county in (tree.county, tree.other_county):
        ca = approvers[county.code]
        by_state = {}
        for state, month in MONTHS.items():
            payroll = payment_services.payroll_generate(
                scope=admin, county_code=county.code, program="dibao", month=month
            )
            if state in ("approved", "exported", "failed"):
                payment_services.payroll_approve(scope=ca, payroll_id=payroll.pk, version=payroll.version)
            if state in ("exported", "failed"):  # the files are kept where the pages serve them from
                out_dir = payment_services.bank_archive_dir(payroll)
                payment_services.payroll_bank_files_export(scope=ca, payroll_id=payroll.pk, out_dir=out_dir)
            if state == "failed":
                name, content = _return_file(payroll, "wrong_account")
                payment_services.payroll_return_import(
                    scope=ca, payroll_id=payroll.pk, fileobj=io.BytesIO(content), filename=name
                )
            payroll.refresh_from_db()
            by_state[state] = payroll
        payrolls[county.code] = by_state
    case_services.holiday_set(scope=admin, date=HOLIDAY, is_working_day=False, note="地方调休")
    for label in places:  # the wrong accounts are corrected: the failed lines can be re-issued
        _account(admin, made[label]["hh"]["decided"])
    world.recipients.extend(Recipient.objects.filter(application__in=world.apps))
    result = {}
    for label, m in made.items():
        apps = m["apps"]
        for app in apps.values():
            app.refresh_from_db()
        if label == "C":
            continue
        recipient = Recipient.objects.get(application=apps["decided"])
        county = counties[label]
        result[label] = CaseFixture(
            label=label,
            village=places[label][0],
            county=county,
            households=m["hh"],
            publicity=m["publicity"],
            objection=m["objection"],
            recipient=recipient,
            recheck=Recheck.objects.get(recipient=recipient, status="scheduled"),
            person=m["hh"]["decided"].member,
            batch=batches[county.code],
            payrolls=payrolls[county.code],
            **apps,
        )
    # The rows rely on these states: say so here rather than through a puzzling 409 in some row.
    for k in result.values():
        steps = {kind: getattr(k, kind).current_step for kind in ("accept", "verify", "review", "publicise")}
        assert steps == {
            "accept": "acceptance",
            "verify": "verification",
            "review": "democratic_review",
            "publicise": "publicity",
        }, steps
        assert k.approval.current_step == "county_approval" and k.approval.spot_check_batch_id is None
        assert k.decided.status == "approved" and k.decided.current_step == "notice"
        assert k.objection.status == "open" and k.recipient.status == "active"
        p = k.payrolls
        assert p["draft"].status == "draft" and p["draft"].line_count
        assert PayrollDifference.objects.filter(payroll=p["differences"], status="pending").exists()
        assert p["approved"].status == "approved" and p["exported"].status == "exported"
        assert PayrollLine.objects.filter(payroll=p["failed"], status="failed").exists()
    world.cases.update(result)


# --- the world, part 3: records of the later apps (integrity, verification, complaints, portal) ------------------


def _later(world: World, app: str, build: Callable[[Scope, World], None], admin: Scope) -> None:
    """Build one later app's records in a savepoint. While the app is being written its services may be missing or
    failing: the error is kept and only the rows using its records fail with it (see finding_targets …)."""
    if module_missing(f"doudi.{app}.services"):
        world.build_errors[app] = f"doudi.{app}.services does not exist yet"
        return
    try:
        with transaction.atomic():
            build(admin, world)
    except Exception as exc:  # reported by every row that needs these records
        where = traceback.extract_tb(exc.__traceback__)[-1]
        world.build_errors[app] = (
            f"building the {app} records failed: {type(exc).__name__}: {exc} ({where.filename}:{where.lineno})"
        )


def _build_integrity(admin: Scope, world: World) -> None:
    """A finding in each village: the daughter of the decided household is on the village committee (an imported
    cadre list), which the application did not declare (check undeclared_kin)."""
    from doudi.integrity import services as integrity_services
    from doudi.integrity.models import Finding

    lines = ["姓名,公民身份号码,人员类别,区划代码,职务,任职开始日期"]
    for k in world.cases.values():
        h = k.households["decided"]
        lines.append(f"{h.names[1]},{h.id_numbers[1]},村委会成员,{k.village.code},委员,2020-01-01")
    integrity_services.staff_import_upload(
        scope=admin, fileobj=io.BytesIO("\n".join(lines).encode("utf-8")), filename="cadres.csv"
    )
    integrity_services.integrity_run(scope=admin, checks=["undeclared_kin"])
    findings = {
        label: Finding.objects.get(check_code="undeclared_kin", recipient=k.recipient)
        for label, k in world.cases.items()
    }
    # Village B's finding is handed to the township reviewer: the one finding that role may read and resolve.
    b = findings["B"]
    integrity_services.finding_assign(
        scope=admin, finding_id=b.pk, version=b.version, assignee_id=world.users.township_reviewer.pk
    )
    world.records["finding"] = findings


def _build_portal(admin: Scope, world: World) -> None:
    """Each county's public contact details (office numbers: public by design, unlike a person's); county 469001
    publishes names in full from today, so the privacy check of public pages can tell a published household from
    one that must not appear (masked, every head of a village reads the same)."""
    from django.test import TestCase

    from doudi.policy import services as policy_services
    from doudi.portal import services as portal_services

    with TestCase.captureOnCommitCallbacks(execute=True):  # the parameter cache is cleared on commit
        policy_services.parameter_value_add(
            scope=admin,
            path="disclosure.name_masking",
            region_code=world.tree.county.code,
            effective_from=dt.date.today(),
            value="full",
            reference="矩阵测试：全名公开",
        )
    world.records["contact"] = {
        county.code: portal_services.county_contact_set(
            scope=admin,
            county_code=county.code,
            version=None,
            data={
                "office": f"{county.name}民政局社会救助股",
                "address": "人民路1号",
                "phone": "0898-12345678",
                "hotline": "12345",
                "hours": "工作日 8:00-12:00",
            },
        )
        for county in (world.tree.county, world.tree.other_county)
    }


COMPLAINT_STATES = ("new", "accepted", "investigating", "answered")  # the state each handling action needs
_reporters = itertools.count(1)


@dataclass(frozen=True)
class ReporterFixture:
    """A real-name reporter: seen by the handling office (its region and handling role) and nobody else."""

    name: str
    phone: str
    address: str
    office: str  # the handling office's region code
    role: str  # its handling role

    @property
    def secrets(self) -> tuple[str, str, str]:
        return (self.name, self.phone, self.address)


def _build_complaints(admin: Scope, world: World) -> None:
    """Real-name complaints filed on the portal about villages A, B and O, routed to their township (A, B, O) or,
    as county matters, to the county (A-county, O-county); in each, one complaint per state a handling action
    needs (new with an attachment, accepted, investigating with a finding, answered). The other county's
    township gets a reviewer of its own to handle its complaints."""
    from django.test import TestCase

    from doudi.complaints import services as complaint_services

    tree = world.tree
    handlers = {
        tree.township.code: scope_for(world.users.township_reviewer),
        tree.other_township.code: scope_for(make_user("tr_o", Role.TOWNSHIP_REVIEWER, tree.other_township)),
        tree.county.code: scope_for(world.users.county_approver),
        tree.other_county.code: scope_for(world.users.outsider),
    }
    places = (
        ("A", tree.village, False),
        ("B", tree.village2, False),
        ("O", tree.other_village, False),
        ("A-county", tree.village, True),
        ("O-county", tree.other_village, True),
    )
    complaints: dict[str, dict[str, Any]] = {}
    reporters: dict[int, ReporterFixture] = {}
    for label, village, county_matter in places:
        by_state = {}
        for state in COMPLAINT_STATES:
            n = next(_reporters)
            who = {"name": f"实名举报人{n:02d}", "phone": f"1370000{n:04d}", "address": f"举报人住址{n}号"}
            png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
            files = [SimpleUploadedFile("photo.png", png, content_type="image/png")] if state == "new" else []
            with TestCase.captureOnCommitCallbacks(execute=True):  # attachments are moved into place on commit
                complaint = complaint_services.complaint_create(
                    scope=complaint_services.public_scope(),
                    kind="report",
                    channel="portal",
                    region_code=village.code,
                    subject="反映低保对象家中有经营性收入",
                    description="群众反映该户开有商店，收入未申报",
                    program="dibao",
                    county_matter=county_matter,
                    anonymous=False,
                    reporter=who,
                    files=files,
                )
            handler = handlers[complaint.office_id]
            reporters[complaint.pk] = ReporterFixture(**who, office=complaint.office_id, role=handler.role)
            steps = COMPLAINT_STATES[1 : COMPLAINT_STATES.index(state) + 1]
            for step in steps:
                kw = {"scope": handler, "complaint_id": complaint.pk, "version": complaint.version}
                if step == "accepted":
                    complaint_services.complaint_accept(**kw)
                elif step == "investigating":
                    complaint_services.entry_add(**kw, text="入户核查：确有商店", finding="partly")
                else:
                    complaint_services.complaint_answer(
                        **kw, public_reply="经核查反映情况部分属实，已依规处理", reply="您反映的问题经核查部分属实。"
                    )
                complaint.refresh_from_db()
            by_state[state] = complaint
        complaints[label] = by_state
    world.records["complaint"] = complaints
    world.records["reporter"] = reporters


def _build_verification(admin: Scope, world: World) -> None:
    """Each county's vehicle register (a source batch) lists the head of every case at the verification step; each
    such case is verified (an application run with one vehicle hit per village), the household told, the hit
    explained and disputed with a PDF; each county also has a queued caseload run (the villages and townships
    below it read it too)."""
    from doudi.verification import services as verification_services
    from doudi.verification.models import Hit

    tree = world.tree
    counties = {"A": tree.county, "B": tree.county, "O": tree.other_county}
    batches = {}
    for label, county in (("A", tree.county), ("O", tree.other_county)):
        heads = [k.households["verify"].id_numbers[0] for k in world.cases.values() if counties[k.label] == county]
        rows = "".join(f"{head},琼A{n:05d},car,50000\n" for n, head in enumerate(heads))
        batches[label] = verification_services.source_ingest(
            scope=admin,
            fileobj=io.BytesIO(f"id_number,plate,vehicle_type,value\n{rows}".encode()),
            filename="vehicles.csv",
            kind="vehicles",
            department="公安局交通管理部门",
            period_start="2026-01-01",
            period_end="2026-01-31",
            received_on=TODAY,
            region_code=county.code,
        )
    runs, hits, evidence = {}, {}, {}
    for label, k in world.cases.items():
        run = verification_services.run_start_inline(scope=admin, application_id=k.verify.pk)
        hit = Hit.objects.get(run=run)
        verification_services.notice_record(
            scope=admin, run_id=run.pk, household_id=hit.household_id, notified_on=TODAY, method="written"
        )
        verification_services.outcome_record(
            scope=admin, hit_id=hit.pk, version=hit.version, outcome="explained", reason="车辆已于上月转让"
        )
        dispute = verification_services.dispute_record(
            scope=admin,
            hit_id=hit.pk,
            received_on=TODAY,
            statement="车辆已转让，附转让合同",
            files=[verification_services.Upload(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "转让合同.pdf")],
        )
        hit.refresh_from_db()
        runs[label], hits[label], evidence[label] = run, hit, dispute.evidence.get()
    world.records["vrun"] = runs
    world.records["hit"] = hits
    world.records["evidence"] = evidence
    world.records["batch"] = batches
    world.records["caseload_run"] = {
        label: verification_services.run_create(scope=admin, kind="caseload", region_code=county.code)
        for label, county in (("A", tree.county), ("O", tree.other_county))
    }


def _build_later_apps(admin: Scope, world: World) -> None:
    _later(world, "integrity", _build_integrity, admin)
    _later(world, "verification", _build_verification, admin)
    _later(world, "portal", _build_portal, admin)
    _later(world, "complaints", _build_complaints, admin)


def _region(code: str, name: str, level: str, parent: Region) -> Region:
    from doudi.core.services import region_path

    return Region.objects.create(
        code=code, name=name, level=level, parent=parent, path=region_path(parent, code), synthetic=True
    )


def _tree() -> Tree:
    """The shared test tree (doudi.testing.fixtures.tree), built once for the module."""
    ensure_base_data()
    region = _region

    county = Region.objects.get(code="469001000000")
    other_county = Region.objects.get(code="469002000000")
    township = region("469001100000", "测试镇", "township", county)
    other_township = region("469002100000", "外县镇", "township", other_county)
    return Tree(
        province=Region.objects.get(code="460000000000"),
        county=county,
        township=township,
        village=region("469001100201", "甲村", "village", township),
        village2=region("469001100202", "乙村", "village", township),
        other_county=other_county,
        other_township=other_township,
        other_village=region("469002100201", "外县村", "village", other_township),
    )


def _users(tree: Tree) -> Users:
    return Users(
        village_worker=make_user("vw", Role.VILLAGE_WORKER, tree.village),
        township_reviewer=make_user("tr", Role.TOWNSHIP_REVIEWER, tree.township),
        county_approver=make_user("ca", Role.COUNTY_APPROVER, tree.county),
        county_verifier=make_user("cv", Role.COUNTY_VERIFIER, tree.county),
        supervisor=make_user("sv", Role.SUPERVISOR, tree.province),
        admin=make_user("ad", Role.ADMIN, tree.province),
        outsider=make_user("out", Role.COUNTY_APPROVER, tree.other_county),
    )


def build_world() -> World:
    tree = _tree()
    users = _users(tree)
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
    township2 = _region("469001200000", "测试二镇", "township", tree.county)
    village3 = _region("469001200201", "丙村", "village", township2)
    world = World(tree=tree, users=users, households=households, peers=peers, extra_regions=[township2, village3])
    _build_cases(admin, tree, village3, world)
    _build_later_apps(admin, world)
    return world


@pytest.fixture(scope="module")
def shared_world(django_db_setup, django_db_blocker) -> Iterator[World]:
    """The world is built once for the module, inside a transaction rolled back at the end (like Django's
    setUpTestData): each test runs in a savepoint within it, and each role's calls in a savepoint within that."""
    from django.test.utils import override_settings

    with (
        tempfile.TemporaryDirectory(prefix="doudi-matrix-") as var_dir,
        override_settings(PASSWORD_HASHERS=FAST_HASHERS, VAR_DIR=Path(var_dir)),  # bank files are kept there
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        built = build_world()
        built.var_dir = Path(var_dir)
        yield built
        transaction.set_rollback(True)


@pytest.fixture
def world(shared_world: World, db: Any, settings: Any) -> World:
    shared_world.scopes.clear()
    settings.VAR_DIR = shared_world.var_dir  # where the world's bank files were kept
    return shared_world


# --- targets ----------------------------------------------------------------------------------------------------


@dataclass
class Target:
    label: str
    in_scope: bool
    household: HouseholdFixture | None = None
    token: ApiToken | None = None
    case: CaseFixture | None = None  # the case records of the target's village (or county)
    record: Any = None  # a later app's record (a finding, a verification run, a complaint …) of that village
    handlers: frozenset[str] | None = None  # the roles that handle this record (Row.by_handler)

    @property
    def r(self) -> Any:
        assert self.record is not None
        return self.record

    @property
    def h(self) -> HouseholdFixture:
        assert self.household is not None
        return self.household

    @property
    def k(self) -> CaseFixture:
        assert self.case is not None
        return self.case


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


def case_targets(world: World, role: str) -> list[Target]:
    """The case records of villages A, B and O: in scope when the role covers the village."""
    return [
        Target(label, world.covers(role, k.village), k.households["decided"], case=k)
        for label, k in world.cases.items()
    ]


def county_targets(world: World, role: str) -> list[Target]:
    """The payrolls and spot checks of the two counties: in scope when the role's region is in the county or
    covers it (a township reads its own lines of the county's payroll; writing one is the county's)."""
    own = world.user(role).region
    assert own is not None
    return [
        Target(
            f"county {k.county.code[:6]}",
            world.covers(role, k.county) or own.path.startswith(k.county.path),
            k.households["decided"],
            case=k,
        )
        for k in (world.cases["A"], world.cases["O"])
    ]


def finding_targets(world: World, role: str) -> list[Target]:
    """The findings of villages A, B and O: readable by the county roles over their region, and by any other
    personal-record role only when assigned to them (B's, to the township reviewer; integrity.selectors)."""
    from doudi.integrity.selectors import COUNTY_ROLES

    assert "integrity" not in world.build_errors, world.build_errors["integrity"]
    user = world.user(role)
    targets = []
    for label, finding in world.records["finding"].items():
        finding.refresh_from_db()
        k = world.cases[label]
        readable = user.role in COUNTY_ROLES or finding.assignee_id == user.pk
        in_scope = world.covers(role, k.village) and readable
        targets.append(Target(label, in_scope, k.households["decided"], case=k, record=finding))
    return targets


def _verification_targets(kind: str, ancestors: bool) -> Callable[[World, str], list[Target]]:
    """Verification records by village (runs, hits, evidence) or county (batches, caseload runs): in scope when
    the record's region is in the role's region, or (`ancestors`: runs and batches) above it."""

    def targets(world: World, role: str) -> list[Target]:
        assert "verification" not in world.build_errors, world.build_errors["verification"]
        own = world.user(role).region
        assert own is not None
        out = []
        for label, record in world.records[kind].items():
            record.refresh_from_db()
            k = world.cases[label]
            region = k.county if kind in ("batch", "caseload_run") else k.village
            in_scope = world.covers(role, region) or (ancestors and own.path.startswith(region.path))
            out.append(Target(label, in_scope, k.households["verify"], case=k, record=record))
        return out

    return targets


def complaint_targets(world: World, role: str) -> list[Target]:
    """The complaints about villages A, B and O handled by their township, and those of A and O handled by the
    county; in scope when the handling office is in the role's region (lists and reads follow the office). The
    record is the complaint in each state (COMPLAINT_STATES); `handlers` the office's handling role."""
    assert "complaints" not in world.build_errors, world.build_errors["complaints"]
    own = world.user(role).region
    assert own is not None
    targets = []
    for label, by_state in world.records["complaint"].items():
        for complaint in by_state.values():
            complaint.refresh_from_db()
        first = by_state["new"]
        k = world.cases[label[0]]
        handler = TR if first.office.level == "township" else CA
        in_scope = first.office_path.startswith(own.path)
        targets.append(
            Target(label, in_scope, k.households["decided"], case=k, record=by_state, handlers=frozenset({handler}))
        )
    return targets


def handled_complaint_targets(world: World, role: str) -> list[Target]:
    """Complaint targets in scope only for their handling office (attachments: anyone else gets 404)."""
    user = world.user(role)
    return [
        Target(t.label, t.in_scope and user.role in (t.handlers or ()), t.household, case=t.case, record=t.r)
        for t in complaint_targets(world, role)
    ]


TARGETS: dict[str, Callable[[World, str], list[Target]]] = {
    "complaint": complaint_targets,
    "vrun": _verification_targets("vrun", ancestors=True),
    "caseload_run": _verification_targets("caseload_run", ancestors=True),
    "batch": _verification_targets("batch", ancestors=True),
    "hit": _verification_targets("hit", ancestors=False),
    "evidence": _verification_targets("evidence", ancestors=False),
    "complaint_handled": handled_complaint_targets,
    # every run: each village's application run and each county's caseload run (read from the villages below too)
    "run": lambda world, role: [
        *TARGETS["vrun"](world, role),
        *(replace(t, label=f"{t.label}-county") for t in TARGETS["caseload_run"](world, role)),
    ],
    "finding": finding_targets,
    "household": household_targets,
    "token": token_targets,
    # every case record of a village: applications, recipients, publicities, rechecks, persons
    **dict.fromkeys(("application", "recipient", "publicity", "recheck", "person"), case_targets),
    # county-wide records: payrolls, spot-check draws
    **dict.fromkeys(("payroll", "county"), county_targets),
}


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

    @property
    def k(self) -> CaseFixture:
        return self.t.k

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
    query: Callable[[Ctx], dict[str, Any]] | None = None  # query string (for POSTs: ?household=…)
    roles: frozenset[str] | None = None  # who may make this call, when it differs from the row (GET vs POST)
    ok: frozenset[int] | None = None  # this call's success codes, when they differ from the row's


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
    # A public page of published data (the portal, the public complaint forms): anyone may read any county's
    # lists, so instead of the region check it must show no ID number, phone, address or household number of
    # anyone, nobody who is not published (see check_published), and no complaint reporter's identity.
    published: bool = False
    by_handler: bool = False  # only the target's handling office may (Target.handlers replaces `roles`)
    throttled: bool = False  # a rate-limited public form: the limiter's counters are cleared before each call
    note: str = ""

    def expected(self, role: str, target: Target | None, call: Call) -> tuple[frozenset[int], bool]:
        """The accepted status codes for a user's role (Role value), and whether the call is allowed (False: it
        must change nothing)."""
        denied: set[int] = set()
        roles = call.roles if call.roles is not None else self.roles
        if self.by_handler and target is not None and target.handlers is not None:
            roles = target.handlers
        if roles is not None and role not in roles:
            denied.add(403)
        if target is not None and call.scoped and not target.in_scope:
            denied |= self.outside
        return (frozenset(denied), False) if denied else (call.ok or self.ok, True)


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
    for other in c.world.outside(c.role, probe=True):
        for params in (
            {"q": other.names[0]},
            {"q": other.id_numbers[0]},
            {"q": other.household.number},
            {"village": other.household.region_id},
        ):
            found = c.get(url, params)
            assert found.status_code == 200
            assert found.json()["items"] == [], params
    # The same searches find records in the region: the above is no accident.
    for own in c.world.inside(c.role, probe=True):
        for params in ({"q": own.names[0]}, {"q": own.id_numbers[0]}):
            assert own.household.pk in {h["id"] for h in c.get(url, params).json()["items"]}, params


def check_api_regions(c: Ctx, response: Any) -> None:
    scope = c.world.scope(c.role)
    in_scope = set(scope.regions().values_list("code", flat=True))
    assert {r["code"] for r in response.json()} <= in_scope
    villages = c.get(reverse("api:region_list"), {"level": "village"}).json()
    assert {r["code"] for r in villages} <= in_scope
    for other in c.world.outside(c.role, probe=True):
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
    for other in c.world.outside(c.role, probe=True):
        for params in ({"q": other.names[0]}, {"q": other.id_numbers[0]}, {"village": other.household.region_id}):
            c.get(url, params)  # the leak check runs on every response
    for own in c.world.inside(c.role, probe=True):
        assert own.names[0] in c.get(url, {"q": own.names[0]}).content.decode(), "search finds nothing at all"


def check_export_has_only_in_scope_people(c: Ctx, response: Any) -> None:
    content = response.content.decode("utf-8-sig")
    for other in c.world.outside(c.role):
        for id_number in other.id_numbers:
            assert id_number not in content


def no_personal_data(c: Ctx, response: Any, *, extra: tuple[str, ...] = ()) -> None:
    """No name, ID number, household number or address of any person of the world (nor the `extra` strings)."""
    if getattr(response, "streaming", False):
        return
    text = response_text(response)
    for h in c.world.households.values():
        for secret in (*h.names, *h.id_numbers, h.household.number, h.household.address, h.phone):
            assert secret not in text, f"{c.role} sees {secret} in {response.request['PATH_INFO']}"
    for secret in extra:
        assert secret not in text, f"{c.role} sees {secret} in {response.request['PATH_INFO']}"


def check_supervisor_aggregates(c: Ctx, response: Any) -> None:
    """Supervisors read counts and shares only: not a single person, even inside their region."""
    if c.user.role == Role.SUPERVISOR:
        no_personal_data(c, response)


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


# --- cases and payments (docs/cases.md, docs/payments.md; the URL contract of issue 4) ---------------------------

CASE_VIEWS = ("doudi.cases.views",)
FOLLOWUP_VIEWS = ("doudi.cases.views_followup",)
DOCUMENT_VIEWS = ("doudi.cases.views_documents",)
PAYMENT_VIEWS = ("doudi.payments.views",)
CASES_API = ("doudi.cases.api",)
PAYMENTS_API = ("doudi.payments.api",)
R = Role
TR, CA, CV, VW = str(R.TOWNSHIP_REVIEWER), str(R.COUNTY_APPROVER), str(R.COUNTY_VERIFIER), str(R.VILLAGE_WORKER)
AD = str(R.ADMIN)
# Who acts on cases (docs/cases.md §3): intake and documents, objections and change reports; the township and the
# county open and steer cases; the county approver decides.
INTAKE = frozenset({VW, TR, AD})  # services.INTAKE_ROLES
CASE_OPEN = frozenset({TR, CA, AD})  # services.CASE_OPEN_ROLES
STEP_ACTORS = frozenset({TR, CV, CA, AD})  # some step of the workflow is theirs
VISITORS = frozenset({TR, CV, CA, AD})  # township (TR) or county (CA, CV) home visits
APPROVER = frozenset({CA, AD})
PAYROLL_READ = PERSONAL - {VW}
PAYROLL_RUN = frozenset({CA, AD})  # payments.services.PAYROLL_ROLES
PAYROLL_APPROVE = frozenset({CA})  # approval is the county approver's alone (docs/payments.md §1)


def fresh(obj: Any) -> Any:
    obj.refresh_from_db()
    return obj


def _app(c: Ctx, kind: str) -> dict[str, Any]:
    return {"application_id": getattr(c.k, kind).pk}


def _hq(c: Ctx) -> dict[str, Any]:
    return {"household": c.t.h.household.pk}


def step_form(c: Ctx, stale: bool = False) -> dict[str, Any]:
    """Completing the step the role can do: acceptance (township), verification (county verifier, with its
    result), the notice of a decided case (county approver). `stale`: as loaded before someone else acted."""
    app = c.k.app(c.role)
    return {"version": app.version - stale, "comment": "矩阵办理", "result": "pass", "delivered_on": TODAY}


def _step_kwargs(c: Ctx) -> dict[str, Any]:
    app = c.k.app(c.role)
    return {"application_id": app.pk, "code": app.current_step}


def intake_form(c: Ctx) -> dict[str, Any]:
    return {
        "program": "dibao",
        "applicant_id": c.t.h.head.pk,
        "received_on": TODAY,
        "documents": list(DIBAO_DOCS),
        "verification_authorised": "on",
        "authorised_on": TODAY,
        "discovered_by": "intake",
    }


def act_first_form(c: Ctx) -> dict[str, Any]:
    return {"applicant_id": c.t.h.head.pk, "amount": "300", "reason": "房屋失火", "request_type": "emergency"}


def visit_level(c: Ctx) -> str:
    return "county" if c.user.role in (CA, CV) else "township"


def inside_cases(c: Ctx) -> list[CaseFixture]:
    return [k for k in c.world.cases.values() if c.world.covers(c.role, k.village)]


def check_api_case_list(c: Ctx, response: Any) -> None:
    """Exactly the cases of the villages in the region: none from elsewhere, and none missing."""
    listed = {item["id"] for item in response.json()["items"]}
    assert listed == {a.pk for a in c.world.apps if c.world.covers(c.role, a.region)}


def check_api_recipient_list(c: Ctx, response: Any) -> None:
    listed = {item["id"] for item in response.json()["items"]}
    assert listed == {r.pk for r in c.world.recipients if c.world.covers(c.role, r.region)}


def check_page_lists_recipients(c: Ctx, response: Any) -> None:
    """The recipients in the region are on the page (so the leak check is not passing on an empty list)."""
    text = response.content.decode()
    for k in inside_cases(c):
        assert k.households["decided"].names[0] in text, f"{k.households['decided'].names[0]} is not listed"


# The case in progress each role has a pending step of (the task list's first entries).
TASKS = {"county_verifier": "verify", "county_approver": "approval", "outsider": "approval"}


def check_lists(kind: str, member: int = 0) -> Callable[[Ctx, Any], None]:
    """The page lists the `kind` household of every village in the region (so the leak check is not passing
    on an empty list); kind "task": the case the role itself can act on."""

    def check(c: Ctx, response: Any) -> None:
        text = response.content.decode()
        for k in inside_cases(c):
            h = c.world.households[f"{k.label}-{TASKS.get(c.role, 'accept') if kind == 'task' else kind}"]
            assert h.names[member] in text, f"{h.names[member]} is not listed"

    return check


def back_to_case(kind: str) -> Callable[[Ctx, Any], None]:
    """A successful action redirects back to the case page (contract: "redirect back to the relevant page")."""

    def check(c: Ctx, response: Any) -> None:
        app = c.k.app(c.role) if kind == "task" else getattr(c.k, kind)
        url = reverse("cases:application_detail", kwargs={"application_id": app.pk})
        assert response["Location"].split("#")[0].split("?")[0] == url, response["Location"]

    return check


def check_pdf_names(kind: str) -> Callable[[Ctx, Any], None]:
    """The PDF names the household it is about (so the leak check reads its text, not compressed bytes)."""

    def check(c: Ctx, response: Any) -> None:
        name = c.k.households[kind].names[0]
        assert name in pdf_text(response.content), f"{name} is not in the PDF"

    return check


CASE_PAGES: dict[str, Row] = {
    "cases:task_list": Row("page", (Call("GET", check=check_lists("task")),), roles=PERSONAL, needs=CASE_VIEWS),
    "cases:overdue": Row("page", (Call("GET"),), roles=PERSONAL, needs=CASE_VIEWS),
    "cases:kin_register": Row("page", (Call("GET", check=check_lists("accept")),), roles=PERSONAL, needs=CASE_VIEWS),
    "cases:discovery": Row("page", (Call("GET", check=check_lists("discovery", 1)),), roles=PERSONAL, needs=CASE_VIEWS),
    "cases:application_new": Row(
        "page",
        (Call("GET", query=_hq), Call("POST", query=_hq, data=intake_form, encoding="form", ok=s(302))),
        roles=INTAKE,
        target="household",
        writes=True,
        must_change=True,
        needs=CASE_VIEWS,
        note="the contract also names county approvers, but intake is the village's and township's (INTAKE_ROLES)",
    ),
    "cases:act_first": Row(
        "page",
        (Call("GET", query=_hq), Call("POST", query=_hq, data=act_first_form, encoding="form", ok=s(302))),
        roles=CASE_OPEN,
        target="application",
        writes=True,
        must_change=True,
        needs=CASE_VIEWS,
    ),
    "cases:application_detail": Row(
        "page",
        (
            Call("GET", kwargs=lambda c: _app(c, "decided")),
            Call("GET", kwargs=lambda c: _app(c, "objected")),
            Call("GET", kwargs=lambda c: _app(c, "verify")),  # with its verification run, hit and dispute
        ),
        roles=PERSONAL,
        target="application",
        needs=CASE_VIEWS,
    ),
    "cases:step_complete": Row(
        "page",
        (
            # A stale version (the case changed since the form was loaded) is refused and changes nothing; the
            # version is claimed before the step's roles are checked, so the village worker is told so too.
            Call(
                "POST",
                kwargs=_step_kwargs,
                data=lambda c: step_form(c, stale=True),
                encoding="form",
                roles=STEP_ACTORS | {VW},
                ok=s(409),
            ),
            Call("POST", kwargs=_step_kwargs, data=step_form, encoding="form", check=back_to_case("task")),
        ),
        roles=STEP_ACTORS,
        ok=s(302),
        target="application",
        writes=True,
        must_change=True,
        needs=CASE_VIEWS,
        note="each role completes a step of its own (acceptance / verification / notice); village workers have none",
    ),
    "cases:step_skip": Row(
        "page",
        (
            Call(
                "POST",
                kwargs=lambda c: {**_app(c, "review"), "code": "democratic_review"},
                data=lambda c: {"version": fresh(c.k.review).version, "reason": "无人提出异议"},
                encoding="form",
                check=back_to_case("review"),
            ),
        ),
        roles=CASE_OPEN,
        ok=s(302),
        target="application",
        writes=True,
        must_change=True,
        needs=CASE_VIEWS,
    ),
    "cases:application_refuse": Row(
        "page",
        (
            Call(
                "POST",
                kwargs=lambda c: _app(c, "approval"),
                data=lambda c: {
                    "version": fresh(c.k.approval).version,
                    "step_code": "county_approval",
                    "reasons": "家庭人均收入高于当地低保标准",
                },
                encoding="form",
                check=back_to_case("approval"),
            ),
        ),
        roles=APPROVER,
        ok=s(302),
        target="application",
        writes=True,
        must_change=True,
        needs=CASE_VIEWS,
    ),
    "cases:documents_update": Row(
        "page",
        (
            Call(
                "POST",
                kwargs=lambda c: _app(c, "accept"),
                data=lambda c: {
                    "version": fresh(c.k.accept).version,
                    "documents": ["application_form", "id_card"],
                    "verification_authorised": "on",
                    "authorised_on": TODAY,
                },
                encoding="form",
                check=back_to_case("accept"),
            ),
        ),
        roles=INTAKE | CASE_OPEN,
        ok=s(302),
        target="application",
        writes=True,
        must_change=True,
        needs=CASE_VIEWS,
    ),
    "cases:home_visit_add": Row(
        "page",
        (
            Call(
                "POST",
                kwargs=lambda c: _app(c, "accept"),
                data=lambda c: {
                    "version": fresh(c.k.accept).version,
                    "level": visit_level(c),
                    "visited_on": TODAY,
                    "investigators": "张调查、李调查",
                    "findings": "家庭情况与申报一致",
                    "conforms": "1",
                },
                encoding="form",
                check=back_to_case("accept"),
            ),
        ),
        roles=VISITORS,
        ok=s(302),
        target="application",
        writes=True,
        must_change=True,
        needs=CASE_VIEWS,
    ),
    "cases:publicity_start": Row(
        "page",
        (
            Call(
                "POST",
                kwargs=lambda c: _app(c, "publicise"),
                data=lambda c: {
                    "version": fresh(c.k.publicise).version,
                    "step_code": "publicity",
                    "start_date": TODAY,
                    "place": "村务公开栏",
                },
                encoding="form",
                check=back_to_case("publicise"),
            ),
        ),
        roles=frozenset({TR, AD}),
        ok=s(302),
        target="application",
        writes=True,
        must_change=True,
        needs=CASE_VIEWS,
        note="初审公示 is the township's step",
    ),
    "cases:objection_add": Row(
        "page",
        (
            Call(
                "POST",
                kwargs=lambda c: _app(c, "objected"),
                data=lambda c: {
                    "version": fresh(c.k.objected).version,
                    "publicity_id": c.k.publicity.pk,
                    "received_on": TODAY,
                    "content": "反映家中有经营性收入",
                    "real_name": "on",
                },
                encoding="form",
                check=back_to_case("objected"),
            ),
        ),
        roles=CASE_OPEN | {VW},
        ok=s(302),
        target="publicity",
        writes=True,
        must_change=True,
        needs=CASE_VIEWS,
    ),
    "cases:objection_resolve": Row(
        "page",
        (
            Call(
                "POST",
                kwargs=lambda c: {**_app(c, "objected"), "objection_id": c.k.objection.pk},
                data=lambda c: {"version": fresh(c.k.objected).version, "upheld": "0", "resolution": "经核实无车辆"},
                encoding="form",
                check=back_to_case("objected"),
            ),
        ),
        roles=CASE_OPEN,
        ok=s(302),
        target="publicity",
        writes=True,
        must_change=True,
        needs=CASE_VIEWS,
    ),
    # -- follow-up
    "cases:publicity_list": Row(
        "page", (Call("GET", check=check_lists("objected")),), roles=PERSONAL, needs=FOLLOWUP_VIEWS
    ),
    "cases:spot_check_list": Row(
        "page",
        (
            Call("GET", scoped=False),
            Call(
                "POST",
                data=lambda c: {"program": "dibao", "county_code": c.k.county.code},
                encoding="form",
                roles=APPROVER,
                ok=s(302),
            ),
        ),
        roles=PERSONAL,
        target="county",
        outside=s(404, 422),
        writes=True,
        must_change=True,
        needs=FOLLOWUP_VIEWS,
        note="draws among the county's cases awaiting approval; other counties are not even choices (422)",
    ),
    "cases:recipient_list": Row(
        "page",
        (
            Call("GET", check=check_page_lists_recipients),
            Call("GET", data=lambda c: {"program": "dibao", "status": "active"}),
        ),
        roles=PERSONAL,
        needs=FOLLOWUP_VIEWS,
    ),
    "cases:recipient_detail": Row(
        "page",
        (Call("GET", kwargs=lambda c: {"recipient_id": c.k.recipient.pk}),),
        roles=PERSONAL,
        target="recipient",
        needs=FOLLOWUP_VIEWS,
    ),
    "cases:recipient_status": Row(
        "page",
        (
            Call(
                "POST",
                kwargs=lambda c: {"recipient_id": c.k.recipient.pk},
                data=lambda c: {
                    "version": fresh(c.k.recipient).version,
                    "to_status": "suspended",
                    "effective_month": "2026-12",
                    "reason": "外出务工，收入待核实",
                },
                encoding="form",
            ),
        ),
        roles=APPROVER,
        ok=s(302),
        target="recipient",
        writes=True,
        must_change=True,
        needs=FOLLOWUP_VIEWS,
    ),
    "cases:recheck_list": Row(
        "page",
        (Call("GET"), Call("GET", data=lambda c: {"within": "366", "overdue": "on"})),
        roles=PERSONAL,
        needs=FOLLOWUP_VIEWS,
    ),
    "cases:recheck_open": Row(
        "page",
        (Call("POST", kwargs=lambda c: {"recheck_id": c.k.recheck.pk}, encoding="form"),),
        roles=CASE_OPEN,
        ok=s(302),
        target="recheck",
        writes=True,
        must_change=True,
        needs=FOLLOWUP_VIEWS,
    ),
    "cases:change_report_new": Row(
        "page",
        (
            Call("GET", query=_hq),
            Call(
                "POST",
                query=_hq,
                data=lambda c: {"kind": "income", "reported_on": TODAY, "note": "户主务工收入增加"},
                encoding="form",
                ok=s(302),
            ),
        ),
        roles=frozenset(case_services.CHANGE_REPORT_ROLES),
        target="recipient",
        writes=True,
        must_change=True,
        needs=FOLLOWUP_VIEWS,
        note="a recipient household: the report opens its recheck",
    ),
    "cases:death_record": Row(
        "page",
        (
            Call("GET", kwargs=lambda c: {"person_id": c.k.person.pk}),
            Call(
                "POST",
                kwargs=lambda c: {"person_id": c.k.person.pk},
                data=lambda c: {"version": fresh(c.k.person).version, "death_date": TODAY},
                encoding="form",
                ok=s(302),
            ),
        ),
        roles=WRITE,
        target="person",
        writes=True,
        must_change=True,
        needs=FOLLOWUP_VIEWS,
        note="the death is written into the registry: registry writers only",
    ),
    "cases:holiday_list": Row(
        "page",
        (
            Call("GET"),
            Call(
                "POST",
                data=lambda c: {"date": "2031-10-08", "day_kind": "holiday", "note": "矩阵调休"},
                encoding="form",
                roles=ADMIN,
                ok=s(302),
            ),
            Call(
                "POST",
                data=lambda c: {"action": "delete", "date": HOLIDAY.isoformat()},
                encoding="form",
                roles=ADMIN,
                ok=s(302),
            ),
        ),
        roles=PERSONAL,
        writes=True,
        must_change=True,
        needs=FOLLOWUP_VIEWS,
        note="the calendar is everyone's to read, the administrator's to correct",
    ),
    # -- printable documents
    "cases:notice_pdf": Row(
        "page",
        (
            Call("GET", kwargs=lambda c: _app(c, "decided"), check=check_pdf_names("decided")),
            Call("GET", kwargs=lambda c: _app(c, "accept"), ok=s(404)),  # no decision yet
        ),
        roles=PERSONAL,
        target="application",
        needs=DOCUMENT_VIEWS,
    ),
    "cases:certificate_pdf": Row(
        "page",
        (Call("GET", kwargs=lambda c: {"recipient_id": c.k.recipient.pk}, check=check_pdf_names("decided")),),
        roles=PERSONAL,
        target="recipient",
        needs=DOCUMENT_VIEWS,
    ),
    "cases:publicity_pdf": Row(
        "page",
        (Call("GET", kwargs=lambda c: {"publicity_id": c.k.publicity.pk}, check=check_pdf_names("objected")),),
        roles=PERSONAL,
        target="publicity",
        needs=DOCUMENT_VIEWS,
    ),
    "cases:application_form": Row(
        "page",
        (Call("GET", scoped=False), Call("GET", query=_hq)),
        roles=PERSONAL,
        target="household",
        needs=DOCUMENT_VIEWS,
        note="blank, or prefilled from a household in the region",
    ),
}


def _payroll(c: Ctx, state: str) -> dict[str, Any]:
    return {"payroll_id": c.k.payrolls[state].pk}


def _payroll_version(c: Ctx, state: str, stale: bool = False) -> dict[str, Any]:
    return {"version": fresh(c.k.payrolls[state]).version - stale}


def return_upload(c: Ctx) -> dict[str, Any]:
    name, content = _return_file(c.k.payrolls["exported"])
    return {"file": SimpleUploadedFile(name, content, content_type="text/csv")}


def account_form(c: Ctx) -> dict[str, Any]:
    return {
        "owner": "",
        "bank_code": "RCC",
        "bank_name": "海南农信",
        "account_number": str(next(_accounts)),
        "holder_name": "户主",
    }


PAYMENT_PAGES: dict[str, Row] = {
    "payments:payroll_list": Row("page", (Call("GET"),), roles=PAYROLL_READ, needs=PAYMENT_VIEWS),
    "payments:payroll_generate": Row(
        "page",
        (
            Call(
                "POST",
                data=lambda c: {"county_code": c.k.county.code, "program": "dibao", "month": GENERATE_MONTH},
                encoding="form",
            ),
        ),
        roles=PAYROLL_RUN,
        ok=s(302),
        target="payroll",
        outside=s(404, 422),
        writes=True,
        must_change=True,
        needs=PAYMENT_VIEWS,
        note="other counties are not even choices (422)",
    ),
    "payments:payroll_detail": Row(
        "page",
        (
            Call("GET", kwargs=lambda c: _payroll(c, "draft")),
            Call("GET", kwargs=lambda c: _payroll(c, "differences")),
            Call("GET", kwargs=lambda c: _payroll(c, "failed")),
        ),
        roles=PAYROLL_READ,
        target="payroll",
        needs=PAYMENT_VIEWS,
    ),
    "payments:payroll_approve": Row(
        "page",
        (
            Call(
                "POST",
                kwargs=lambda c: _payroll(c, "draft"),
                data=lambda c: _payroll_version(c, "draft", stale=True),
                encoding="form",
                ok=s(409),
            ),
            Call(
                "POST",
                kwargs=lambda c: _payroll(c, "draft"),
                data=lambda c: _payroll_version(c, "draft"),
                encoding="form",
            ),
        ),
        roles=PAYROLL_APPROVE,
        ok=s(302),
        target="payroll",
        writes=True,
        must_change=True,
        needs=PAYMENT_VIEWS,
    ),
    "payments:differences_approve": Row(
        "page",
        (
            Call(
                "POST",
                kwargs=lambda c: _payroll(c, "differences"),
                data=lambda c: _payroll_version(c, "differences"),
                encoding="form",
            ),
        ),
        roles=PAYROLL_APPROVE,
        ok=s(302),
        target="payroll",
        writes=True,
        must_change=True,
        needs=PAYMENT_VIEWS,
    ),
    "payments:bank_files_export": Row(
        "page",
        (Call("POST", kwargs=lambda c: _payroll(c, "approved"), encoding="form"),),
        roles=PAYROLL_RUN,
        ok=s(302),
        target="payroll",
        writes=True,  # the lines go out in the next batch
        must_change=True,
        needs=PAYMENT_VIEWS,
        note="not in the URL contract: writing a batch is a POST; bank_files downloads the kept batches",
    ),
    "payments:bank_files": Row(
        "page",
        (
            Call("GET", kwargs=lambda c: {**_payroll(c, "exported"), "fmt": "csv"}),
            Call("GET", kwargs=lambda c: {**_payroll(c, "exported"), "fmt": "xlsx"}),
        ),
        roles=PAYROLL_RUN,
        target="payroll",
        writes=True,  # each copy of personal data that leaves is audited
        must_change=True,
        needs=PAYMENT_VIEWS,
    ),
    "payments:return_import": Row(
        "page",
        (
            Call("GET", kwargs=lambda c: _payroll(c, "exported")),
            Call("POST", kwargs=lambda c: _payroll(c, "exported"), data=return_upload, encoding="form", ok=s(302)),
        ),
        roles=PAYROLL_RUN,
        target="payroll",
        writes=True,
        must_change=True,
        needs=PAYMENT_VIEWS,
    ),
    "payments:reissue": Row(
        "page",
        (Call("POST", kwargs=lambda c: _payroll(c, "failed"), encoding="form"),),
        roles=PAYROLL_RUN,
        ok=s(302),
        target="payroll",
        writes=True,
        must_change=True,
        needs=PAYMENT_VIEWS,
    ),
    "payments:bank_account": Row(
        "page",
        (
            Call("GET", kwargs=_h),
            Call("POST", kwargs=_h, data=account_form, encoding="form", roles=WRITE, ok=s(302)),
        ),
        roles=PERSONAL,
        target="household",
        writes=True,
        must_change=True,
        needs=PAYMENT_VIEWS,
        note="registry writers register accounts (payments.services.bank_account_set)",
    ),
    "payments:household_payments": Row(
        "page",
        (Call("GET", kwargs=_h),),
        roles=PERSONAL,
        target="recipient",
        needs=PAYMENT_VIEWS,
        note="the recipient household of each village: its payment lines",
    ),
}


# --- integrity (docs/integrity.md §8): findings, check runs, staff and cadre lists --------------------------------

INTEGRITY_VIEWS = ("doudi.integrity.views",)
INTEGRITY_RUN = frozenset({CA, CV, AD})  # integrity.services.RUN_ROLES
INTEGRITY_MANAGE = frozenset({CA, AD})  # integrity.services.MANAGE_ROLES


def _finding(c: Ctx) -> dict[str, Any]:
    return {"finding_id": c.t.r.pk}


def _finding_version(c: Ctx, stale: bool = False, **data: Any) -> dict[str, Any]:
    return {"version": fresh(c.t.r).version - stale, **data}


def _assignee(c: Ctx) -> int:
    """A county approver of the finding's county (an assignee role responsible for the village)."""
    return (c.world.users.county_approver if c.k.county == c.world.tree.county else c.world.users.outsider).pk


def check_finding_list(c: Ctx, response: Any) -> None:
    """Exactly the findings the role may read are linked: the county's for county roles, assigned ones otherwise."""
    text = response.content.decode()
    for t in finding_targets(c.world, c.role):
        url = reverse("integrity:finding_detail", kwargs={"finding_id": t.r.pk})
        assert (f'"{url}"' in text) == t.in_scope, f"finding {t.label} listed: {not t.in_scope}"


def staff_upload(c: Ctx) -> dict[str, Any]:
    """A cadre list with one new term in the target county's village (outside the caller's region: 422)."""
    village = c.k.village
    row = f"矩阵村干部,{new_id(dt.date(1975, 2, 2))},村委会成员,{village.code},主任,2024-01-01"
    text = f"姓名,公民身份号码,人员类别,区划代码,职务,任职开始日期\n{row}\n"
    return {"file": SimpleUploadedFile("cadres.csv", text.encode("utf-8"), content_type="text/csv")}


INTEGRITY_PAGES: dict[str, Row] = {
    "integrity:finding_list": Row(
        "page",
        (
            Call("GET", check=check_finding_list),
            Call("GET", data=lambda c: {"status": "all", "check": "undeclared_kin"}, check=check_finding_list),
        ),
        roles=PERSONAL,
        needs=INTEGRITY_VIEWS,
        note="county roles: their region's findings; village and township staff: only those assigned to them",
    ),
    "integrity:finding_detail": Row(
        "page",
        (Call("GET", kwargs=_finding),),
        roles=PERSONAL,
        target="finding",
        needs=INTEGRITY_VIEWS,
        note="404 for a finding not assigned to a village or township user, even in their region",
    ),
    "integrity:finding_assign": Row(
        "page",
        (
            Call(
                "POST",
                kwargs=_finding,
                data=lambda c: _finding_version(c, stale=True, assignee_id=_assignee(c)),
                encoding="form",
                ok=s(409),
            ),
            Call(
                "POST", kwargs=_finding, data=lambda c: _finding_version(c, assignee_id=_assignee(c)), encoding="form"
            ),
        ),
        roles=INTEGRITY_MANAGE,
        ok=s(302),
        target="finding",
        writes=True,
        must_change=True,
        needs=INTEGRITY_VIEWS,
    ),
    "integrity:finding_resolve": Row(
        "page",
        (
            Call(
                "POST",
                kwargs=_finding,
                data=lambda c: _finding_version(c, resolution="已补办近亲属备案"),
                encoding="form",
            ),
        ),
        roles=INTEGRITY_MANAGE | {TR, VW},
        ok=s(302),
        target="finding",
        writes=True,
        must_change=True,
        needs=INTEGRITY_VIEWS,
        note="also the assignee (B's finding: the township reviewer); a village worker is never assigned one (404)",
    ),
    "integrity:finding_dismiss": Row(
        "page",
        (
            Call(
                "POST",
                kwargs=_finding,
                data=lambda c: _finding_version(c, resolution="经核实该村干部已离任"),
                encoding="form",
            ),
        ),
        roles=INTEGRITY_MANAGE,
        ok=s(302),
        target="finding",
        writes=True,
        must_change=True,
        needs=INTEGRITY_VIEWS,
    ),
    "integrity:run_list": Row(
        "page",
        (
            Call("GET"),
            Call("POST", data=lambda c: {"checks": ["undeclared_kin", "two_households"]}, encoding="form", ok=s(302)),
        ),
        roles=INTEGRITY_RUN,
        writes=True,
        must_change=True,
        needs=INTEGRITY_VIEWS,
        note="the checks run over the caller's region (a run record and its audit entry even when nothing is new)",
    ),
    "integrity:staff_list": Row(
        "page",
        (
            Call("GET", scoped=False),
            Call("GET", data=lambda c: {"terms": "all", "kind": "village_cadre"}, scoped=False),
            Call("POST", data=staff_upload, encoding="form", roles=INTEGRITY_MANAGE, ok=s(302)),
        ),
        roles=INTEGRITY_RUN,
        target="county",
        outside=s(404, 422),
        writes=True,
        must_change=True,
        needs=INTEGRITY_VIEWS,
        note="a term in a village outside the caller's region is a row error (422): nothing is imported",
    ),
    "integrity:staff_template": Row(
        "page",
        (Call("GET", kwargs=lambda c: {"fmt": "csv"}), Call("GET", kwargs=lambda c: {"fmt": "xlsx"})),
        roles=INTEGRITY_RUN,
        needs=INTEGRITY_VIEWS,
    ),
}


# --- the public portal (docs/portal.md): anyone, anonymous included, reads every county's published lists --------

PORTAL_VIEWS = ("doudi.portal.views",)
EXTERNAL_ASSET_RE = re.compile(r"""(?:src|<link[^>]*href)=["']?(?:https?:)?//""")


def _code(which: str) -> Callable[[Ctx], dict[str, Any]]:
    def kwargs(c: Ctx) -> dict[str, Any]:
        tree = c.world.tree
        return {"code": getattr(tree, which).code}

    return kwargs


def check_portal(c: Ctx, response: Any) -> None:
    """A public page: no external assets, and an unknown region is a 404 (with the same privacy)."""
    text = response.content.decode()
    assert not EXTERNAL_ASSET_RE.search(text), f"an external asset: {EXTERNAL_ASSET_RE.search(text)}"


def check_portal_lists(kind: str, where: str) -> Callable[[Ctx, Any], None]:
    """The page shows the `kind` household of village A (masked as the county's setting says): the privacy check
    is not passing on an empty page."""

    def check(c: Ctx, response: Any) -> None:
        from doudi.cases import disclosure

        check_portal(c, response)
        name = c.world.households[f"A-{kind}"].names[0]
        masked = disclosure.mask_name(
            name, disclosure.name_masking_for(getattr(c.world.tree, where).code, dt.date.today())
        )
        assert masked in response.content.decode(), f"{masked} is not on the page"

    return check


def check_portal_unknown_region(c: Ctx, response: Any) -> None:
    check_portal(c, response)
    missing = c.client.get(reverse("portal:region", kwargs={"code": "469001999999"}))
    assert missing.status_code == 404, missing.status_code
    check_published(c, missing)


def _public(*calls: Call) -> Row:
    return Row("page", calls, public=True, anonymous=s(200), published=True, needs=PORTAL_VIEWS)


def contact_form(c: Ctx) -> dict[str, Any]:
    from doudi.portal.models import CountyContact

    contact = CountyContact.objects.filter(region=c.k.county).first()
    return {
        "county_code": c.k.county.code,
        "version": contact.version if contact else "",
        "office": "民政局社会救助股",
        "address": "人民路2号",
        "phone": "0898-87654321",
        "hotline": "12345",
        "hours": "工作日",
    }


PORTAL_PAGES: dict[str, Row] = {
    "portal:home": _public(Call("GET", check=check_portal_unknown_region)),
    "portal:region": _public(
        Call("GET", kwargs=_code("county"), check=check_portal),
        Call("GET", kwargs=_code("township"), check=check_portal),
        Call("GET", kwargs=_code("village"), check=check_portal_lists("decided", "village")),
        Call("GET", kwargs=_code("other_village"), check=check_portal),
    ),
    "portal:changes": _public(
        Call("GET", kwargs=_code("county"), check=check_portal),
        Call("GET", kwargs=_code("other_township"), check=check_portal),
    ),
    "portal:publicity": _public(
        Call("GET", kwargs=_code("county"), check=check_portal_lists("objected", "county")),
        Call("GET", kwargs=_code("township"), check=check_portal_lists("objected", "township")),
        Call("GET", kwargs=_code("other_county"), check=check_portal),
    ),
    "portal:guide": _public(
        Call("GET", kwargs=_code("county"), check=check_portal),
        Call("GET", kwargs=_code("other_county"), check=check_portal),
    ),
    "portal:guide_program": _public(
        Call("GET", kwargs=lambda c: {"code": c.world.tree.county.code, "program": "dibao"}, check=check_portal),
        Call("GET", kwargs=lambda c: {"code": c.world.tree.other_county.code, "program": "tekun"}, check=check_portal),
    ),
    "portal:contact_manage": Row(
        "page",
        (Call("GET", scoped=False), Call("POST", data=contact_form, encoding="form", ok=s(302))),
        roles=APPROVER,
        target="county",
        outside=s(404, 422),
        writes=True,
        must_change=True,
        needs=PORTAL_VIEWS,
        note="a county approver edits its own county's contact details, an administrator any county's",
    ),
}


# --- complaints and reports (docs/complaints.md): the handling office, the county above it, the public -------------

COMPLAINT_VIEWS = ("doudi.complaints.views",)
COMPLAINTS_API = ("doudi.complaints.api",)
PUBLIC_COMPLAINT_VIEWS = ("doudi.complaints.public_views",)
COMPLAINT_STAFF = frozenset({TR, CA, AD})  # read the complaints of their offices (selectors.LIST_ROLES)


def _complaint(state: str) -> Callable[[Ctx], dict[str, Any]]:
    return lambda c: {"complaint_id": c.t.r[state].pk}


def _complaint_version(state: str, stale: bool = False, **data: Any) -> Callable[[Ctx], dict[str, Any]]:
    return lambda c: {"version": fresh(c.t.r[state]).version - stale, **data}


def complaints_visible(c: Ctx) -> set[int]:
    return {x.pk for t in complaint_targets(c.world, c.role) if t.in_scope for x in t.r.values()}


def check_complaint_list(c: Ctx, response: Any) -> None:
    """Exactly the complaints of the offices in the role's region are linked (the leak checks read real rows)."""
    text = response.content.decode()
    visible = complaints_visible(c)
    for t in complaint_targets(c.world, c.role):
        url = reverse("complaints:detail", kwargs={"complaint_id": t.r["new"].pk})
        assert (f'"{url}"' in text) == (t.r["new"].pk in visible), f"complaint {t.label} listed: {not t.in_scope}"


def check_api_complaint_list(c: Ctx, response: Any) -> None:
    assert {item["id"] for item in response.json()["items"]} == complaints_visible(c)


def check_reporter_shown(state: str) -> Callable[[Ctx, Any], None]:
    """The handling office sees the reporter (so assert_no_reporter is not passing on a page without one)."""

    def check(c: Ctx, response: Any) -> None:
        reporter = c.world.records["reporter"][c.t.r[state].pk]
        if c.user.region_id == reporter.office and c.user.role == reporter.role:
            assert reporter.name in response_text(response), "the handling office does not see the reporter"

    return check


def check_aggregates(c: Ctx, response: Any) -> None:
    no_personal_data(c, response)


def _reroute_to(c: Ctx) -> str:
    complaint = c.t.r["new"]
    return complaint.region.parent.parent_id if complaint.office.level == "township" else complaint.region.parent_id


def staff_complaint_form(c: Ctx) -> dict[str, Any]:
    return {
        "channel": "hotline",
        "received_on": TODAY,
        "kind": "complaint",
        "program": "dibao",
        "region_code": c.k.village.code,
        "subject": "来电反映低保评议不公",
        "description": "来电人反映本村低保评议未公示",
        "anonymous": "1",
    }


def public_complaint_form(c: Ctx) -> dict[str, Any]:
    """A valid portal submission: the honeypot empty, the form shown a minute ago (a signed token)."""
    import time

    from doudi.complaints.forms import form_token

    return {
        "county": c.world.tree.county.code,
        "kind": "report",
        "program": "dibao",
        "region_code": c.world.tree.village.code,
        "subject": "反映低保对象有车辆",
        "description": "该户家中有一辆小轿车",
        "anonymous": "0",
        "reporter_name": "矩阵举报人",
        "reporter_phone": "13911112222",
        "reporter_address": "矩阵路1号",
        "website": "",
        "started": form_token(time.time() - 60),
    }


def check_lookup(c: Ctx, response: Any) -> None:
    assert "经核查反映情况部分属实" in response.content.decode(), "the public reply is not shown"


def _handle(state: str, data: dict[str, Any], *, stale: bool = False, path: str = "") -> Row:
    """A handling action of the complaint's handling office on a complaint in `state`."""
    calls = []
    if stale:  # the version is claimed after the office is checked: only the handling office learns of it
        calls.append(
            Call(
                "POST",
                kwargs=_complaint(state),
                data=_complaint_version(state, True, **data),
                encoding="form",
                ok=s(409),
            )
        )
    calls.append(Call("POST", kwargs=_complaint(state), data=_complaint_version(state, **data), encoding="form"))
    return Row(
        "page",
        tuple(calls),
        ok=s(302),
        target="complaint",
        by_handler=True,
        writes=True,
        must_change=True,
        needs=COMPLAINT_VIEWS,
    )


COMPLAINT_PAGES: dict[str, Row] = {
    "complaints:list": Row(
        "page",
        (Call("GET", check=check_complaint_list), Call("GET", data=lambda c: {"status": "new", "due": "overdue"})),
        roles=COMPLAINT_STAFF,
        needs=COMPLAINT_VIEWS,
        note="the complaints of the offices in the region: a township's own, a county's and its townships'",
    ),
    "complaints:new": Row(
        "page",
        (Call("GET", scoped=False), Call("POST", data=staff_complaint_form, encoding="form", ok=s(302))),
        roles=COMPLAINT_STAFF,
        target="application",
        outside=s(404, 422),
        writes=True,
        must_change=True,
        needs=COMPLAINT_VIEWS,
        note="hotline intake about a village in the region (others are not even choices: 422)",
    ),
    "complaints:statistics": Row(
        "page",
        (Call("GET", check=check_aggregates),),
        roles=COMPLAINT_STAFF | {str(Role.SUPERVISOR)},
        needs=COMPLAINT_VIEWS,
        note="counts per region, type, status and finding: never a person",
    ),
    "complaints:detail": Row(
        "page",
        (
            Call("GET", kwargs=_complaint("new"), check=check_reporter_shown("new")),
            Call("GET", kwargs=_complaint("answered"), check=check_reporter_shown("answered")),
        ),
        roles=COMPLAINT_STAFF,
        target="complaint",
        needs=COMPLAINT_VIEWS,
        note="the county and the administrator read the complaints of the offices below them, without the reporter",
    ),
    "complaints:accept": _handle("new", {"note": "符合受理条件"}, stale=True),
    "complaints:not_accept": _handle("new", {"reason": "不属于社会救助事项"}),
    "complaints:entry_add": _handle("accepted", {"text": "已入户核查", "finding": "substantiated"}),
    "complaints:link": Row(
        "page",
        (
            Call(
                "POST",
                kwargs=_complaint("accepted"),
                data=lambda c: {
                    **_complaint_version("accepted")(c),
                    "household_number": c.t.h.household.number,
                },
                encoding="form",
            ),
        ),
        ok=s(302),
        target="complaint",
        by_handler=True,
        writes=True,
        must_change=True,
        needs=COMPLAINT_VIEWS,
    ),
    "complaints:reroute": Row(
        "page",
        (
            Call(
                "POST",
                kwargs=_complaint("new"),
                data=lambda c: {
                    **_complaint_version("new")(c),
                    "to_office_code": _reroute_to(c),
                    "reason": "涉及县级事项",
                },
                encoding="form",
            ),
        ),
        roles=COMPLAINT_STAFF,
        ok=s(302),
        target="complaint",
        writes=True,
        must_change=True,
        needs=COMPLAINT_VIEWS,
        note="the handling office, the county approver of the complaint's county, or an administrator",
    ),
    "complaints:answer": _handle(
        "investigating", {"public_reply": "经核查情况属实，已停发", "reply": "您反映的问题经核查属实，已依规处理。"}
    ),
    "complaints:close": _handle("answered", {"note": "举报人已收到答复"}),
    "complaints:reply_pdf": Row(
        "page",
        (Call("GET", kwargs=_complaint("answered"), check=check_reporter_shown("answered")),),
        target="complaint",
        by_handler=True,
        needs=COMPLAINT_VIEWS,
        note="the written reply to a real-name reporter: the handling office only",
    ),
    "complaints:attachment": Row(
        "page",
        (
            Call(
                "GET",
                kwargs=lambda c: {"complaint_id": c.t.r["new"].pk, "attachment_id": c.t.r["new"].attachments.get().pk},
            ),
        ),
        roles=COMPLAINT_STAFF,
        target="complaint_handled",
        needs=COMPLAINT_VIEWS,
        note="attachments may show who the reporter is: anyone but the handling office gets 404",
    ),
    "api:complaint_list": Row(
        "api", (Call("GET", check=check_api_complaint_list),), roles=COMPLAINT_STAFF, needs=COMPLAINTS_API
    ),
    "api:complaint_detail": Row(
        "api",
        (
            Call("GET", kwargs=_complaint("new"), check=check_reporter_shown("new")),
            Call("GET", kwargs=_complaint("answered")),
        ),
        roles=COMPLAINT_STAFF,
        target="complaint",
        needs=COMPLAINTS_API,
    ),
    "api:complaint_entry_add": Row(
        "api",
        (
            Call(
                "POST",
                kwargs=_complaint("accepted"),
                data=_complaint_version("accepted", text="电话核实", finding="partly"),
            ),
        ),
        ok=s(201),
        target="complaint",
        by_handler=True,
        writes=True,
        must_change=True,
        needs=COMPLAINTS_API,
    ),
    "complaints_public:new": Row(
        "page",
        (
            Call("GET", check=check_portal),
            Call("GET", data=lambda c: {"county": c.world.tree.county.code}, check=check_portal),
            Call("POST", data=public_complaint_form, encoding="form", check=check_portal),
        ),
        public=True,
        anonymous=s(200),
        published=True,
        throttled=True,
        writes=True,
        must_change=True,
        needs=PUBLIC_COMPLAINT_VIEWS,
        note="anyone files (logged in or not): a confirmation page with the tracking number",
    ),
    "complaints_public:lookup": Row(
        "page",
        (
            Call("GET", check=check_portal),
            Call(
                "POST",
                data=lambda c: {"number": c.world.records["complaint"]["A"]["answered"].tracking_number},
                encoding="form",
                check=check_lookup,
            ),
        ),
        public=True,
        anonymous=s(200),
        published=True,
        throttled=True,
        needs=PUBLIC_COMPLAINT_VIEWS,
        note="status and public reply by tracking number: never the reporter",
    ),
}


# --- verification (docs/verification-service.md): sources, runs, hits, notices, disputes ---------------------------

VERIFICATION_VIEWS = ("doudi.verification.views",)
VERIFICATION_API = ("doudi.verification.api",)
SOURCE_READ = frozenset({CV, CA, AD})
SOURCE_WRITE = frozenset({CV, AD})  # also caseload runs
VERIFIERS = frozenset({CV, AD})  # the roles of the case's verification step, and administrators
NOTICE = frozenset({TR, CV, AD})  # notices and outcomes: the township hears the applicant
DISPUTE = frozenset({VW, TR, CV, AD})


def _run(c: Ctx) -> dict[str, Any]:
    return {"run_id": c.t.r.pk}


def _hit(c: Ctx) -> dict[str, Any]:
    return {"hit_id": c.t.r.pk}


def _verify_case(c: Ctx) -> dict[str, Any]:
    return {"application_id": c.k.verify.pk}


def source_upload(c: Ctx) -> dict[str, Any]:
    """A deaths register for the target county (a new file each time: the same file twice is refused, 409)."""
    text = f"id_number,death_date\n{new_id(dt.date(1940, 1, 1))},2026-01-05\n"
    return {
        "kind": "deaths",
        "department": "卫健委",
        "region_code": c.k.county.code,
        "period_start": "2026-01-01",
        "period_end": "2026-01-31",
        "received_on": TODAY,
        "file": SimpleUploadedFile("deaths.csv", text.encode(), content_type="text/csv"),
    }


def evidence_upload(c: Ctx) -> dict[str, Any]:
    return {
        "received_on": TODAY,
        "statement": "存款为代管的集体资金",
        "evidence": SimpleUploadedFile("证明.pdf", b"%PDF-1.4\n%%EOF\n", content_type="application/pdf"),
    }


VERIFICATION_PAGES: dict[str, Row] = {
    "verification:index": Row(
        "page",
        (Call("GET", check=check_supervisor_aggregates),),
        needs=VERIFICATION_VIEWS,
        note="runs in or above the region",
    ),
    "verification:run_create": Row(
        "page",
        (
            Call("POST", data=lambda c: {"kind": "caseload", "region_code": c.k.village.parent_id}, encoding="form"),
            Call("POST", data=lambda c: {"kind": "yearly", "region_code": c.k.village.code}, encoding="form"),
        ),
        roles=SOURCE_WRITE,
        ok=s(302),
        target="application",
        outside=s(404, 422),
        writes=True,
        must_change=True,
        needs=VERIFICATION_VIEWS,
        note="a caseload or yearly run over a township or village in the region (queued); others: 422",
    ),
    "verification:run_detail": Row(
        "page",
        (
            Call("GET", kwargs=_run, check=check_supervisor_aggregates),
            Call("GET", kwargs=_run, data=lambda c: {"rule": "vehicle"}),
        ),
        target="run",
        needs=VERIFICATION_VIEWS,
        note="a village's application run, a county's caseload run: read in and below their region; supervisors see "
        "counts only",
    ),
    "verification:run_progress": Row(
        "page",
        (Call("GET", kwargs=_run),),
        target="run",
        needs=VERIFICATION_VIEWS,
        note="a county's caseload run is read by the county and the townships and villages below it",
    ),
    "verification:notice_add": Row(
        "page",
        (
            Call("GET", kwargs=lambda c: {"run_id": c.t.r.run_id, "household_id": c.t.r.household_id}),
            Call(
                "POST",
                kwargs=lambda c: {"run_id": c.t.r.run_id, "household_id": c.t.r.household_id},
                data=lambda c: {"notified_on": TODAY, "method": "phone", "note": "电话告知户主"},
                encoding="form",
                ok=s(302),
            ),
        ),
        roles=NOTICE,
        target="hit",
        writes=True,
        must_change=True,
        needs=VERIFICATION_VIEWS,
    ),
    "verification:source_list": Row(
        "page",
        (Call("GET", scoped=False), Call("POST", data=source_upload, encoding="form", roles=SOURCE_WRITE, ok=s(302))),
        roles=SOURCE_READ,
        target="county",
        outside=s(404, 422),
        writes=True,
        must_change=True,
        needs=VERIFICATION_VIEWS,
        note="a batch for a county outside the region: 404",
    ),
    "verification:source_detail": Row(
        "page",
        (Call("GET", kwargs=lambda c: {"batch_id": c.t.r.pk}),),
        roles=SOURCE_READ,
        target="batch",
        needs=VERIFICATION_VIEWS,
    ),
    "verification:source_rejects": Row(
        "page",
        (Call("GET", kwargs=lambda c: {"batch_id": c.t.r.pk}),),
        roles=SOURCE_READ,
        target="batch",
        writes=True,  # an audited export
        must_change=True,
        needs=VERIFICATION_VIEWS,
    ),
    "verification:application_run": Row(
        "page",
        (Call("POST", kwargs=_verify_case, encoding="form"),),
        roles=VERIFIERS,
        ok=s(302),
        target="application",
        writes=True,
        must_change=True,
        needs=VERIFICATION_VIEWS,
        note="run inline for the case at 信息核对",
    ),
    "verification:step_complete": Row(
        "page",
        (
            Call(
                "POST",
                kwargs=_verify_case,
                data=lambda c: {"version": fresh(c.k.verify).version, "acted_on": TODAY, "comment": "核对无异常"},
                encoding="form",
            ),
        ),
        roles=VERIFIERS,
        ok=s(302),
        target="application",
        writes=True,
        must_change=True,
        needs=VERIFICATION_VIEWS,
        note="the hit is explained and the household told: the step completes with the run's result",
    ),
    "verification:dispute_add": Row(
        "page",
        (
            Call("GET", kwargs=_hit),
            Call("POST", kwargs=_hit, data=evidence_upload, encoding="form", ok=s(302)),
        ),
        roles=DISPUTE,
        target="hit",
        writes=True,
        must_change=True,
        needs=VERIFICATION_VIEWS,
    ),
    "verification:outcome_set": Row(
        "page",
        (
            Call("GET", kwargs=_hit),
            Call(
                "POST",
                kwargs=_hit,
                data=lambda c: {"version": fresh(c.t.r).version, "outcome": "confirmed", "reason": "车辆仍在使用"},
                encoding="form",
                ok=s(302),
            ),
        ),
        roles=NOTICE,
        target="hit",
        writes=True,
        must_change=True,
        needs=VERIFICATION_VIEWS,
    ),
    "verification:evidence_file": Row(
        "page",
        (Call("GET", kwargs=lambda c: {"evidence_id": c.t.r.pk}),),
        roles=PERSONAL,
        target="evidence",
        needs=VERIFICATION_VIEWS,
    ),
    "api:verification_run_create": Row(
        "api",
        (
            Call("POST", data=lambda c: {"kind": "application", "application_id": c.k.verify.pk}),
            Call("POST", data=lambda c: {"kind": "caseload", "region_code": c.k.village.code}),
            Call("POST", data=lambda c: {"kind": "region", "region_code": c.k.village.parent_id}),
        ),
        roles=VERIFIERS,
        ok=s(201),
        target="application",
        outside=s(404, 422),
        writes=True,
        must_change=True,
        needs=VERIFICATION_API,
    ),
    "api:verification_run_get": Row("api", (Call("GET", kwargs=_run),), target="run", needs=VERIFICATION_API),
    "api:verification_run_hits": Row(
        "api", (Call("GET", kwargs=_run),), roles=PERSONAL, target="run", needs=VERIFICATION_API
    ),
    "api:verification_hit_outcome": Row(
        "api",
        (
            Call(
                "POST",
                kwargs=_hit,
                data=lambda c: {"version": fresh(c.t.r).version, "outcome": "corrected", "reason": "部门数据有误"},
            ),
        ),
        roles=NOTICE,
        target="hit",
        writes=True,
        must_change=True,
        needs=VERIFICATION_API,
    ),
}


def check_api_payroll_list(c: Ctx, response: Any) -> None:
    """The payrolls of the county the role is in or above: a township reads its county's, nobody another's."""
    visible = {p.pk for t in county_targets(c.world, c.role) if t.in_scope for p in t.k.payrolls.values()}
    assert {item["id"] for item in response.json()} == visible


def _api_step(c: Ctx, stale: bool = False) -> dict[str, Any]:
    app = c.k.app(c.role)
    payload = {"result": "pass", "delivered_on": TODAY}
    return {"version": app.version - stale, "comment": "矩阵办理", "payload": payload}


CASE_API: dict[str, Row] = {
    "api:case_task_list": Row("api", (Call("GET"),), roles=PERSONAL, needs=CASES_API),
    "api:case_overdue": Row(
        "api", (Call("GET"), Call("GET", data=lambda c: {"level": "county"})), roles=PERSONAL, needs=CASES_API
    ),
    "api:case_list": Row(
        "api",
        (
            Call("GET", data=lambda c: {"page_size": 100}, check=check_api_case_list),
            Call("GET", data=lambda c: {"status": "approved"}),
        ),
        roles=PERSONAL,
        needs=CASES_API,
    ),
    "api:case_create": Row(
        "api",
        (
            Call(
                "POST",
                data=lambda c: {
                    "program": "dibao",
                    "household_id": c.t.h.household.pk,
                    "applicant_id": c.t.h.head.pk,
                    "received_on": TODAY,
                    "documents": DIBAO_DOCS,
                    "verification_authorised": True,
                    "authorised_on": TODAY,
                },
            ),
        ),
        roles=INTAKE,
        ok=s(201),
        target="household",
        writes=True,
        must_change=True,
        needs=CASES_API,
    ),
    "api:case_act_first": Row(
        "api",
        (
            Call(
                "POST",
                data=lambda c: {
                    "household_id": c.t.h.household.pk,
                    "applicant_id": c.t.h.head.pk,
                    "amount": "300.00",
                    "reason": "房屋失火",
                },
            ),
        ),
        roles=CASE_OPEN,
        ok=s(201),
        target="application",
        writes=True,
        must_change=True,
        needs=CASES_API,
    ),
    "api:case_detail": Row(
        "api",
        (Call("GET", kwargs=lambda c: _app(c, "decided")), Call("GET", kwargs=lambda c: _app(c, "objected"))),
        roles=PERSONAL,
        target="application",
        needs=CASES_API,
    ),
    "api:case_step_complete": Row(
        "api",
        (
            Call(
                "POST",
                kwargs=_step_kwargs,
                data=lambda c: _api_step(c, stale=True),
                roles=STEP_ACTORS | {VW},
                ok=s(409),
            ),
            Call("POST", kwargs=_step_kwargs, data=_api_step),
        ),
        roles=STEP_ACTORS,
        target="application",
        writes=True,
        must_change=True,
        needs=CASES_API,
    ),
    "api:case_step_skip": Row(
        "api",
        (
            Call(
                "POST",
                kwargs=lambda c: {**_app(c, "review"), "code": "democratic_review"},
                data=lambda c: {"version": fresh(c.k.review).version, "reason": "无人提出异议"},
            ),
        ),
        roles=CASE_OPEN,
        target="application",
        writes=True,
        must_change=True,
        needs=CASES_API,
    ),
    "api:case_refuse": Row(
        "api",
        (
            Call(
                "POST",
                kwargs=lambda c: _app(c, "approval"),
                data=lambda c: {
                    "version": fresh(c.k.approval).version,
                    "step_code": "county_approval",
                    "reasons": ["家庭人均收入高于当地低保标准"],
                },
            ),
        ),
        roles=APPROVER,
        target="application",
        writes=True,
        must_change=True,
        needs=CASES_API,
    ),
    "api:case_documents": Row(
        "api",
        (
            Call(
                "POST",
                kwargs=lambda c: _app(c, "accept"),
                data=lambda c: {
                    "version": fresh(c.k.accept).version,
                    "documents": {"income_proof": False},
                    "verification_authorised": True,
                    "authorised_on": TODAY,
                },
            ),
        ),
        roles=INTAKE | CASE_OPEN,
        target="application",
        writes=True,
        must_change=True,
        needs=CASES_API,
    ),
    "api:case_visit_add": Row(
        "api",
        (
            Call(
                "POST",
                kwargs=lambda c: _app(c, "accept"),
                data=lambda c: {
                    "version": fresh(c.k.accept).version,
                    "level": visit_level(c),
                    "visited_on": TODAY,
                    "investigators": ["张调查", "李调查"],
                    "findings": "家庭情况与申报一致",
                },
            ),
        ),
        roles=VISITORS,
        ok=s(201),
        target="application",
        writes=True,
        must_change=True,
        needs=CASES_API,
    ),
    "api:case_publicity_start": Row(
        "api",
        (
            Call(
                "POST",
                kwargs=lambda c: _app(c, "publicise"),
                data=lambda c: {"version": fresh(c.k.publicise).version, "start_date": TODAY, "place": "村务公开栏"},
            ),
        ),
        roles=frozenset({TR, AD}),
        ok=s(201),
        target="application",
        writes=True,
        must_change=True,
        needs=CASES_API,
    ),
    "api:case_objection_add": Row(
        "api",
        (
            Call(
                "POST",
                kwargs=lambda c: _app(c, "objected"),
                data=lambda c: {
                    "version": fresh(c.k.objected).version,
                    "publicity_id": c.k.publicity.pk,
                    "received_on": TODAY,
                    "content": "反映家中有经营性收入",
                },
            ),
        ),
        roles=CASE_OPEN | {VW},
        ok=s(201),
        target="publicity",
        writes=True,
        must_change=True,
        needs=CASES_API,
    ),
    "api:case_objection_resolve": Row(
        "api",
        (
            Call(
                "POST",
                kwargs=lambda c: {**_app(c, "objected"), "objection_id": c.k.objection.pk},
                data=lambda c: {"version": fresh(c.k.objected).version, "upheld": False, "resolution": "经核实无车辆"},
            ),
        ),
        roles=CASE_OPEN,
        target="publicity",
        writes=True,
        must_change=True,
        needs=CASES_API,
    ),
    "api:recipient_list": Row(
        "api",
        (
            Call("GET"),
            Call("GET", data=lambda c: {"program": "dibao", "page_size": 100}, check=check_api_recipient_list),
        ),
        roles=PERSONAL,
        needs=CASES_API,
    ),
    "api:recipient_detail": Row(
        "api",
        (Call("GET", kwargs=lambda c: {"recipient_id": c.k.recipient.pk}),),
        roles=PERSONAL,
        target="recipient",
        needs=CASES_API,
    ),
    "api:recipient_status": Row(
        "api",
        (
            Call(
                "POST",
                kwargs=lambda c: {"recipient_id": c.k.recipient.pk},
                data=lambda c: {
                    "version": fresh(c.k.recipient).version,
                    "to_status": "suspended",
                    "reason": "外出务工，收入待核实",
                    "effective_month": "2026-12",
                },
            ),
        ),
        roles=APPROVER,
        target="recipient",
        writes=True,
        must_change=True,
        needs=CASES_API,
    ),
    "api:recheck_list": Row(
        "api", (Call("GET"), Call("GET", data=lambda c: {"within_days": 366})), roles=PERSONAL, needs=CASES_API
    ),
    "api:recheck_open": Row(
        "api",
        (Call("POST", kwargs=lambda c: {"recheck_id": c.k.recheck.pk}),),
        roles=CASE_OPEN,
        target="recheck",
        writes=True,
        must_change=True,
        needs=CASES_API,
    ),
    "api:change_report_create": Row(
        "api",
        (
            Call(
                "POST",
                data=lambda c: {
                    "household_id": c.t.h.household.pk,
                    "kind": "income",
                    "reported_on": TODAY,
                    "details": {"note": "户主务工收入增加"},
                },
            ),
        ),
        roles=frozenset(case_services.CHANGE_REPORT_ROLES),
        ok=s(201),
        target="recipient",
        writes=True,
        must_change=True,
        needs=CASES_API,
    ),
    "api:person_death": Row(
        "api",
        (
            Call(
                "POST",
                kwargs=lambda c: {"person_id": c.k.person.pk},
                data=lambda c: {"version": fresh(c.k.person).version, "death_date": TODAY},
            ),
        ),
        roles=WRITE,
        target="person",
        writes=True,
        must_change=True,
        needs=CASES_API,
    ),
    "api:spot_check_list": Row(
        "api", (Call("GET"), Call("GET", data=lambda c: {"program": "dibao"})), roles=PERSONAL, needs=CASES_API
    ),
    "api:spot_check_create": Row(
        "api",
        (Call("POST", data=lambda c: {"program": "dibao", "county_code": c.k.county.code}),),
        roles=APPROVER,
        ok=s(201),
        target="county",
        outside=s(404, 422),
        writes=True,
        must_change=True,
        needs=CASES_API,
    ),
}

PAYMENT_API: dict[str, Row] = {
    "api:payroll_list": Row(
        "api",
        (Call("GET", check=check_api_payroll_list), Call("GET", data=lambda c: {"month": "2026-01"})),
        roles=PAYROLL_READ,
        needs=PAYMENTS_API,
    ),
    "api:payroll_generate": Row(
        "api",
        (Call("POST", data=lambda c: {"county_code": c.k.county.code, "program": "dibao", "month": GENERATE_MONTH}),),
        roles=PAYROLL_RUN,
        target="payroll",
        outside=s(404, 422),
        writes=True,
        must_change=True,
        needs=PAYMENTS_API,
    ),
    "api:payroll_detail": Row(
        "api",
        (Call("GET", kwargs=lambda c: _payroll(c, "draft")), Call("GET", kwargs=lambda c: _payroll(c, "failed"))),
        roles=PAYROLL_READ,
        target="payroll",
        needs=PAYMENTS_API,
    ),
    "api:payroll_lines": Row(
        "api",
        (Call("GET", kwargs=lambda c: _payroll(c, "draft")), Call("GET", kwargs=lambda c: _payroll(c, "failed"))),
        roles=PAYROLL_READ,
        target="payroll",
        needs=PAYMENTS_API,
    ),
    "api:payroll_differences": Row(
        "api",
        (Call("GET", kwargs=lambda c: _payroll(c, "differences")),),
        roles=PAYROLL_READ,
        target="payroll",
        needs=PAYMENTS_API,
    ),
    "api:payroll_approve": Row(
        "api",
        (
            Call(
                "POST",
                kwargs=lambda c: _payroll(c, "draft"),
                data=lambda c: _payroll_version(c, "draft", stale=True),
                ok=s(409),
            ),
            Call("POST", kwargs=lambda c: _payroll(c, "draft"), data=lambda c: _payroll_version(c, "draft")),
        ),
        roles=PAYROLL_APPROVE,
        target="payroll",
        writes=True,
        must_change=True,
        needs=PAYMENTS_API,
    ),
    "api:payroll_differences_approve": Row(
        "api",
        (
            Call(
                "POST",
                kwargs=lambda c: _payroll(c, "differences"),
                data=lambda c: _payroll_version(c, "differences"),
            ),
        ),
        roles=PAYROLL_APPROVE,
        target="payroll",
        writes=True,
        must_change=True,
        needs=PAYMENTS_API,
    ),
    "api:payroll_bank_files_export": Row(
        "api",
        (Call("POST", kwargs=lambda c: _payroll(c, "approved"), query=lambda c: {"fmt": "csv"}),),
        roles=PAYROLL_RUN,
        target="payroll",
        writes=True,
        must_change=True,
        needs=PAYMENTS_API,
        note="writes the next batch and answers its files",
    ),
    "api:payroll_bank_files": Row(
        "api",
        (
            Call("GET", kwargs=lambda c: _payroll(c, "exported"), data=lambda c: {"fmt": "csv"}),
            Call("GET", kwargs=lambda c: _payroll(c, "exported"), data=lambda c: {"fmt": "xlsx", "batch": 1}),
        ),
        roles=PAYROLL_RUN,
        target="payroll",
        writes=True,
        must_change=True,
        needs=PAYMENTS_API,
    ),
    "api:payroll_return_import": Row(
        "api",
        (Call("POST", kwargs=lambda c: _payroll(c, "exported"), data=return_upload, encoding="form"),),
        roles=PAYROLL_RUN,
        target="payroll",
        writes=True,
        must_change=True,
        needs=PAYMENTS_API,
    ),
    "api:payroll_reissue": Row(
        "api",
        (Call("POST", kwargs=lambda c: _payroll(c, "failed"), data=lambda c: {"line_ids": None}),),
        roles=PAYROLL_RUN,
        target="payroll",
        writes=True,
        must_change=True,
        needs=PAYMENTS_API,
    ),
    "api:bank_account_set": Row(
        "api",
        (
            Call(
                "PUT",
                kwargs=_h,
                data=lambda c: {k: v for k, v in account_form(c).items() if k != "owner"},
            ),
        ),
        roles=WRITE,
        target="household",
        writes=True,
        must_change=True,
        needs=PAYMENTS_API,
    ),
    "api:household_payments": Row(
        "api", (Call("GET", kwargs=_h),), roles=PERSONAL, target="recipient", needs=PAYMENTS_API
    ),
}


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
    "api:household_list": Row(
        "api", (Call("GET", data=lambda c: {"page_size": 100}, check=check_api_household_search),), roles=PERSONAL
    ),
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
    # What-if simulations: aggregates over the caseload in the caller's region, for those who set or watch policy.
    "policy:simulate": Row(
        "page",
        (
            Call("GET", scoped=False),
            Call(
                "POST",
                data=lambda c: {"path": "dibao.standard", "mode": "pct_up", "amount": "5", "effective_from": TODAY},
                encoding="form",
                scoped=False,
            ),
            Call(
                "POST",
                data=lambda c: {
                    "path": "dibao.standard",
                    "mode": "pct_up",
                    "amount": "5",
                    "effective_from": TODAY,
                    "regions": [c.k.county.code],
                },
                encoding="form",
            ),
        ),
        roles=frozenset({CA, str(Role.SUPERVISOR), AD}),
        target="county",
        outside=s(404, 422),
        writes=True,  # a simulation writes nothing, whoever runs it
        needs=("doudi.policy.views",),
        note="regions outside the caller's are not even choices (422)",
    ),
    # Integrity findings: county roles (findings of their county), supervisors (counts and coverage only).
    "integrity:overview": Row(
        "page",
        (Call("GET", scoped=False, check=check_supervisor_aggregates),),
        roles=frozenset({CA, CV, AD, str(Role.SUPERVISOR)}),
        needs=("doudi.integrity.views",),
    ),
    **INTEGRITY_PAGES,
    **PORTAL_PAGES,
    **COMPLAINT_PAGES,
    **VERIFICATION_PAGES,
    **CASE_PAGES,
    **PAYMENT_PAGES,
    **CASE_API,
    **PAYMENT_API,
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


# Columns a request may change without changing records: authenticating stamps a token, logging in a user.
FINGERPRINT_SKIP = {("core.ApiToken", "last_used_at"), ("core.User", "last_login")}
# Tables a request may change without changing records: the rate limiter counts public submissions.
FINGERPRINT_SKIP_MODELS = {"core.RateCounter"}


@functools.cache
def _fingerprint_sql() -> tuple[tuple[str, str], ...]:
    """(model, SELECT of every row) for every model of the project's apps: a new app's tables are covered too."""
    qn = connection.ops.quote_name
    queries = []
    tables = set(connection.introspection.table_names())
    for model in django_apps.get_models():
        # (a model whose migration is still being written has no table: the app's own tests say so)
        if not model.__module__.startswith("doudi.") or model._meta.db_table not in tables:
            continue
        label = model._meta.label
        if label in FINGERPRINT_SKIP_MODELS:
            continue
        columns = [f.column for f in model._meta.concrete_fields if (label, f.attname) not in FINGERPRINT_SKIP]
        table, pk = qn(model._meta.db_table), qn(model._meta.pk.column)
        queries.append((label, f"SELECT {', '.join(map(qn, columns))} FROM {table} ORDER BY {pk}"))
    return tuple(queries)


def fingerprint() -> dict[str, Any]:
    """Everything a request could change: every row of every table of the project (registry, cases, payments,
    policy, tokens, users, regions, the audit log …), column by column. Raw rows: fast enough to take before and
    after every call."""
    state: dict[str, Any] = {}
    with connection.cursor() as cursor:
        for label, sql in _fingerprint_sql():
            cursor.execute(sql)
            state[label] = cursor.fetchall()
    return state


OPTION_RE = re.compile(r"""<option[^>]*value=["'](\d{12})["']""")


def zip_text(body: bytes) -> str:
    """The text of every member of a zip (bank files: a zip of CSV or .xlsx files, themselves zips of XML)."""
    parts = []
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        for name in archive.namelist():
            data = archive.read(name)
            parts.append(zip_text(data) if data[:2] == b"PK" else data.decode("utf-8-sig", errors="replace"))
    return "\n".join(parts)


def pdf_text(body: bytes) -> str:
    """The text of a PDF (notices, certificates, publicity lists), as a reader would copy it."""
    import pypdf

    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(body)).pages)


def response_text(response: Any) -> str:
    """The text a reader gets from a response: a page, JSON (with its escapes decoded), a zip's or a PDF's text."""
    body = response.content
    if body[:2] == b"PK":
        text = zip_text(body)
    elif body[:5] == b"%PDF-":
        text = pdf_text(body)
    else:
        text = body.decode("utf-8-sig", errors="replace")
    if response.get("Content-Type", "").startswith("application/json"):
        text += json.dumps(json.loads(body or b"null"), ensure_ascii=False) if body else ""
    return text


def assert_no_leak(c: Ctx, response: Any, sent: Any = None) -> None:
    """No out-of-region names, ID numbers or region names in the body; dropdowns list only regions in scope.

    What the caller sent (a search term, a form value shown back with its error) is not a leak and is ignored.
    """
    if getattr(response, "streaming", False):
        return
    text = response_text(response)
    echoed = [str(v) for v in (sent or {}).values() if isinstance(v, str | int) and len(str(v)) >= 2]
    for value in sorted(echoed, key=len, reverse=True):
        text = text.replace(value, "")
    for other in c.world.outside(c.role):
        for secret in (*other.names, *other.id_numbers, other.household.number, other.phone):
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


ID_NUMBER_RE = re.compile(
    r"(?<![0-9])[1-9][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx](?![0-9])"
)
MOBILE_RE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
# Households published on the portal: the recipients (decided) and the cases in a running publicity (objected).
PUBLISHED_KINDS = ("decided", "objected")


def check_published(c: Ctx, response: Any, sent: Any = None) -> None:
    """A public page: no ID number, mobile number, address or household number of anyone; no name of a household
    that is not published (registry households, cases not in a running publicity); no complaint reporter."""
    if getattr(response, "streaming", False):
        return
    text = response.content.decode("utf-8-sig", errors="replace")
    echoed = [str(v) for v in (sent or {}).values() if isinstance(v, str | int) and len(str(v)) >= 2]
    for value in sorted(echoed, key=len, reverse=True):
        text = text.replace(value, "")
    where = f"{c.role}: public page {response.request['PATH_INFO']}"
    assert not ID_NUMBER_RE.search(text), f"{where} shows an ID number {ID_NUMBER_RE.search(text)}"
    assert not MOBILE_RE.search(text), f"{where} shows a mobile number {MOBILE_RE.search(text)}"
    for label, h in c.world.households.items():
        secrets = [h.household.number, h.household.address, h.phone, *h.id_numbers]
        if not label.endswith(PUBLISHED_KINDS):
            secrets += h.names
        for secret in secrets:
            assert secret not in text, f"{where} shows {secret} ({label})"
    for reporter in c.world.records.get("reporter", {}).values():
        for secret in reporter.secrets:
            assert secret not in text, f"{where} shows the complaint reporter {secret}"


def assert_no_reporter(c: Ctx, response: Any, sent: Any = None) -> None:
    """A real-name reporter's name, phone and address reach the handling office only: not the county above a
    township office, not the administrator, not the supervisor (whatever the page or API)."""
    reporters = c.world.records.get("reporter", {})
    if not reporters or getattr(response, "streaming", False):
        return
    user = c.user
    text = response_text(response)
    echoed = [str(v) for v in (sent or {}).values() if isinstance(v, str | int) and len(str(v)) >= 2]
    for value in sorted(echoed, key=len, reverse=True):
        text = text.replace(value, "")
    for reporter in reporters.values():
        if user.region_id == reporter.office and user.role == reporter.role:
            continue
        for secret in reporter.secrets:
            assert secret not in text, f"{c.role} sees the reporter {secret} in {response.request['PATH_INFO']}"


def prepare(c: Ctx, call: Call, name: str) -> tuple[str, dict[str, Any]]:
    """The URL and the data of a call (building them may create fixture records: do it before the fingerprint)."""
    url = reverse(name, kwargs=call.kwargs(c) or None)
    if call.query is not None:
        url += "?" + urlencode(call.query(c))
    return url, call.data(c) or {}


def send(c: Ctx, call: Call, prepared: tuple[str, dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """Make the call; returns the response and the data sent."""
    url, data = prepared
    if call.method == "GET":
        return c.client.get(url, data, **c.headers), data
    if call.encoding == "form":
        assert call.method == "POST"
        return c.client.post(url, data, **c.headers), data
    body = json.dumps(data) if data else ""
    return c.client.generic(call.method, url, body, content_type="application/json", **c.headers), data


def is_download(response: Any) -> bool:
    body = b"" if getattr(response, "streaming", False) else response.content
    return "attachment" in response.get("Content-Disposition", "") or body[:5] == b"%PDF-" or body[:2] == b"PK"


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
            if row.throttled:  # the matrix makes more calls than a person may (the limiter has its own tests)
                ratelimit.reset()
            prepared = prepare(c, call, name)
            before = fingerprint() if row.writes else None
            response, sent = send(c, call, prepared)
            assert response.status_code in expected, (
                f"{where}: got {response.status_code}, expected {sorted(expected)}: {response.content[:300]!r}"
            )
            if row.published:
                check_published(c, response, sent)
            elif not row.static:
                assert_no_leak(c, response, sent)
            assert_no_reporter(c, response, sent)
            if user.role == Role.SUPERVISOR and response.status_code < 400 and not row.published:
                no_personal_data(c, response)  # supervisors read aggregates only, whatever the page
            if is_download(response):  # personal data in a file: never kept by a browser or a proxy
                assert "no-store" in response.get("Cache-Control", ""), f"{where}: a download without no-store"
            if row.writes and (not allowed or response.status_code >= 400):
                assert fingerprint() == before, f"{where}: refused ({response.status_code}), yet the database changed"
            # A successful write (2xx, or a page's redirect) must change something; a row's GETs are forms, unless
            # the row has only GETs (downloads, which are audited).
            changes = call.method != "GET" or all(other.method == "GET" for other in row.calls)
            if row.writes and allowed and row.must_change and changes and response.status_code < 400:
                assert fingerprint() != before, f"{where}: allowed, yet nothing changed (is the call well-formed?)"
            if allowed and call.check is not None and response.status_code < 400:
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


def test_the_later_apps_records_are_built(world):
    """The integrity, verification and complaints records the rows act on were built through their services."""
    built = {app: error for app, error in world.build_errors.items() if "does not exist yet" not in error}
    assert not built, built


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
        if row.throttled:
            ratelimit.reset()
        prepared = prepare(c, call, name)
        before = fingerprint()
        response, _ = send(c, call, prepared)
        if row.public:
            assert response.status_code in row.anonymous, f"{name}: got {response.status_code}"
            if row.published:
                check_published(c, response, _)
        elif row.kind == "api":
            assert response.status_code == 401, f"{name}: got {response.status_code}"
            assert response.json()["code"] == "unauthenticated"
        else:
            assert is_login_redirect(response), f"{name}: got {response.status_code}, expected a login redirect"
        if row.public and row.writes and call.method != "GET":  # the public forms: anyone may file
            if row.must_change:
                assert fingerprint() != before, f"{name}: an anonymous {call.method} changed nothing (well-formed?)"
        elif name != "web:logout":
            assert fingerprint() == before, f"{name}: an anonymous {call.method} changed the database"
