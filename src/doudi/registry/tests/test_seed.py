"""The synthetic province: deterministic, valid, realistic enough, and safe to write into a database."""

import datetime as dt
import re
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Count, Max, Q

from doudi.core import idnumber
from doudi.core.errors import ApplicationError
from doudi.core.models import AuditLog, Region
from doudi.core.scope import system_scope
from doudi.core.selectors import address_code_checker
from doudi.registry import seed, services
from doudi.registry.models import AssetItem, ExpenseItem, Household, IncomeItem, Membership, Person
from doudi.registry.seed import (
    REFERENCE_DATE,
    TABLE_MODELS,
    Batch,
    ProvinceGenerator,
    county_units,
    plan_regions,
    seed_province,
)

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def generate(households: int, seed: int) -> list[Batch]:
    units = county_units()
    plan = plan_regions(units, households, seed)
    return list(ProvinceGenerator(plan, households, seed, dict.fromkeys(TABLE_MODELS, 1), NOW))


def column(batches: list[Batch], table: str, name: str) -> list[Any]:
    return [v for b in batches for v in b.tables[table][name]]


def registry_content() -> dict[str, list[tuple[Any, ...]]]:
    """Everything the seed wrote, without the write timestamps."""
    content = {}
    for name, model in TABLE_MODELS.items():
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in ("created_at", "updated_at")]
        content[name] = list(model._default_manager.order_by("pk").values_list(*fields))
    content["region"] = list(Region.objects.filter(synthetic=True).order_by("code").values_list("code", "name", "path"))
    return content


class Rollback(Exception):
    pass


# ------------------------------------------------------------------------------------------- determinism


@pytest.mark.django_db
def test_the_same_household_count_and_seed_generate_the_same_rows():
    first, second = generate(300, 7), generate(300, 7)

    for table in TABLE_MODELS:
        assert [b.rows(table) for b in first] == [b.rows(table) for b in second]
    assert column(generate(300, 8), "person", "id_number") != column(first, "person", "id_number")


@pytest.mark.django_db
def test_two_seeded_databases_hold_identical_data_whatever_the_batch_size(monkeypatch):
    # given the same seed written in batches of 40 and of 50,000 households, each into an empty registry
    monkeypatch.setattr(seed, "CHUNK_HOUSEHOLDS", 100)
    contents = []
    for batch_size in (40, 50_000):
        with pytest.raises(Rollback), transaction.atomic():
            seed_province(households=300, seed=11, batch_size=batch_size)
            contents.append(registry_content())
            raise Rollback

    # then the data is the same, row for row
    assert contents[0]["person"]
    assert contents[0] == contents[1]


# ------------------------------------------------------------------------------------------- validity


@pytest.mark.django_db
def test_every_id_number_is_valid_unique_and_agrees_with_birth_date_and_sex():
    batches = generate(2_000, 3)
    known = address_code_checker()
    ids = column(batches, "person", "id_number")

    assert len(set(ids)) == len(ids)
    for number, sex, birth in zip(ids, column(batches, "person", "sex"), column(batches, "person", "birth_date")):
        parsed = idnumber.parse(number, address_known=known, today=REFERENCE_DATE)
        assert (parsed.sex, parsed.birth_date.isoformat()) == (sex, birth)
    # 儋州's obsolete county code still appears on older residents' numbers
    assert any(number.startswith("469003") for number in ids)


@pytest.mark.django_db
def test_disability_certificate_numbers_are_the_id_number_category_and_grade():
    batches = generate(1_000, 5)
    rows = zip(
        *(
            column(batches, "person", c)
            for c in ("id_number", "disability_category", "disability_grade", "disability_cert_no")
        )
    )
    disabled = [(i, c, g, cert) for i, c, g, cert in rows if c]

    assert disabled
    assert all(cert == f"{i}{c}{g}" and 1 <= g <= 4 and c in "1234567" for i, c, g, cert in disabled)


