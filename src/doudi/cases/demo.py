"""The demo caseload: what `doudi demo` shows after seeding the synthetic province (docs/cases.md, "Demo caseload").

`seed_caseload` adds, on a seeded province with the demo logins created:

1. **Real cases** in the demo users' township (五指山市, the township of its first village), driven step by step
   through the case services with back-dated 办理日期, exactly as staff enter paper records: cases just taken in,
   cases in the middle of the procedure, cases in their 7-day publicity running on `today` (the portal lists them),
   cases waiting for the county's decision (one with a kinship declaration, one disputed by an objection), approved
   cases with their stored rules determination, refused cases with written reasons, and one recipient terminated
   from this month. Dibao households are screened with the rules first, so approvals are real approvals. The demo
   village's first dibao-eligible household is left without a case for the README's walkthrough.
2. **A background caseload** across the province: approved dibao households and 特困 persons (about
   `per_mille`/1000 of the households, three times as many in the demo township), written in large batches
   (`bulk_create`, never one service call per recipient) with everything a decided case leaves behind — the
   application and its steps (信息核对 done with a pass, so the integrity check sees verified approvals), a
   determination, the decision, the recipient, its status history and its next scheduled recheck. Start months are
   spread over the last 24 months, about one in ten recipients was terminated in the last year, a few are in
   gradual exit. Households with members the portal must
   protect (HIV, protection orders, officer-marked) and minor 特困 persons are over-represented on purpose so that
   the portal's exclusions can be seen. Background determinations are marked as demo data (`rules_available` is
   false and the output says so): they were not computed by the rules and are never explained as if they were.

Deterministic for a given province, `seed` and `today`. Idempotent: nothing is done when any case exists.
One audit record covers the background batch; the real cases are audited by the services that made them.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from doudi.cases import rules_input, services
from doudi.cases.choices import (
    RECHECK_MONTHS,
    ApplicationStatus,
    CaseKind,
    Discovery,
    Level,
    Outcome,
    Program,
    RecheckCategory,
    RecheckReason,
    RecipientStatus,
    RuleSet,
    StepStatus,
)
from doudi.cases.models import (
    Application,
    CaseStep,
    Decision,
    Determination,
    Publicity,
    Recheck,
    Recipient,
    RecipientStatusChange,
    WorkflowDefinition,
    WorkflowStep,
)
from doudi.cases.workdays import WorkingCalendar, add_months, month_start, next_month
from doudi.core.choices import AuditAction, Role
from doudi.core.errors import ApplicationError
from doudi.core.models import Region, User
from doudi.core.scope import Scope, scope_for, system_scope
from doudi.core.services import audit_log_create
from doudi.registry.models import Household, Membership, Person

DEMO_COUNTY = "469001000000"  # 五指山市: where the demo logins work (cli._demo_users)
PROVINCE = "460000000000"
BACKGROUND_PER_MILLE = 40  # recipients per 1,000 households (dibao + 特困)
TEKUN_SHARE = 0.2  # of the background recipients
MONTHS = 24  # background start months: the last two years
BATCH = 2_000
TERMINATED_SHARE = 0.12  # of the background recipients old enough, terminated in the last 12 months
PROTECTED_SHARE = 0.15  # households with a protected member: drawn more often, so the portal's exclusions show
DEMO_TOWNSHIP_FACTOR = 3  # the demo logins' township gets more recipients, so its village lists are not empty
MAX_SCREENED = 60  # rules evaluations spent on choosing the real cases' households (~0.1 s each)
INVESTIGATORS = ["符海燕", "王志强"]
COUNTY_INVESTIGATORS = ["陈国栋", "吉秀英"]
BACKGROUND_NOTE = "演示背景数据：批量生成，未经规则测算（不作为审批依据）"
TERMINATION_REASONS = (
    "复查：家庭成员务工收入增加，人均收入超过当地低保标准",
    "复查：家庭迁出本县，转由迁入地审核",
    "本人申请退出",
    "复查：家庭财产状况超出规定（新购机动车）",
)
T = TypeVar("T")


# --- who and where --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoStaff:
    village: Region
    township: Region
    county: Region
    vw: Scope  # village worker of the demo village
    tr: Scope  # township reviewer
    cv: Scope  # county verification officer
    ca: Scope  # county approver


def demo_village() -> Region:
    """The demo village: the first village of 五指山市 (the first village anywhere when it has none)."""
    village = (
        Region.objects.filter(level="village", path__startswith=f"/{PROVINCE}/{DEMO_COUNTY}/").order_by("code").first()
    )
    if village is None:
        village = Region.objects.filter(level="village").order_by("code").first()
    if village is None or village.parent is None or village.parent.parent is None:
        raise ApplicationError("no_villages", "尚无村（社区）区划，请先生成合成数据（doudi seed）", "region")
    return village


def demo_staff() -> DemoStaff:
    """The demo logins who act on the real cases (created by `doudi demo` before the caseload)."""
    village = demo_village()
    township = village.parent
    assert township is not None and township.parent is not None
    county = township.parent
    wanted = {
        "vw": (Role.VILLAGE_WORKER, village),
        "tr": (Role.TOWNSHIP_REVIEWER, township),
        "cv": (Role.COUNTY_VERIFIER, county),
        "ca": (Role.COUNTY_APPROVER, county),
    }
    scopes: dict[str, Scope] = {}
    for key, (role, region) in wanted.items():
        user = User.objects.filter(role=role, region=region, is_active=True).order_by("pk").first()
        if user is None:
            raise ApplicationError(
                "demo_users_missing",
                f"缺少{Role(role).label}演示账号（{region.name}），请先运行 doudi demo 创建演示账号",
                "users",
            )
        scopes[key] = scope_for(user)
    return DemoStaff(village=village, township=township, county=county, **scopes)


# --- calendar --------------------------------------------------------------------------------------------------


class _Days:
    """Working-day arithmetic around `today` with one calendar load (official holidays + operator corrections)."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.cal = WorkingCalendar.load(today - dt.timedelta(days=400), today + dt.timedelta(days=60))

    def add(self, day: dt.date, n: int) -> dt.date:
        return self.cal.add(day, n) if n > 0 else day

    def on_or_before(self, day: dt.date) -> dt.date:
        while not self.cal.is_working_day(day):
            day -= dt.timedelta(days=1)
        return day

    def back(self, day: dt.date, n: int) -> dt.date:
        """The n-th working day before `day` (`day` itself moved to a working day first)."""
        day = self.on_or_before(day)
        for _ in range(n):
            day = self.on_or_before(day - dt.timedelta(days=1))
        return day


