"""The disclosure contract (cases/disclosure.py): the allow-list, every exclusion, masking per region, set-based."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from doudi.cases import disclosure
from doudi.cases.disclosure import NameMasking, mask_name
from doudi.policy import services as policy_services
from doudi.registry import services as registry_services
from doudi.registry.models import Household, Person
from doudi.testing.fixtures import make_household, person_data

from .conftest import TODAY, make_publicity, make_recipient

FORBIDDEN = {
    "id_number",
    "phone",
    "address",
    "birth_date",
    "hiv",
    "protection_order",
    "confidential",
    "disability",
    "disability_grade",
    "disability_category",
    "serious_illness",
    "household_id",
    "person_id",
    "number",
}


def _member(scope: Any, household: Household, name: str, birth: dt.date, **flags: Any) -> Person:
    registry_services.member_add(
        scope=scope,
        household_id=household.pk,
        relation="20",
        start_date="2020-01-01",
        data=person_data(name, birth=birth),
    )
    person = Person.objects.get(name=name)
    if flags:
        Person.objects.filter(pk=person.pk).update(**flags)
    return person


def _names(code: str, on: dt.date = TODAY) -> list[str]:
    return [r.name for r in disclosure.village_recipients(village_code=code, on=on)]


@pytest.fixture
def full_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(disclosure, "name_masking_for", lambda code, on: NameMasking.FULL)


# --- the allow-list ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(disclosure.ALLOWED_FIELDS), ids=lambda k: k.__name__)
def test_every_contract_type_carries_exactly_its_allow_list(kind: type) -> None:
    assert dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert disclosure.contract_fields(kind) == disclosure.ALLOWED_FIELDS[kind]
    assert not disclosure.contract_fields(kind) & FORBIDDEN


def test_the_allow_lists_are_the_published_fields() -> None:
    # 2021 审核确认办法 art. 24: name, household size, amount; plus village, program and months to read the list.
    assert disclosure.ALLOWED_FIELDS[disclosure.PublicRecipient] == {
        "name",
        "household_size",
        "monthly_amount",
        "village",
        "program",
        "start_month",
    }


def test_a_village_list_carries_only_contract_fields(tree: Any, admin_scope: Any) -> None:
    # given a recipient household of two in the village
    household = make_household(admin_scope, tree.village, members=2, head_name="王大山")
    make_recipient(household, amount="356.50")
    # when the village's list is read
    rows = disclosure.village_recipients(village_code=tree.village.code, on=TODAY)
    # then the row is the masked name, the size, the amount, the village, the program and the start month
    assert rows == [
        disclosure.PublicRecipient(
            name="王*山",
            household_size=2,
            monthly_amount=Decimal("356.50"),
            village="甲村",
            program="最低生活保障",
            start_month=dt.date(2026, 1, 1),
        )
    ]


# --- exclusions --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["hiv", "protection_order", "confidential"])
def test_a_household_with_a_protected_member_is_withheld_whole(
    tree: Any, admin_scope: Any, full_names: None, flag: str
) -> None:
    shown = make_household(admin_scope, tree.village, head_name="李明亮")
    make_recipient(shown)
    household = make_household(admin_scope, tree.village, head_name="王大山")
    _member(admin_scope, household, "王保密", dt.date(1985, 1, 1), **{flag: True})
    make_recipient(household)
    assert _names(tree.village.code) == ["李明亮"]


def test_a_deceased_member_with_hiv_still_protects_the_family(tree: Any, admin_scope: Any, full_names: None) -> None:
    household = make_household(admin_scope, tree.village, head_name="王大山")
    _member(admin_scope, household, "王故人", dt.date(1975, 1, 1), hiv=True, death_date=dt.date(2025, 6, 1))
    make_recipient(household)
    assert _names(tree.village.code) == []


@pytest.mark.parametrize("flag", ["hiv", "protection_order", "confidential"])
def test_a_protected_applicant_is_withheld(tree: Any, admin_scope: Any, full_names: None, flag: str) -> None:
    household = make_household(admin_scope, tree.village, head_name="王大山")
    Person.objects.filter(pk=household.head_id).update(**{flag: True})
    make_recipient(household)
    assert _names(tree.village.code) == []


def test_a_minor_member_is_counted_but_never_named(tree: Any, admin_scope: Any, full_names: None) -> None:
    household = make_household(admin_scope, tree.village, members=1, head_name="王大山")
    _member(admin_scope, household, "王小宝", dt.date(2015, 6, 1))
    make_recipient(household)
    rows = disclosure.village_recipients(village_code=tree.village.code, on=TODAY)
    assert [(r.name, r.household_size) for r in rows] == [("王大山", 2)]


def test_a_minor_applicant_is_withheld_until_the_day_they_turn_18(
    tree: Any, admin_scope: Any, full_names: None
) -> None:
    household = make_household(admin_scope, tree.village, members=1, head_name="王少年")
    Person.objects.filter(pk=household.head_id).update(birth_date=dt.date(2008, 3, 11))
    _member(admin_scope, household, "王大人", dt.date(1970, 1, 1))
    make_recipient(household)
    assert _names(tree.village.code, dt.date(2026, 3, 10)) == []
    assert _names(tree.village.code, dt.date(2026, 3, 11)) == ["王少年"]


def test_adulthood_from_29_february_counts_from_1_march() -> None:
    assert disclosure.adult_born_on_or_before(dt.date(2026, 2, 28)) == dt.date(2008, 2, 28)
    assert disclosure.adult_born_on_or_before(dt.date(2028, 2, 29)) == dt.date(2010, 2, 28)


def test_a_household_of_minors_alone_is_withheld(tree: Any, admin_scope: Any, full_names: None) -> None:
    # given the applicant has died and only children remain
    household = make_household(admin_scope, tree.village, members=1, head_name="王大山")
    _member(admin_scope, household, "王小宝", dt.date(2015, 6, 1))
    Person.objects.filter(pk=household.head_id).update(death_date=dt.date(2026, 1, 5))
    make_recipient(household)
    assert _names(tree.village.code) == []


def test_tekun_names_the_supported_person_counts_one_and_follows_the_same_exclusions(
    tree: Any, admin_scope: Any, full_names: None
) -> None:
    household = make_household(admin_scope, tree.village, members=2, head_name="王大山")
    make_recipient(household, program="tekun", person=Person.objects.get(pk=household.head_id))
    orphan_home = make_household(admin_scope, tree.village, members=1, head_name="李孤儿")
    Person.objects.filter(pk=orphan_home.head_id).update(birth_date=dt.date(2014, 1, 1))
    make_recipient(orphan_home, program="tekun", person=Person.objects.get(pk=orphan_home.head_id))
    rows = disclosure.village_recipients(village_code=tree.village.code, on=TODAY)
    assert [(r.name, r.household_size, r.program) for r in rows] == [("王大山", 1, "特困人员救助供养")]


def test_only_current_recipients_of_the_village_are_listed(tree: Any, admin_scope: Any, full_names: None) -> None:
    for name, status, village in [
        ("王现在", "active", tree.village),
        ("王渐退", "gradual_exit", tree.village),
        ("王暂停", "suspended", tree.village),
        ("王终止", "terminated", tree.village),
        ("王乙村", "active", tree.village2),
    ]:
        make_recipient(make_household(admin_scope, village, head_name=name), status=status)
    one_off = make_household(admin_scope, tree.village, head_name="王临时")
    make_recipient(one_off, program="temporary_assistance")
    assert sorted(_names(tree.village.code)) == sorted(["王现在", "王渐退"])


# --- monthly lists and publicity -------------------------------------------------------------------------------


def test_monthly_changes_list_new_and_stopped_recipients_of_the_subtree(
    tree: Any, admin_scope: Any, full_names: None
) -> None:
    make_recipient(make_household(admin_scope, tree.village, head_name="王新增"), start_month=dt.date(2026, 2, 1))
    make_recipient(
        make_household(admin_scope, tree.village2, head_name="王停发"),
        status="terminated",
        start_month=dt.date(2025, 1, 1),
        end_month=dt.date(2026, 1, 1),
    )
    make_recipient(make_household(admin_scope, tree.village, head_name="王上月"), start_month=dt.date(2026, 1, 1))
    make_recipient(make_household(admin_scope, tree.other_village, head_name="外县人"), start_month=dt.date(2026, 2, 1))
    hidden = make_household(admin_scope, tree.village, head_name="王保密")
    Person.objects.filter(pk=hidden.head_id).update(confidential=True)
    make_recipient(hidden, start_month=dt.date(2026, 2, 1))
    lists = disclosure.monthly_changes(
        region_path=tree.township.path, region_code=tree.township.code, month=dt.date(2026, 2, 1), on=TODAY
    )
    assert [(c.name, c.village, c.month) for c in lists["new"]] == [("王新增", "甲村", dt.date(2026, 2, 1))]
    assert [(c.name, c.village) for c in lists["terminated"]] == [("王停发", "乙村")]


def test_running_publicities_only_while_they_run_and_the_case_is_pending(
    tree: Any, admin_scope: Any, users: Any, full_names: None
) -> None:
    make_publicity(make_household(admin_scope, tree.village, head_name="王公示"), users.admin, amount="410")
    make_publicity(
        make_household(admin_scope, tree.village, head_name="王已过"), users.admin, start=TODAY - dt.timedelta(days=7)
    )
    make_publicity(
        make_household(admin_scope, tree.village, head_name="王未到"), users.admin, start=TODAY + dt.timedelta(days=1)
    )
    decided = make_publicity(make_household(admin_scope, tree.village, head_name="王已批"), users.admin)
    decided.application.status = "approved"
    decided.application.save(update_fields=["status"])
    secret = make_household(admin_scope, tree.village, head_name="王保密")
    _member(admin_scope, secret, "王病人", dt.date(1980, 1, 1), hiv=True)
    make_publicity(secret, users.admin)
    make_publicity(make_household(admin_scope, tree.other_village, head_name="外县人"), users.admin)
    rows = disclosure.running_publicities(region_path=tree.county.path, region_code=tree.county.code, on=TODAY)
    assert [(r.name, r.household_size, r.proposed_amount, r.stage) for r in rows] == [
        ("王公示", 2, Decimal("410"), "审核公示")
    ]
    assert rows[0].end_date - rows[0].start_date == dt.timedelta(days=6)


# --- masking -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masking", "shown"),
    [
        ("张三丰", "keep_first_last", "张*丰"),
        ("欧阳娜娜", "keep_first_last", "欧*娜"),
        ("张三", "keep_first_last", "张*"),
        ("张三丰", "surname_only", "张*"),
        ("张三丰", "full", "张三丰"),
        ("", "full", ""),
    ],
)
def test_names_are_masked_as_the_setting_says(name: str, masking: str, shown: str) -> None:
    assert mask_name(name, masking) == shown


def test_masking_is_a_regional_setting_read_for_the_county_on_the_page_date(tree: Any, users: Any) -> None:
    # given Hainan's default and an administrator's change for one county from today on
    from django.utils import timezone

    from doudi.core.scope import scope_for
    from doudi.policy.selectors import clear_cache

    today = timezone.localdate()
    assert disclosure.name_masking_for(tree.county.code, today) == NameMasking.KEEP_FIRST_LAST
    policy_services.parameter_value_add(
        scope=scope_for(users.admin),
        path=disclosure.MASKING_PARAMETER,
        region_code=tree.county.code[:6],
        effective_from=today,
        value="full",
        reference="县政府决定公开全名（测试）",
    )
    clear_cache()
    # then the county publishes full names from that day, the other county keeps the default
    assert disclosure.name_masking_for(tree.village.code, today) == NameMasking.FULL
    assert disclosure.name_masking_for(tree.other_village.code, today) == NameMasking.KEEP_FIRST_LAST


def test_an_unknown_masking_value_masks_the_most(monkeypatch: pytest.MonkeyPatch) -> None:
    from doudi.rules.parameters import ParameterValue

    class Fake:
        def get(self, *args: Any) -> ParameterValue:
            return ParameterValue("disclosure.name_masking", "everything", None, "", False)

    monkeypatch.setattr("doudi.policy.selectors.current_parameter_set", lambda: Fake())
    assert disclosure.name_masking_for("469001100201", TODAY) == NameMasking.SURNAME_ONLY


# --- set-based ---------------------------------------------------------------------------------------------------


def test_the_village_list_takes_the_same_queries_for_one_or_many_recipients(
    tree: Any, admin_scope: Any, full_names: None
) -> None:
    make_recipient(make_household(admin_scope, tree.village, head_name="王一"))
    with CaptureQueriesContext(connection) as one:
        disclosure.village_recipients(village_code=tree.village.code, on=TODAY)
    for i in range(5):
        make_recipient(make_household(admin_scope, tree.village, head_name=f"王多{'甲乙丙丁戊'[i]}"))
    with CaptureQueriesContext(connection) as many:
        rows = disclosure.village_recipients(village_code=tree.village.code, on=TODAY)
    assert len(rows) == 6
    assert len(many) == len(one) == 1


def test_lists_built_elsewhere_can_ask_which_cases_may_be_published(tree: Any, admin_scope: Any, users: Any) -> None:
    shown = make_publicity(make_household(admin_scope, tree.village, head_name="王公示"), users.admin)
    secret = make_household(admin_scope, tree.village, head_name="王保密")
    _member(admin_scope, secret, "王病人", dt.date(1980, 1, 1), hiv=True)
    hidden = make_publicity(secret, users.admin)
    ids = [shown.application_id, hidden.application_id]
    assert disclosure.publishable_application_ids(application_ids=ids, on=TODAY) == {shown.application_id}