@pytest.mark.django_db
def test_seeded_households_each_have_one_head_and_live_in_a_synthetic_village():
    result = seed_province(households=300, seed=2018)

    households = Household.objects.annotate(
        heads=Count("memberships", filter=Q(memberships__relation="02", memberships__end_date__isnull=True))
    )
    assert households.count() == result.households == 300
    assert set(households.values_list("heads", flat=True)) == {1}
    assert not Household.objects.exclude(region__level="village", region__synthetic=True).exists()
    assert not Household.objects.filter(head__isnull=True).exists()
    for household in Household.objects.select_related("head")[:50]:
        head = Membership.objects.get(household=household, relation="02")
        assert household.head_id == head.person_id
        assert household.number.startswith(household.region_id) and len(household.number) == 18
    assert Person.objects.count() == Membership.objects.count() == result.persons


@pytest.mark.django_db
def test_synthetic_townships_and_villages_hang_under_every_real_county_level_unit():
    seed_province(households=300, seed=2018)

    townships = Region.objects.filter(level="township", synthetic=True).select_related("parent")
    villages = Region.objects.filter(level="village", synthetic=True).select_related("parent")
    for region in [*townships, *villages]:
        assert region.path == f"{region.parent.path}{region.code}/"
    assert all(re.fullmatch(r"\d{9}000", t.code) for t in townships)
    assert all(v.code[:9] == v.parent.code[:9] and v.code[9:] != "000" for v in villages)
    covered = set(townships.values_list("parent_id", flat=True))
    assert {"469001000000", "460105000000", "460400000000", "460400499000", "469030000000"} <= covered
    assert "460300000000" not in covered  # 三沙 gets no synthetic population
    assert all(t.name.endswith(("镇", "乡", "街道")) for t in townships)
    assert all(v.name.endswith(("村", "社区")) for v in villages)


# ------------------------------------------------------------------------------------------- realism


@pytest.mark.django_db
def test_shares_on_two_thousand_households_are_plausible_for_hainan():
    plan = plan_regions(county_units(), 2_000, 2018)
    batches = list(ProvinceGenerator(plan, 2_000, 2018, dict.fromkeys(TABLE_MODELS, 1), NOW))
    households = column(batches, "household", "id")
    persons = len(column(batches, "person", "id"))

    # household size, 建档立卡 and its exit years
    assert 2.9 <= persons / len(households) <= 3.7
    registered = column(batches, "household", "registered_poor")
    assert 0.06 <= sum(registered) / len(households) <= 0.12
    years = [y for y in column(batches, "household", "poverty_exit_year") if y is not None]
    assert years and set(years) <= set(range(2016, 2021))
    status = Counter(column(batches, "household", "poverty_status"))
    assert status["exited"] > 10 * status["poor"]

    # more registered-poor households in the national poverty counties
    unit_of_village = {v.code: plan.units[u] for v, u in zip(plan.villages, plan.village_unit.tolist())}
    poor_by_kind: dict[bool, list[bool]] = defaultdict(list)
    for region, poor in zip(column(batches, "household", "region_id"), registered):
        poor_by_kind[unit_of_village[region].poverty_county].append(poor)
    share = {k: sum(v) / len(v) for k, v in poor_by_kind.items()}
    assert share[True] > share[False]

    # rural hukou outside the city districts
    hukou = Counter(column(batches, "household", "hukou_type"))
    assert hukou["rural"] > hukou["urban"]

    # persons: disability ~6%, serious illness ~2%, Han majority with 黎族 and 苗族
    assert 0.04 <= sum(1 for c in column(batches, "person", "disability_category") if c) / persons <= 0.08
    assert 0.01 <= sum(column(batches, "person", "serious_illness")) / persons <= 0.035
    ethnicity = Counter(column(batches, "person", "ethnicity"))
    assert ethnicity["01"] / persons > 0.7 and ethnicity["19"] / persons > 0.05 and ethnicity["06"] > 0

    # some households below the lowest dibao standard (280 元/人/月) for later programs to find
    income = defaultdict(Decimal)
    for h, amount in zip(column(batches, "income", "household_id"), column(batches, "income", "monthly_amount")):
        assert re.fullmatch(r"\d+\.\d\d", amount)
        income[h] += Decimal(amount)
    size = Counter(column(batches, "membership", "household_id"))
    below = sum(1 for h in households if income[h] / size[h] < 280)
    assert 0.01 <= below / len(households) <= 0.12