@dataclass(frozen=True)
class Timeline:
    """The dates of one 2021 dibao / 特困 case from its receipt (docs/cases.md §2)."""

    received: dt.date
    visit: dt.date
    verification: dt.date
    opinion: dt.date
    publicity: dt.date
    publicity_done: dt.date
    decision: dt.date
    notice: dt.date

    @classmethod
    def from_received(cls, days: _Days, received: dt.date, publicity: dt.date | None = None) -> Timeline:
        start = publicity or days.add(received, 4)
        done = days.add(start + dt.timedelta(days=6), 1)  # the first working day after the 7 days
        decision = days.add(done, 2)
        return cls(
            received=received,
            visit=days.add(received, 1),
            verification=days.add(received, 2),
            opinion=days.add(received, 3),
            publicity=start,
            publicity_done=done,
            decision=decision,
            notice=days.add(decision, 1),
        )


# --- the real cases ----------------------------------------------------------------------------------------------

STAGES = ("intake", "investigation", "verification", "opinion", "publicity", "county", "approved", "refused")


@dataclass
class Slot:
    """One planned case: its program, how far it goes, where, and what its household must be."""

    program: str
    stage: str
    place: str  # "village" (the demo village worker sees it) or "township"
    need: str = "any"  # "eligible" / "ineligible" by the dibao rules, or "any"
    days_ago: int = 0  # intake / publicity: days before today; decided cases: days before today of receipt
    kin: bool = False
    objection: bool = False
    terminate: bool = False
    household: Household | None = None
    subject: Person | None = None
    amount: Decimal | None = None  # the rules amount (dibao) or the staff-assessed amount (特困)
    failed: list[str] = field(default_factory=list)


def plan() -> list[Slot]:
    d, k = Program.DIBAO, Program.TEKUN
    return [
        Slot(d, "approved", "village", "eligible", days_ago=100),
        Slot(d, "approved", "village", "eligible", days_ago=60),
        Slot(d, "approved", "township", "eligible", days_ago=170, terminate=True),
        Slot(d, "approved", "township", "eligible", days_ago=110),
        Slot(d, "approved", "township", "eligible", days_ago=80),
        Slot(d, "approved", "township", "eligible", days_ago=45),
        Slot(d, "county", "village", "eligible", kin=True),
        Slot(d, "county", "township", "eligible", objection=True),
        Slot(d, "county", "township", "eligible"),
        Slot(d, "publicity", "village", "eligible", days_ago=1),
        Slot(d, "publicity", "township", "eligible", days_ago=0),
        Slot(d, "publicity", "township", "eligible", days_ago=3),
        Slot(d, "publicity", "township", "eligible", days_ago=5),
        Slot(d, "refused", "township", "ineligible", days_ago=95),
        Slot(d, "refused", "township", "ineligible", days_ago=50),
        Slot(d, "intake", "village", days_ago=0),
        Slot(d, "intake", "township", days_ago=1),
        Slot(d, "intake", "township", days_ago=3),
        Slot(d, "investigation", "village"),
        Slot(d, "verification", "township"),
        Slot(d, "opinion", "township"),
        Slot(k, "approved", "village", days_ago=125),
        Slot(k, "approved", "township", days_ago=70),
        Slot(k, "county", "township"),
        Slot(k, "publicity", "township", days_ago=2),
        Slot(k, "refused", "township", days_ago=55),
        Slot(k, "intake", "township", days_ago=2),
    ]


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("1"), rounding=ROUND_HALF_UP).quantize(Decimal("0.01"))


class _Standards:
    """Local standards from the parameter data in force (policy layer over the YAML), cached per county and area."""

    def __init__(self, on: dt.date) -> None:
        from doudi.policy.selectors import current_parameter_set

        self.on = on
        self.params = current_parameter_set()
        self.cache: dict[tuple[str, str, str], Decimal] = {}

    def _get(self, path: str, region_code: str, area: str) -> Decimal:
        from doudi.policy.layering import rules_region_key
        from doudi.rules import RulesInputError  # ParameterNotFound is one

        key = (path, region_code[:6], area)
        if key not in self.cache:
            try:
                value = self.params.get(path, rules_region_key(region_code[:6] + "000000"), area, self.on).value
                self.cache[key] = Decimal(str(value))
            except RulesInputError:
                self.cache[key] = Decimal("0")
        return self.cache[key]

    def dibao(self, region_code: str, area: str) -> Decimal:
        # Every county has a standard in the parameter data; 640 (Hainan rural, 2023) only guards a gap in it.
        return self._get("dibao.standard", region_code, area) or Decimal("640")

    def tekun(self, region_code: str, area: str) -> Decimal:
        """特困 basic living: ratio × the dibao standard, not below a published local amount (rules-cn §2.2)."""
        ratio = self._get("tekun.basic_living.ratio", region_code, area) or Decimal("1.3")
        floor = self._get("tekun.basic_living.minimum", region_code, area)
        return _money(max(self.dibao(region_code, area) * ratio, floor))


