"""The disclosure contract: the ONLY code that reads case and registry data for the public (issue 6; docs/portal.md).

Every function returns frozen dataclasses whose fields are an explicit allow-list (`ALLOWED_FIELDS`, tested), so a
page, an API or an export built on this module cannot show an ID number, a phone number, an address, a health or
disability detail, or a field nobody decided to publish. What may be published: 2012 审核审批办法 arts. 29, 34 and
2021 审核确认办法 art. 24 (申请人姓名、家庭成员数量、保障金额; protect privacy, publish nothing unrelated) —
rules-cn.md §7.

Exclusions are applied inside the queries (never by filtering rows afterwards), on the page's date:

* **Named person.** The person whose name would appear (the applicant of a household benefit, the supported person
  of a personal benefit such as 特困) is withheld when they are a minor (under 18 on the page's date), HIV-positive,
  under a protection order, marked confidential by an officer, or deceased.
* **Household.** A row is withheld whole when any member of the household (a current membership; a deceased member
  too) is HIV-positive, under a protection order or officer-marked: naming the household, its village and its size
  identifies them (艾滋病防治条例 art. 39 forbids disclosing information that identifies infected persons *or their
  families*; a protection order exists to keep the protected person's whereabouts from the respondent).
* **Households of minors alone.** A row is withheld when the household has no live adult member (a household of
  children left after the applicant died or left): publishing it identifies the children. Minor members of a
  household that is published are never named; they only count in the household size.

Counts of withheld rows are never published (in a small village a count would point at the family). Name masking
(张*丰 …) is the dated regional parameter `disclosure.name_masking`, read for the county on the page's date.

Queries are set-based: each list is one query with `EXISTS` sub-queries on indexed columns (the portal migration
adds the indexes on month and publicity end date), whatever the number of rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce

from doudi.cases.choices import (
    PERSONAL_PROGRAMS,
    ApplicationStatus,
    CaseKind,
    DeadlineUnit,
    Level,
    Program,
    PublicityStage,
    RecipientStatus,
)
from doudi.cases.models import Application, CaseStep, Publicity, Recipient
from doudi.registry.models import Membership

logger = logging.getLogger(__name__)

ADULT_AGE = 18
# The long-term lists (2012 art. 34; 2021 art. 24) cover the recurring benefits; one-off temporary assistance is
# published through its own publicity only.
PUBLISHED_PROGRAMS = (Program.DIBAO, Program.TEKUN)
# Currently receiving: a suspended recipient is not being paid and is not listed.
CURRENT_STATUSES = (RecipientStatus.ACTIVE, RecipientStatus.GRADUAL_EXIT)
MASKING_PARAMETER = "disclosure.name_masking"


class NameMasking(StrEnum):
    FULL = "full"
    KEEP_FIRST_LAST = "keep_first_last"
    SURNAME_ONLY = "surname_only"


# --- the contract ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicRecipient:
    """One current recipient on a village list."""

    name: str  # masked per the region's setting
    household_size: int  # 1 for a personal benefit (特困: the supported person)
    monthly_amount: Decimal
    village: str
    program: str  # label, e.g. 最低生活保障
    start_month: dt.date


@dataclass(frozen=True)
class PublicChange:
    """A new approval (from `month`) or a termination (no longer paid from `month`)."""

    name: str
    household_size: int
    monthly_amount: Decimal
    village: str
    program: str
    month: dt.date


@dataclass(frozen=True)
class PublicPublicity:
    """A pending case during its 7-day publicity (2012 arts. 25, 29; 2021 art. 19)."""

    name: str
    household_size: int
    proposed_amount: Decimal | None  # None while no amount has been proposed
    village: str
    program: str
    stage: str  # 审核公示 / 拟批准公示
    start_date: dt.date
    end_date: dt.date


# The allow-list: what each contract type may carry. A new field is a publication decision (docs/portal.md) and
# changes this table and its test together.
ALLOWED_FIELDS: dict[type, frozenset[str]] = {
    PublicRecipient: frozenset({"name", "household_size", "monthly_amount", "village", "program", "start_month"}),
    PublicChange: frozenset({"name", "household_size", "monthly_amount", "village", "program", "month"}),
    PublicPublicity: frozenset(
        {"name", "household_size", "proposed_amount", "village", "program", "stage", "start_date", "end_date"}
    ),
}


def contract_fields(kind: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(kind))


# --- masking -----------------------------------------------------------------------------------------------------


def mask_name(name: str, masking: NameMasking | str) -> str:
    """张三丰 → 张*丰 (keep_first_last), 张* (surname_only), 张三丰 (full); a two-character name keeps only the
    surname unless names are published in full. One `*` whatever the length, so the mask does not tell it."""
    name = name.strip()
    if not name:
        return ""
    if masking == NameMasking.FULL:
        return name
    if masking == NameMasking.KEEP_FIRST_LAST and len(name) >= 3:
        return f"{name[0]}*{name[-1]}"
    return f"{name[0]}*"


def name_masking_for(region_code: str, on: dt.date) -> NameMasking:
    """The masking in force for a region (12-digit code; the county's setting, falling back to the province's and
    the default) on a date. An unknown value (an operator's typo) masks the most, never the least."""
    from doudi.policy.layering import rules_region_key
    from doudi.policy.selectors import current_parameter_set
    from doudi.rules.errors import ParameterNotFound

    try:
        value = current_parameter_set().get(MASKING_PARAMETER, rules_region_key(region_code), "urban", on).value
    except ParameterNotFound:
        return NameMasking.SURNAME_ONLY
    try:
        return NameMasking(str(value))
    except ValueError:
        logger.warning("unknown %s value; masking to the surname", MASKING_PARAMETER)
        return NameMasking.SURNAME_ONLY


# --- exclusions (one place, used by every query) -----------------------------------------------------------------


def adult_born_on_or_before(on: dt.date) -> dt.date:
    """The latest birth date of a person who is 18 on `on` (a birthday on 29 February counts from 1 March)."""
    try:
        return on.replace(year=on.year - ADULT_AGE)
    except ValueError:  # 29 February of a leap year, 18 years back is a common year
        return on.replace(year=on.year - ADULT_AGE, day=28)


def _publishable_person(prefix: str, on: dt.date) -> Q:
    return Q(
        **{
            f"{prefix}hiv": False,
            f"{prefix}protection_order": False,
            f"{prefix}confidential": False,
            f"{prefix}death_date__isnull": True,
            f"{prefix}birth_date__lte": adult_born_on_or_before(on),
        }
    )


def _live_members(household_ref: str) -> QuerySet[Membership]:
    return Membership.objects.filter(
        household_id=OuterRef(household_ref), end_date__isnull=True, person__death_date__isnull=True
    )


def _publishable(qs: QuerySet[Any], on: dt.date, *, person: str, applicant: str, household: str) -> QuerySet[Any]:
    """Rows whose named person and household may be published (see the module docstring)."""
    named = (Q(**{f"{person}__isnull": False}) & _publishable_person(f"{person}__", on)) | (
        Q(**{f"{person}__isnull": True}) & _publishable_person(f"{applicant}__", on)
    )
    # Any registered member, a deceased one too: 艾滋病防治条例 art. 39 protects the family of an infected person.
    protected_member = Membership.objects.filter(household_id=OuterRef(household), end_date__isnull=True).filter(
        Q(person__hiv=True) | Q(person__protection_order=True) | Q(person__confidential=True)
    )
    adult_member = _live_members(household).filter(person__birth_date__lte=adult_born_on_or_before(on))
    return qs.filter(named).filter(~Exists(protected_member), Exists(adult_member))


def _household_size(household_ref: str) -> Subquery:
    return Subquery(
        _live_members(household_ref).order_by().values("household_id").annotate(n=Count("pk")).values("n")[:1],
        output_field=IntegerField(),
    )


def _size(program: str, size: int | None) -> int:
    return 1 if program in PERSONAL_PROGRAMS else int(size or 0)


# --- the lists ---------------------------------------------------------------------------------------------------


def _recipient_rows(qs: QuerySet[Recipient], on: dt.date, village: str = "region__name") -> QuerySet[Any]:
    qs = _publishable(qs, on, person="person", applicant="application__applicant", household="household_id")
    return qs.annotate(
        public_name=Coalesce(F("person__name"), F("application__applicant__name")),
        public_size=_household_size("household_id"),
        village_name=F(village),
    )


def village_recipients(*, village_code: str, on: dt.date, masking: NameMasking | None = None) -> list[PublicRecipient]:
    """Current dibao and tekun recipients of one village (one query), by program then name. `masking` defaults to
    the region's setting on `on` (`name_masking_for`)."""
    masking = masking or name_masking_for(village_code, on)
    # By where the household lives now (a moved household is listed in its new village, where its members' changes
    # are audited), through the households' (region, id) index.
    qs = Recipient.objects.filter(
        household__region_id=village_code, program__in=PUBLISHED_PROGRAMS, status__in=CURRENT_STATUSES
    )
    rows = _recipient_rows(qs, on, village="household__region__name").values_list(
        "public_name", "public_size", "monthly_amount", "village_name", "program", "start_month"
    )
    out = [
        PublicRecipient(
            name=mask_name(name, masking),
            household_size=_size(program, size),
            monthly_amount=amount,
            village=village,
            program=str(Program(program).label),
            start_month=start,
        )
        for name, size, amount, village, program, start in rows.order_by("program", "pk")
    ]
    return out


def _first_of_month(month: dt.date) -> dt.date:
    return month.replace(day=1)


def _previous_month(month: dt.date) -> dt.date:
    return (month.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def monthly_changes(
    *, region_path: str, region_code: str, month: dt.date, on: dt.date
) -> dict[str, list[PublicChange]]:
    """New approvals (benefit from `month`) and terminations (no longer paid from `month`) of dibao and tekun in a
    county or township subtree: two queries. Exclusions follow the page's date `on`."""
    masking = name_masking_for(region_code, on)
    first = _first_of_month(month)
    base = Recipient.objects.filter(region_path__startswith=region_path, program__in=PUBLISHED_PROGRAMS)
    new = base.filter(start_month=first)
    # A terminated recipient was paid up to end_month inclusive: the stop shows in the month after.
    ended = base.filter(status=RecipientStatus.TERMINATED, end_month=_previous_month(first))
    out: dict[str, list[PublicChange]] = {}
    for key, qs in (("new", new), ("terminated", ended)):
        rows = _recipient_rows(qs, on).values_list(
            "public_name", "public_size", "monthly_amount", "village_name", "program"
        )
        out[key] = [
            PublicChange(
                name=mask_name(name, masking),
                household_size=_size(program, size),
                monthly_amount=amount,
                village=village,
                program=str(Program(program).label),
                month=first,
            )
            for name, size, amount, village, program in rows.order_by("region_id", "program", "pk")
        ]
    return out


def _decimal(raw: object) -> Decimal | None:
    if raw in (None, ""):
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value >= 0 else None


def running_publicities(*, region_path: str, region_code: str, on: dt.date) -> list[PublicPublicity]:
    """Pending cases whose publicity runs on `on` (start ≤ on ≤ end) in a county or township subtree: one query.
    A publicity disappears from the portal when it ends or when the case is decided or withdrawn."""
    masking = name_masking_for(region_code, on)
    opinion_amount = CaseStep.objects.filter(application_id=OuterRef("application_id"), code="township_opinion")
    qs = Publicity.objects.filter(
        application__region_path__startswith=region_path,
        application__status=ApplicationStatus.IN_PROGRESS,
        start_date__lte=on,
        end_date__gte=on,
    )
    qs = _publishable(
        qs,
        on,
        person="application__subject_person",
        applicant="application__applicant",
        household="application__household_id",
    ).annotate(
        public_name=Coalesce(F("application__subject_person__name"), F("application__applicant__name")),
        public_size=_household_size("application__household_id"),
        village_name=F("application__region__name"),
        step_amount=Subquery(opinion_amount.annotate(a=KeyTextTransform("amount", "payload")).values("a")[:1]),
        request_amount=KeyTextTransform("proposed_amount", "application__request"),
        program=F("application__program"),
    )
    rows = qs.order_by("application__region_id", "end_date", "pk").values_list(
        "public_name",
        "public_size",
        "step_amount",
        "request_amount",
        "village_name",
        "program",
        "stage",
        "start_date",
        "end_date",
    )
    return [
        PublicPublicity(
            name=mask_name(name, masking),
            household_size=_size(program, size),
            proposed_amount=_decimal(step_amount) if step_amount not in (None, "") else _decimal(request_amount),
            village=village,
            program=str(Program(program).label),
            stage=str(PublicityStage(stage).label),
            start_date=start,
            end_date=end,
        )
        for name, size, step_amount, request_amount, village, program, stage, start, end in rows
    ]


def publishable_application_ids(*, application_ids: Sequence[int], on: dt.date) -> set[int]:
    """Which of these cases may appear on a public list on `on` (the same exclusions, one query): for lists built
    elsewhere, e.g. the township's printed publicity list (cases/documents.py), so that paper and portal agree."""
    qs = Application.objects.filter(pk__in=list(application_ids))
    qs = _publishable(qs, on, person="subject_person", applicant="applicant", household="household_id")
    return set(qs.values_list("pk", flat=True))


@dataclass(frozen=True)
class PublicStep:
    """One step of the procedure a county applies (办事指南: 流程、时限): public procedure, no case data."""

    name: str
    office: str  # 村（社区）/ 乡镇（街道）/ 县级
    time_limit: str  # e.g. "10个工作日", "" when the rules give none for the step
    basis: str


@dataclass(frozen=True)
class PublicProcedure:
    name: str
    steps: tuple[PublicStep, ...]
    total_time_limit: str
    total_basis: str
    materials: tuple[str, ...]


ALLOWED_FIELDS[PublicStep] = frozenset({"name", "office", "time_limit", "basis"})
ALLOWED_FIELDS[PublicProcedure] = frozenset({"name", "steps", "total_time_limit", "total_basis", "materials"})


def _limit(days: int | None, unit: str) -> str:
    if not days:
        return ""
    return f"{days}个工作日" if unit == DeadlineUnit.WORKING else f"{days}日"


def procedure_for(*, program: str, county_code: str, on: dt.date) -> PublicProcedure | None:
    """The new-application workflow that applies in a county on a date (the most specific active definition, rule
    set by the date as for an application received that day): steps, time limits and required materials."""
    from doudi.cases.services import rule_set_for, workflow_for
    from doudi.core.errors import ApplicationError
    from doudi.core.models import Region

    region = Region.objects.filter(code=county_code).first()
    if region is None:
        return None
    try:
        definition = workflow_for(program=program, kind=CaseKind.NEW, rule_set=rule_set_for(on), region=region)
    except ApplicationError:
        return None
    steps = tuple(
        PublicStep(
            name=step.name,
            office=str(Level(step.level).label),
            time_limit=_limit(step.deadline_days, step.deadline_unit),
            basis=step.basis,
        )
        for step in definition.steps.order_by("order")
    )
    documents = definition.config.get("documents") or {}
    materials = tuple(str(v) for v in documents.values()) if isinstance(documents, dict) else ()
    return PublicProcedure(
        name=definition.name,
        steps=steps,
        total_time_limit=_limit(definition.total_deadline_days, DeadlineUnit.WORKING),
        total_basis=definition.total_deadline_basis,
        materials=materials,
    )


def caseload_fingerprint(region_codes: Sequence[str] | None = None) -> tuple[int, ...]:
    """What changes whenever anything a public list shows may have changed. Every write to cases, the registry, the
    policy parameters and the portal's contacts is audited in its own transaction (docs/architecture.md), so the
    audit log is the change feed (docs/portal.md, "Cache"); one query.

    Without `region_codes`: the whole log — (highest id, rows among the latest 64 ids); the count also changes when
    a transaction that took a lower id commits after a later one. With `region_codes` (a village page: the village
    and its ancestors): per code, and for rows without a region, the sum of the latest 8 ids — index probes on
    (region_id, id), so a write elsewhere in the province leaves the page's key alone, and a lower id committing
    late still changes the sum."""
    from django.db import connection

    with connection.cursor() as cursor:
        if region_codes is None:
            cursor.execute(
                "SELECT t.top, (SELECT COUNT(*) FROM core_auditlog a WHERE a.id > t.top - 64) "
                "FROM (SELECT COALESCE(MAX(id), 0) AS top FROM core_auditlog) t"
            )
        else:
            latest = (
                "(SELECT COALESCE(SUM(x.id), 0) FROM "
                "(SELECT id FROM core_auditlog WHERE {} ORDER BY id DESC LIMIT 8) x)"
            )
            parts = [latest.format("region_id = %s") for _code in region_codes]
            parts.append(latest.format("region_id IS NULL"))
            cursor.execute("SELECT " + ", ".join(parts), list(region_codes))
        row = cursor.fetchone()
    return tuple(int(v) for v in row)


__all__ = [
    "ALLOWED_FIELDS",
    "NameMasking",
    "PublicChange",
    "PublicProcedure",
    "PublicPublicity",
    "PublicRecipient",
    "PublicStep",
    "caseload_fingerprint",
    "contract_fields",
    "mask_name",
    "monthly_changes",
    "name_masking_for",
    "procedure_for",
    "publishable_application_ids",
    "running_publicities",
    "village_recipients",
]