@pytest.mark.django_db
def test_labour_capacity_agrees_with_age_and_disability():
    batches = generate(1_000, 9)
    rows = zip(*(column(batches, "person", c) for c in ("birth_date", "labour_capacity", "disability_grade")))
    for birth, capacity, grade in rows:
        age = (REFERENCE_DATE - dt.date.fromisoformat(birth)).days // 366
        if age < 15 or age >= 71 or (grade is not None and grade <= 2):
            assert capacity == "none"


# ------------------------------------------------------------------------------------------- writing


@pytest.mark.django_db
def test_ordinary_writes_work_after_seeding():
    # given a seeded registry
    seed_province(households=300, seed=2018)
    before = {name: model._default_manager.aggregate(m=Max("pk"))["m"] for name, model in TABLE_MODELS.items()}
    village = Region.objects.filter(level="village", synthetic=True).order_by("code").first()
    scope = system_scope()

    # when a household, a member and an item are added through the services
    household = services.household_create(
        scope=scope, region_code=village.code, data={"address": "演示地址1号", "hukou_type": "rural"}
    )
    membership = services.member_add(
        scope=scope,
        household_id=household.pk,
        relation="02",
        start_date="2024-01-01",
        data={"id_number": idnumber.make("469001", dt.date(1970, 1, 1), 1), "name": "新户主"},
    )
    item = services.item_add(
        scope=scope, household_id=household.pk, kind_group="income", data={"kind": "wage", "monthly_amount": "1000.00"}
    )

    # then the new rows take keys after the seeded ones and the next household number in the village
    assert household.pk > before["household"]
    assert membership.person_id > before["person"] and membership.pk > before["membership"]
    assert item.pk > before["income"]
    seeded_last = Household.objects.filter(region=village).exclude(pk=household.pk).aggregate(m=Max("number"))["m"]
    assert household.number == f"{village.code}{int(seeded_last[12:]) + 1:06d}"


@pytest.mark.django_db
def test_seeding_a_registry_that_already_has_data_is_refused_and_changes_nothing():
    seed_province(households=50, seed=1)
    counts = {name: model._default_manager.count() for name, model in TABLE_MODELS.items()}
    regions = Region.objects.count()

    with pytest.raises(ApplicationError) as exc:
        seed_province(households=50, seed=2)

    assert exc.value.code == "seed_not_empty"
    assert "空库" in exc.value.message
    assert {name: model._default_manager.count() for name, model in TABLE_MODELS.items()} == counts
    assert Region.objects.count() == regions


@pytest.mark.django_db
def test_the_seed_run_is_audited_once_and_progress_carries_no_personal_data(monkeypatch):
    monkeypatch.setattr(seed, "CHUNK_HOUSEHOLDS", 50)
    messages: list[str] = []
    result = seed_province(households=120, seed=4, batch_size=50, progress=messages.append)

    audit = AuditLog.objects.get(subject_type="seed")
    assert audit.after["households"] == 120 and audit.after["persons"] == result.persons
    assert audit.after["parameters"] == {
        "households": 120,
        "seed": 4,
        "batch_size": 50,
        "reference_date": REFERENCE_DATE.isoformat(),
    }
    assert AuditLog.objects.count() == 1
    assert len(messages) >= 4
    assert not any(re.search(r"\d{15,}", m) for m in messages)
    names = set(Person.objects.values_list("name", flat=True))
    assert not any(name in m for m in messages for name in names)
    assert "120" in result.summary() and "户" in result.summary()
    assert IncomeItem.objects.count() == result.incomes
    assert AssetItem.objects.count() == result.assets and ExpenseItem.objects.count() == result.expenses