def _screen(household: Household, on: dt.date) -> tuple[bool, Decimal | None, list[str]]:
    """What the dibao rules say about a household on a date (eligible, amount, failed test labels)."""
    from doudi.policy.selectors import current_parameter_set
    from doudi.rules import RulesInputError, evaluate

    case = rules_input.household_case(household, as_of=on, dibao_recipient=False)
    if not case["household"]["members"]:
        return False, None, []
    try:
        det = evaluate("dibao", case, current_parameter_set())
    except RulesInputError:
        return False, None, []
    labels = {t.name: t.label for t in det.trace}
    return bool(det.eligible), det.monthly_amount, [labels.get(n, n) for n in det.failed_tests]


def _candidates(staff: DemoStaff, rng: random.Random) -> dict[str, list[Household]]:
    """Households of the demo township with a live head, those of the demo village apart, in a seeded order."""
    live_heads = Membership.objects.filter(end_date__isnull=True, person__death_date__isnull=True).values("person_id")
    qs = (
        Household.objects.filter(region__path__startswith=staff.township.path, status="active", head__isnull=False)
        .filter(head_id__in=live_heads)
        .select_related("region", "head")
        .order_by("pk")
    )
    pools: dict[str, list[Household]] = {"village": [], "township": []}
    for household in qs:
        pools["village" if household.region_id == staff.village.code else "township"].append(household)
    for pool in pools.values():
        rng.shuffle(pool)
    return pools


def _tekun_subjects(households: Iterable[Household], on: dt.date) -> list[tuple[Household, Person]]:
    """Persons a 特困 application could be about: aged 60 or more, or adults without labour capacity, living alone
    first."""
    by_pk = {h.pk: h for h in households}
    rows = (
        Membership.objects.filter(household_id__in=list(by_pk), end_date__isnull=True, person__death_date__isnull=True)
        .filter(_tekun_person(on, 60))
        .select_related("person")
        .order_by("household_id", "person_id")
    )
    sizes = dict(
        Membership.objects.filter(household_id__in=list(by_pk), end_date__isnull=True, person__death_date__isnull=True)
        .values_list("household_id")
        .annotate(n=Count("pk"))
        .values_list("household_id", "n")
    )
    order = {pk: i for i, pk in enumerate(by_pk)}  # the seeded order of the candidates
    found = [(by_pk[m.household_id], m.person) for m in rows]
    found.sort(key=lambda hp: (sizes.get(hp[0].pk, 0) > 1, order[hp[0].pk]))
    return found


def _tekun_person(on: dt.date, elderly_age: int) -> Q:
    """Membership rows of persons 特困 could support: the elderly, and adults without labour capacity (minors are
    drawn separately: children living with their parents are not 特困 unless orphaned)."""
    return Q(person__birth_date__lte=add_months(on, -elderly_age * 12)) | Q(
        person__labour_capacity="none", person__birth_date__lte=add_months(on, -18 * 12)
    )


def _assign(
    slots: list[Slot],
    staff: DemoStaff,
    standards: _Standards,
    rng: random.Random,
    on: dt.date,
    decided_on: Callable[[Slot], dt.date],
) -> Household | None:
    """Give each slot a household (and a subject for 特困), screening dibao households with the rules as of the
    slot's decision date (today for cases still open) as needed. Returns the household kept free for the README's
    walkthrough: the demo village's first dibao-eligible household by number (no case, never a recipient)."""
    pools = _candidates(staff, rng)
    used: set[int] = set()
    screened: dict[int, tuple[bool, Decimal | None, list[str]]] = {}  # the latest verdict per household
    verdicts: dict[tuple[int, dt.date], tuple[bool, Decimal | None, list[str]]] = {}
    budget = [MAX_SCREENED]

    def result(h: Household, as_of: dt.date) -> tuple[bool, Decimal | None, list[str]]:
        if (h.pk, as_of) not in verdicts:
            budget[0] -= 1
            verdicts[h.pk, as_of] = _screen(h, as_of)
        if as_of == on or h.pk not in screened:
            screened[h.pk] = verdicts[h.pk, as_of]
        return verdicts[h.pk, as_of]

    def pool_for(place: str) -> list[Household]:
        # The demo village first for its slots (its worker sees them); a small village lends to the township.
        return pools["village"] + pools["township"] if place == "village" else pools["township"] + pools["village"]

    def take(slot: Slot, h: Household) -> None:
        slot.household = h
        if h.pk in screened:
            _eligible, slot.amount, slot.failed = screened[h.pk]
        used.add(h.pk)

    walkthrough = next((h for h in sorted(pools["village"], key=lambda h: h.number) if result(h, on)[0]), None)
    if walkthrough is not None:
        used.add(walkthrough.pk)
    dibao = [s for s in slots if s.program == Program.DIBAO]

    # Slots that need a rules verdict first (approvals need eligible households), then the others.
    def fits(h: Household, slot: Slot) -> bool:
        """Ineligible today for a refusal; eligible today, and on the decision date for an approval."""
        eligible = result(h, on)[0]
        if slot.need == "ineligible":
            return not eligible
        if eligible and slot.stage == "approved":
            decided = min(decided_on(slot), on)
            eligible = result(h, decided)[0]
            if eligible:  # the amount and the verdict the case shows are the decision date's
                screened[h.pk] = verdicts[h.pk, decided]
        return eligible

    for slot in sorted(dibao, key=lambda s: s.need == "any"):
        fallback: Household | None = None
        for h in pool_for(slot.place):
            if h.pk in used:
                continue
            if slot.need == "any":
                fallback = h
                break
            if (h.pk, on) not in verdicts and budget[0] <= 0:
                fallback = fallback or h
                continue
            if fits(h, slot):
                fallback = h
                break
            fallback = fallback or h
        if fallback is not None:  # without a matching household the case is still made; the county decides
            take(slot, fallback)
    left = [h for h in pools["township"] + pools["village"] if h.pk not in used]
    subjects = _tekun_subjects(left, on)
    for slot in (s for s in slots if s.program == Program.TEKUN):
        while subjects and subjects[0][0].pk in used:
            subjects.pop(0)
        if not subjects:
            break
        household, person = subjects.pop(0)
        slot.household, slot.subject = household, person
        slot.amount = standards.tekun(household.region_id, household.hukou_type)
        used.add(household.pk)
    return walkthrough


class _Driver:
    """Walks one planned case through the services up to its stage, each step on its own date."""

    def __init__(self, staff: DemoStaff, days: _Days) -> None:
        self.staff, self.days, self.today = staff, days, days.today

    def _v(self, app: Application) -> int:
        return int(Application.objects.values_list("version", flat=True).get(pk=app.pk))

    def _done(self, scope: Scope, app: Application, code: str, on: dt.date, **kw: Any) -> None:
        services.step_complete(scope=scope, application_id=app.pk, version=self._v(app), step_code=code, today=on, **kw)

    def _visit(self, scope: Scope, app: Application, on: dt.date, level: str, names: list[str]) -> None:
        services.home_visit_record(
            scope=scope,
            application_id=app.pk,
            version=self._v(app),
            level=level,
            visited_on=on,
            investigators=names,
            findings="入户查看居住、家庭财产和成员情况，与申报基本一致",
            members_present=["申请人"],
            today=on,
        )

    def timeline(self, slot: Slot) -> Timeline:
        days, today = self.days, self.today
        if slot.stage == "publicity":
            start = days.on_or_before(today - dt.timedelta(days=slot.days_ago))
            if (today - start).days > 6:  # a long holiday: publish on the calendar day instead
                start = today - dt.timedelta(days=slot.days_ago)
            return Timeline.from_received(days, days.back(start - dt.timedelta(days=1), 3), publicity=start)
        back = {"intake": 0, "investigation": 1, "verification": 2, "opinion": 3, "county": 14}
        if slot.stage in back:
            received = days.back(today - dt.timedelta(days=slot.days_ago), back[slot.stage])
        else:
            received = days.on_or_before(today - dt.timedelta(days=slot.days_ago))
        return Timeline.from_received(days, received)

    def open(self, slot: Slot) -> Application | None:
        """Intake and every step before the county's decision that the slot's stage and today allow."""
        assert slot.household is not None
        s, t = self.staff, self.timeline(slot)
        if t.received > self.today:
            return None
        personal = slot.program == Program.TEKUN
        docs = dict.fromkeys(("application_form", "id_card", "hukou_book", "income_proof", "authorisation"), True) | (
            {"self_care_assessment": True} if personal else {}
        )
        intake_scope = s.vw if slot.household.region_id == s.village.code else s.tr
        kin = [{"name": "王秀兰", "relation": "sibling", "position": "committee", "organisation": "村民委员会"}]
        app = services.application_create(
            scope=intake_scope,
            program=slot.program,
            household_id=slot.household.pk,
            applicant_id=(slot.subject.pk if slot.subject else slot.household.head_id) or 0,
            subject_person_id=slot.subject.pk if slot.subject else None,
            received_on=t.received,
            documents=docs,
            kin_declared=slot.kin,
            kin_details=kin if slot.kin else None,
            verification_authorised=True,
            authorised_on=t.received,
            today=t.received,
        )
        order = STAGES.index(slot.stage)
        if order < STAGES.index("investigation"):
            return app
        self._done(s.tr, app, "acceptance", t.received)
        if order < STAGES.index("verification") or t.visit > self.today:
            return app
        self._visit(s.tr, app, t.visit, "township", INVESTIGATORS)
        self._done(s.tr, app, "investigation", t.visit)
        if order < STAGES.index("opinion") or t.verification > self.today:
            return app
        self._done(s.cv, app, "verification", t.verification, payload={"result": "pass"})
        if order < STAGES.index("publicity") or t.opinion > self.today:
            return app
        services.step_skip(
            scope=s.tr,
            application_id=app.pk,
            version=self._v(app),
            step_code="democratic_review",
            reason="申请人家庭情况清楚，村民无异议，不再组织民主评议",
            today=t.opinion,
        )
        opinion: dict[str, Any] = {"recommend": True}
        if slot.amount:  # the amount the rules (dibao) or the staff (特困) propose, shown during the publicity
            opinion["amount"] = str(slot.amount)
        self._done(s.tr, app, "township_opinion", t.opinion, payload=opinion, comment="经调查核实，符合条件，建议批准")
        if t.publicity > self.today:
            return app
        publicity = services.publicity_start(
            scope=s.tr,
            application_id=app.pk,
            version=self._v(app),
            step_code="publicity",
            start_date=t.publicity,
            place=f"{slot.household.region.name}公开栏",
            today=t.publicity,
        )
        if slot.objection:
            received = min(t.publicity + dt.timedelta(days=2), self.today)
            objection = services.objection_record(
                scope=s.vw if slot.household.region_id == s.village.code else s.tr,
                application_id=app.pk,
                version=self._v(app),
                publicity_id=publicity.pk,
                received_on=received,
                content="群众反映该户有一辆小汽车",
                real_name=False,
            )
            services.objection_resolve(
                scope=s.tr,
                application_id=app.pk,
                version=self._v(app),
                objection_id=objection.pk,
                upheld=False,
                resolution="经核实，该车辆已于申请前过户他人，反映情况不属实",
                today=min(received + dt.timedelta(days=1), self.today),
            )
        if order < STAGES.index("county") or t.publicity_done > self.today:
            return app
        self._done(s.tr, app, "publicity", t.publicity_done, comment="公示期满无异议" if not slot.objection else "")
        return app

    def decide(self, slot: Slot, app: Application) -> str:
        """The county's decision on the slot's date: approve (the rules' amount, or the staff-assessed amount where
        the rules lack inputs), or refuse with written reasons (also when the rules forbid the approval)."""
        s, t = self.staff, self.timeline(slot)
        on = t.decision
        if on > self.today:
            return "pending"
        app.refresh_from_db()
        if services.county_visit_required(app):
            self._visit(s.ca, app, on, "county", COUNTY_INVESTIGATORS)
        if slot.stage == "approved":
            for payload in ({}, {"amount": str(slot.amount or Decimal("0.00"))}):
                try:
                    self._done(s.ca, app, "county_approval", on, payload=payload, comment="同意")
                except ApplicationError as exc:
                    if exc.code == "amount_required":
                        continue
                    if exc.code != "rules_ineligible":
                        raise
                    break
                else:
                    self._notice(app, t)
                    return "approved"
        reasons = (
            ["有法定赡养义务人，且义务人具备赡养能力"]
            if slot.program == Program.TEKUN
            else [f"经入户调查和信息核对，{'、'.join(slot.failed)}不符合最低生活保障条件"]
            if slot.failed
            else ["经入户调查和信息核对，家庭人均收入高于当地最低生活保障标准"]
        )
        services.application_refuse(
            scope=s.ca,
            application_id=app.pk,
            version=self._v(app),
            step_code="county_approval",
            reasons=reasons,
            today=on,
        )
        self._notice(app, t)
        return "refused"

    def _notice(self, app: Application, t: Timeline) -> None:
        if t.notice <= self.today:
            self._done(self.staff.ca, app, "notice", t.notice, payload={"delivered_on": t.notice.isoformat()})

    def terminate(self, app: Application) -> bool:
        recipient = Recipient.objects.filter(application=app, status=RecipientStatus.ACTIVE).first()
        if recipient is None or recipient.start_month > month_start(self.today):
            return False
        services.recipient_status_change(
            scope=self.staff.ca,
            recipient_id=recipient.pk,
            version=recipient.version,
            to_status=RecipientStatus.TERMINATED,
            reason=TERMINATION_REASONS[0],
            effective_month=month_start(self.today),
            today=self.today,
        )
        return True


def _real_cases(
    staff: DemoStaff, today: dt.date, rng: random.Random, say: Callable[[str], None]
) -> tuple[dict[str, int], Household | None]:
    days = _Days(today)
    slots = plan()
    driver = _Driver(staff, days)
    walkthrough = _assign(slots, staff, _Standards(today), rng, today, lambda slot: driver.timeline(slot).decision)
    slots = [s for s in slots if s.household is not None]
    say(f"正在办理 {len(slots)} 件演示案件（受理、调查、核对、公示、审批）……")
    opened = [(slot, driver.open(slot)) for slot in slots]
    counts: dict[str, int] = defaultdict(int)
    for program in (Program.DIBAO, Program.TEKUN):
        waiting = CaseStep.objects.filter(
            application__program=program,
            application__region_path__startswith=staff.county.path,
            code="county_approval",
            status=StepStatus.PENDING,
            application__spot_check_batch__isnull=True,
        )
        if waiting.exists():
            services.spot_check_batch_create(scope=staff.ca, program=program, county_code=staff.county.code)
    for slot, app in opened:
        if app is None:
            continue
        if slot.stage in ("approved", "refused"):
            outcome = driver.decide(slot, app)
            counts[outcome] += 1
            if outcome == "approved" and slot.terminate and driver.terminate(app):
                counts["terminated"] += 1
        else:
            app.refresh_from_db()
            counts[app.current_step or app.status] += 1
    counts["cases"] = sum(1 for _slot, app in opened if app is not None)
    return dict(counts), walkthrough


# --- the background caseload -----------------------------------------------------------------------------------


@dataclass
class _Pick:
    program: str
    household: int
    head: int
    subject: int | None
    village: str
    path: str
    area: str
    start: dt.date = dt.date.min
    end: dt.date | None = None
    status: str = RecipientStatus.ACTIVE
    amount: Decimal = Decimal("0.00")
    category: str = RecheckCategory.YEARLY


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _months(today: dt.date) -> list[dt.date]:
    first = month_start(today)
    return [add_months(first, -i) for i in range(MONTHS)]


def _pick_background(today: dt.date, rng: random.Random, per_mille: int, taken: set[int], favoured: str) -> list[_Pick]:
    """Which households receive dibao and which persons 特困: seeded draws, poor and protected households
    over-represented, 特困 among the elderly, persons without labour capacity and a few minors."""
    live = Membership.objects.filter(end_date__isnull=True, person__death_date__isnull=True)
    rows = list(
        Household.objects.filter(status="active", head__isnull=False, head_id__in=live.values("person_id"))
        .order_by("pk")
        .values_list("pk", "head_id", "region_id", "region__path", "hukou_type", "registered_poor")
    )
    rows = [r for r in rows if r[0] not in taken]
    if not rows or per_mille <= 0:
        return []
    protected = set(
        live.filter(Q(person__hiv=True) | Q(person__protection_order=True) | Q(person__confidential=True)).values_list(
            "household_id", flat=True
        )
    )
    rate = per_mille / 1000 * (1 - TEKUN_SHARE)
    poor = sum(1 for r in rows if r[5]) / len(rows)
    weight_mean = 1 + 3 * poor  # weight 4 for 建档立卡 households, 1 for the others
    picks: list[_Pick] = []
    chosen: set[int] = set()
    for pk, head, village, path, area, registered_poor in rows:
        p = PROTECTED_SHARE if pk in protected else rate * (4 if registered_poor else 1) / weight_mean
        if path.startswith(favoured):
            p *= DEMO_TOWNSHIP_FACTOR
        if rng.random() < min(p, 1.0):
            picks.append(_Pick(Program.DIBAO, pk, head, None, village, path, area))
            chosen.add(pk)
    # 特困: persons, never in a dibao household of this batch (the two exclude each other).
    want = max(1, round(len(rows) * per_mille / 1000 * TEKUN_SHARE))
    info = {r[0]: r for r in rows if r[0] not in chosen}
    minor = add_months(today, -16 * 12)
    pool = list(live.filter(_tekun_person(today, 65)).order_by("person_id").values_list("household_id", "person_id"))
    minors = list(
        live.filter(person__birth_date__gt=minor, household__registered_poor=True)
        .order_by("person_id")
        .values_list("household_id", "person_id")
    )
    pool = [hp for hp in pool if hp[0] in info]
    minors = [hp for hp in minors if hp[0] in info]
    rng.shuffle(pool)
    rng.shuffle(minors)
    n_minors = min(len(minors), max(2, want // 30))
    for household, person in minors[:n_minors] + pool[: max(0, want - n_minors)]:
        if household in chosen:
            continue
        _pk, head, village, path, area, _poor = info[household]
        picks.append(_Pick(Program.TEKUN, household, head, person, village, path, area))
        chosen.add(household)
    return picks


def _household_facts(household_ids: list[int], on: dt.date) -> tuple[dict[int, int], set[int]]:
    """Live member counts, and the households with a fully able working-age member who is not a student (the
    half-yearly recheck category, 2021 art. 31)."""
    sizes: dict[int, int] = {}
    working: set[int] = set()
    adult_from, adult_to = add_months(on, -60 * 12), add_months(on, -16 * 12)
    for chunk in _chunks(household_ids, 5_000):
        live = Membership.objects.filter(household_id__in=chunk, end_date__isnull=True, person__death_date__isnull=True)
        sizes.update(live.values_list("household_id").annotate(n=Count("pk")).values_list("household_id", "n"))
        working.update(
            live.filter(
                person__labour_capacity="full",
                person__birth_date__gt=adult_from,
                person__birth_date__lte=adult_to,
                person__student=False,
            ).values_list("household_id", flat=True)
        )
    return sizes, working


def _background(
    today: dt.date, rng: random.Random, per_mille: int, favoured: str, keep: set[int], say: Callable[[str], None]
) -> dict[str, int]:
    taken = set(Application.objects.values_list("household_id", flat=True)) | keep
    picks = _pick_background(today, rng, per_mille, taken, favoured)
    if not picks:
        return {"dibao": 0, "tekun": 0, "terminated": 0, "gradual_exit": 0}
    say(f"正在写入 {len(picks):,} 名背景救助对象（批量）……")
    standards = _Standards(today)
    sizes, working = _household_facts([p.household for p in picks], today)
    months = _months(today)
    this_month = months[0]
    for pick in picks:
        # Newer months a little denser: recent approvals are what the portal's monthly lists show first.
        pick.start = months[min(int(rng.triangular(0, MONTHS, 0)), MONTHS - 1)]
        if pick.program == Program.DIBAO:
            size = max(1, sizes.get(pick.household, 1))
            share = Decimal(str(round(rng.uniform(0.25, 0.85), 2)))
            pick.amount = _money(standards.dibao(pick.village, pick.area) * size * share)
            pick.category = RecheckCategory.HALF_YEARLY if pick.household in working else RecheckCategory.YEARLY
        else:
            pick.amount = standards.tekun(pick.village, pick.area)
        roll = rng.random()
        if roll < TERMINATED_SHARE and pick.start <= add_months(this_month, -3):
            # terminated in the last year, after at least two paid months
            last = add_months(this_month, -1 - int(rng.triangular(0, 12, 0)))
            if last >= add_months(pick.start, 1):
                pick.status, pick.end = RecipientStatus.TERMINATED, last
        elif roll > 0.97 and pick.program == Program.DIBAO and pick.start < this_month:
            pick.status = RecipientStatus.GRADUAL_EXIT
    with transaction.atomic():
        _write_background(picks, today, rng)
        counts = {
            "dibao": sum(1 for p in picks if p.program == Program.DIBAO),
            "tekun": sum(1 for p in picks if p.program == Program.TEKUN),
            "terminated": sum(1 for p in picks if p.status == RecipientStatus.TERMINATED),
            "gradual_exit": sum(1 for p in picks if p.status == RecipientStatus.GRADUAL_EXIT),
        }
        audit_log_create(
            scope=system_scope(),
            action=AuditAction.CREATE,
            subject_type="demo_caseload",
            subject_id=f"background-{today.isoformat()}",
            region_code=PROVINCE,
            after={**counts, "today": today.isoformat(), "per_mille": per_mille},
            note="演示背景救助对象（批量生成）",
        )
    return counts


def _workflows() -> dict[str, tuple[WorkflowDefinition, list[WorkflowStep]]]:
    out: dict[str, tuple[WorkflowDefinition, list[WorkflowStep]]] = {}
    for program in (Program.DIBAO, Program.TEKUN):
        definition = (
            WorkflowDefinition.objects.filter(
                program=program, kind=CaseKind.NEW, rule_set=RuleSet.R2021, region__isnull=True, active=True
            )
            .order_by("pk")
            .first()
        )
        if definition is None:
            raise ApplicationError("no_workflow", "未配置低保或特困的审批流程，请先执行数据库迁移", "program")
        out[program] = (definition, list(definition.steps.order_by("order")))
    return out


def _write_background(picks: list[_Pick], today: dt.date, rng: random.Random) -> None:
    workflows = _workflows()
    townships = dict(Region.objects.filter(level="village").values_list("code", "parent_id"))
    counties = dict(Region.objects.filter(level="township").values_list("code", "parent_id"))
    regions = {r.code: r for r in Region.objects.filter(level__in=("township", "county"))}
    now = timezone.now()
    for chunk in _chunks(picks, BATCH):
        apps, dates = [], []
        for pick in chunk:
            definition, _steps = workflows[pick.program]
            # decided in the month before the start month, received about three weeks before
            decided = add_months(pick.start, -1) + dt.timedelta(days=rng.randrange(4, 24))
            decided = min(decided, today)
            received = decided - dt.timedelta(days=rng.randrange(18, 30))
            dates.append((received, decided))
            documents = dict.fromkeys(definition.config.get("documents", {}), True)
            apps.append(
                Application(
                    program=pick.program,
                    kind=CaseKind.NEW,
                    household_id=pick.household,
                    applicant_id=pick.subject or pick.head,
                    subject_person_id=pick.subject,
                    subject_key=f"p{pick.subject}" if pick.subject else f"h{pick.household}",
                    region_id=pick.village,
                    region_path=pick.path,
                    workflow=definition,
                    rule_set=RuleSet.R2021,
                    status=ApplicationStatus.APPROVED,
                    current_step="",
                    received_on=received,
                    due_date=received + dt.timedelta(days=42),
                    discovered_by=Discovery.INTAKE,
                    intake_level=Level.VILLAGE,
                    documents=documents,
                    verification_authorised=True,
                    authorised_on=received,
                )
            )
        Application.objects.bulk_create(apps, batch_size=BATCH)
        dets = [
            Determination(
                application=app,
                program=pick.program,
                rules_program="",
                rules_available=False,
                rules_version="",
                as_of=decided,
                input={"demo": True},
                output={"rules_available": False, "demo": True, "message": BACKGROUND_NOTE},
                eligible=None,
                monthly_amount=pick.amount,
            )
            for app, pick, (_received, decided) in zip(apps, chunk, dates, strict=True)
        ]
        Determination.objects.bulk_create(dets, batch_size=BATCH)
        Decision.objects.bulk_create(
            [
                Decision(
                    application=app,
                    outcome=Outcome.APPROVED,
                    reasons=[],
                    amount=pick.amount,
                    decided_on=decided,
                    effective_month=pick.start,
                    determination=det,
                )
                for app, det, pick, (_r, decided) in zip(apps, dets, chunk, dates, strict=True)
            ],
            batch_size=BATCH,
        )
        recipients = [
            Recipient(
                program=pick.program,
                household_id=pick.household,
                person_id=pick.subject,
                subject_key=app.subject_key,
                region_id=pick.village,
                region_path=pick.path,
                status=pick.status,
                start_month=pick.start,
                end_month=pick.end,
                monthly_amount=pick.amount,
                determination=det,
                application=app,
                recheck_category=pick.category,
            )
            for app, det, pick in zip(apps, dets, chunk, strict=True)
        ]
        Recipient.objects.bulk_create(recipients, batch_size=BATCH)
        history, rechecks = [], []
        for recipient, app, pick in zip(recipients, apps, chunk, strict=True):
            history.append(
                RecipientStatusChange(
                    recipient=recipient,
                    from_status="",
                    to_status=RecipientStatus.ACTIVE,
                    effective_month=pick.start,
                    monthly_amount=pick.amount,
                    reason="审批通过，次月起发放",
                    source=Discovery.INTAKE,
                    application=app,
                )
            )
            if pick.status == RecipientStatus.TERMINATED:
                assert pick.end is not None
                history.append(
                    RecipientStatusChange(
                        recipient=recipient,
                        from_status=RecipientStatus.ACTIVE,
                        to_status=RecipientStatus.TERMINATED,
                        effective_month=next_month(pick.end),
                        monthly_amount=pick.amount,
                        reason=rng.choice(TERMINATION_REASONS),
                        source=Discovery.SCHEDULED,
                    )
                )
                continue
            if pick.status == RecipientStatus.GRADUAL_EXIT:
                history.append(
                    RecipientStatusChange(
                        recipient=recipient,
                        from_status=RecipientStatus.ACTIVE,
                        to_status=RecipientStatus.GRADUAL_EXIT,
                        effective_month=month_start(today),
                        monthly_amount=pick.amount,
                        reason="复查：家庭成员就业，收入超过标准，给予渐退期",
                        source=Discovery.SCHEDULED,
                    )
                )
            # The next scheduled recheck: the first one due from this month on (earlier ones count as done).
            interval = RECHECK_MONTHS[RecheckCategory(pick.category)]
            due = add_months(pick.start, interval)
            while due < month_start(today):
                due = add_months(due, interval)
            rechecks.append(
                Recheck(recipient=recipient, due_date=due, category=pick.category, reason=RecheckReason.SCHEDULED)
            )
        RecipientStatusChange.objects.bulk_create(history, batch_size=BATCH)
        Recheck.objects.bulk_create(rechecks, batch_size=BATCH)
        steps = []
        for app, pick, (received, decided) in zip(apps, chunk, dates, strict=True):
            township = townships.get(pick.village)
            offices: dict[str, str | None] = {
                Level.VILLAGE: pick.village,
                Level.TOWNSHIP: township,
                Level.COUNTY: counties.get(township or ""),
            }
            acted = _step_dates(received, decided)
            for step in workflows[pick.program][1]:
                skipped = step.optional
                on = acted.get(step.code, decided)
                payload: dict[str, Any] = {}
                if step.code == "verification":
                    payload = {"result": "pass"}
                elif step.code == "township_opinion":
                    payload = {"recommend": True}
                elif step.code == "county_approval":
                    payload = {"amount": str(pick.amount)}
                office = offices.get(step.level)
                steps.append(
                    CaseStep(
                        application=app,
                        order=step.order,
                        code=step.code,
                        name=step.name,
                        level=step.level,
                        roles=step.roles,
                        optional=step.optional,
                        decides=step.decides,
                        refusable=step.refusable,
                        guards=step.guards,
                        deadline_days=step.deadline_days,
                        deadline_unit=step.deadline_unit,
                        basis=step.basis,
                        status=StepStatus.SKIPPED if skipped else StepStatus.DONE,
                        responsible_region=regions.get(office) if office else None,
                        opened_on=on,
                        acted_at=now,
                        acted_on=on,
                        comment="申请人家庭情况清楚，不再组织民主评议" if skipped else "",
                        payload=payload,
                    )
                )
        CaseStep.objects.bulk_create(steps, batch_size=BATCH * 4)


def _step_dates(received: dt.date, decided: dt.date) -> dict[str, dt.date]:
    span = max((decided - received).days, 12)

    def at(share: float) -> dt.date:
        return min(received + dt.timedelta(days=round(span * share)), decided)

    return {
        "acceptance": received,
        "investigation": at(0.15),
        "verification": at(0.25),
        "democratic_review": at(0.3),
        "township_opinion": at(0.3),
        "publicity": at(0.65),
        "county_approval": decided,
        "notice": decided + dt.timedelta(days=2),
    }


# --- entry point -------------------------------------------------------------------------------------------------


def seed_caseload(
    *,
    today: dt.date,
    seed: int = 2018,
    progress: Callable[[str], None] | None = None,
    per_mille: int = BACKGROUND_PER_MILLE,
) -> dict[str, Any]:
    """Create the demo caseload (module docstring) on a seeded province; returns what was made. Does nothing and
    returns {"skipped": True, …} when any case exists. `today` may not be later than the real date (steps are
    never dated in the future)."""
    say = progress or (lambda _msg: None)
    if today > timezone.localdate():
        raise ApplicationError("invalid_date", "演示数据的基准日期不能晚于今天", "today")
    earliest = add_months(month_start(services.RULE_SET_2021_FROM), MONTHS + 1)
    if today < earliest:  # every demo case follows the 2021 rules, received within the last two years
        raise ApplicationError("invalid_date", f"演示数据的基准日期不能早于{earliest.isoformat()}", "today")
    if not 0 <= per_mille <= 500:
        raise ApplicationError("invalid", "背景救助对象比例应在0到500‰之间", "per_mille")
    existing = Application.objects.count()
    if existing:
        return {"skipped": True, "applications": existing}
    if not Household.objects.exists():
        raise ApplicationError("no_households", "尚无家庭数据，请先生成合成数据（doudi seed）", "households")
    began = time.monotonic()
    staff = demo_staff()
    with transaction.atomic():
        real, walkthrough = _real_cases(staff, today, random.Random(seed), say)
        keep = {walkthrough.pk} if walkthrough else set()
        background = _background(today, random.Random(seed + 1), per_mille, staff.township.path, keep, say)
    result: dict[str, Any] = {
        "skipped": False,
        "today": today.isoformat(),
        "real_cases": real,
        "background": background,
        # a dibao-eligible household of the demo village left without a case, for the README's walkthrough
        "walkthrough_household": walkthrough.number if walkthrough else None,
        "running_publicities": Publicity.objects.filter(
            start_date__lte=today, end_date__gte=today, application__status=ApplicationStatus.IN_PROGRESS
        ).count(),
        "seconds": round(time.monotonic() - began, 1),
    }
    say(
        f"演示案件 {real.get('cases', 0)} 件；背景救助对象：低保 {background['dibao']:,} 户，"
        f"特困 {background['tekun']:,} 人，其中已停发 {background['terminated']:,}"
    )
    return result


__all__ = ["DemoStaff", "demo_staff", "demo_village", "plan", "seed_caseload"]
