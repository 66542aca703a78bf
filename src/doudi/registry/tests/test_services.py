import datetime as dt
from decimal import Decimal

import pytest

from doudi.core.errors import ApplicationError, NotFound, PermissionDenied, StaleEdit
from doudi.core.models import AuditLog
from doudi.core.scope import scope_for
from doudi.registry import selectors, services
from doudi.registry.models import Membership
from doudi.testing.fixtures import make_household, new_id, person_data


def test_creating_a_household_with_members_is_audited_in_the_same_transaction(tree, county_scope):
    household = make_household(county_scope, tree.village, members=3)
    assert household.number.startswith(tree.village.code)
    assert household.head is not None
    kinds = set(AuditLog.objects.filter(household_id=household.pk).values_list("subject_type", flat=True))
    assert kinds == {"household", "person", "membership"}


def test_a_failed_write_leaves_neither_the_change_nor_an_audit_record(tree, county_scope):
    household = make_household(county_scope, tree.village, members=1)
    before = AuditLog.objects.count()
    with pytest.raises(ApplicationError):
        services.member_add(scope=county_scope, household_id=household.pk, relation="30",
                            data=person_data("李<script>"))
    assert AuditLog.objects.count() == before
    assert Membership.objects.filter(household=household).count() == 1


def test_sex_and_birth_date_must_agree_with_the_id_number(tree, county_scope):
    household = make_household(county_scope, tree.village, members=1)
    data = person_data("李四", birth=dt.date(1990, 2, 3), male=True)
    with pytest.raises(ApplicationError) as exc:
        services.member_add(scope=county_scope, household_id=household.pk, relation="10",
                            data={**data, "sex": "2"})
    assert exc.value.field == "sex"
    with pytest.raises(ApplicationError) as exc:
        services.member_add(scope=county_scope, household_id=household.pk, relation="10",
                            data={**data, "birth_date": "1990-02-04"})
    assert exc.value.field == "birth_date"


def test_the_same_person_in_two_live_households_is_refused_naming_the_other(tree, county_scope):
    first = make_household(county_scope, tree.village, members=1)
    second = make_household(county_scope, tree.village2, members=1)
    id_number = new_id(dt.date(1991, 1, 1))
    services.member_add(scope=county_scope, household_id=first.pk, relation="30",
                        data={"id_number": id_number, "name": "赵六"})
    with pytest.raises(ApplicationError) as exc:
        services.member_add(scope=county_scope, household_id=second.pk, relation="30",
                            data={"id_number": id_number, "name": "赵六"})
    assert exc.value.code == "person_in_other_household"
    assert first.number in exc.value.message


def test_a_person_moves_between_households_without_losing_history(tree, county_scope):
    first = make_household(county_scope, tree.village, members=2)
    second = make_household(county_scope, tree.village2, members=1)
    mover = Membership.objects.filter(household=first, relation="30").get().person
    services.person_move(scope=county_scope, person_id=mover.pk, to_household_id=second.pk, relation="38",
                         date="2025-06-01")
    history = list(Membership.objects.filter(person=mover).order_by("start_date", "pk"))
    assert [(m.household_id, m.end_date) for m in history] == [(first.pk, dt.date(2025, 6, 1)), (second.pk, None)]
    detail = selectors.household_detail(scope=county_scope, household_id=first.pk)
    assert [m.person_id for m in detail.former_members] == [mover.pk]


def test_a_stale_edit_is_refused_and_overwrites_nothing(tree, county_scope):
    household = make_household(county_scope, tree.village)
    services.household_update(scope=county_scope, household_id=household.pk, version=household.version,
                              data={"address": "新地址1号"})
    with pytest.raises(StaleEdit):
        services.household_update(scope=county_scope, household_id=household.pk, version=household.version,
                                  data={"address": "另一个地址"})
    household.refresh_from_db()
    assert household.address == "新地址1号"


def test_money_is_decimal_and_negative_or_non_numeric_amounts_are_refused(tree, county_scope):
    household = make_household(county_scope, tree.village)
    item = services.item_add(scope=county_scope, household_id=household.pk, kind_group="income",
                             data={"kind": "wage", "monthly_amount": "1234.50", "start_date": "2025-01-01"})
    assert item.monthly_amount == Decimal("1234.50")
    for bad in ("-1", "abc", "1.234", 12.5):
        with pytest.raises(ApplicationError) as exc:
            services.item_add(scope=county_scope, household_id=household.pk, kind_group="income",
                              data={"kind": "wage", "monthly_amount": bad})
        assert exc.value.field == "monthly_amount"


def test_impossible_dates_and_unknown_regions_name_their_field(tree, county_scope):
    with pytest.raises(ApplicationError) as exc:
        services.household_create(scope=county_scope, region_code="469001999999",
                                  data={"address": "x", "hukou_type": "rural"})
    assert exc.value.field == "region_code"
    household = make_household(county_scope, tree.village)
    with pytest.raises(ApplicationError) as exc:
        services.item_add(scope=county_scope, household_id=household.pk, kind_group="asset",
                          data={"kind": "deposit", "value": "100", "start_date": "2025-02-30"})
    assert exc.value.field == "start_date"


def test_writes_outside_the_users_region_are_refused(tree, users, county_scope):
    household = make_household(county_scope, tree.village)
    outsider = scope_for(users.outsider)
    with pytest.raises(NotFound):
        services.household_update(scope=outsider, household_id=household.pk, version=household.version,
                                  data={"address": "x"})
    with pytest.raises(ApplicationError) as exc:
        services.household_create(scope=outsider, region_code=tree.village.code,
                                  data={"address": "x", "hukou_type": "rural"})
    assert exc.value.status == 403
    with pytest.raises(PermissionDenied):
        services.household_create(scope=scope_for(users.supervisor), region_code=tree.village.code,
                                  data={"address": "x", "hukou_type": "rural"})


def test_search_pages_by_keyset_and_finds_by_name_and_id(tree, county_scope, users):
    households = [make_household(county_scope, tree.village, members=1, head_name=f"陈{c}") for c in "甲乙丙丁戊"]
    page = selectors.household_search(scope=county_scope, page_size=2)
    assert [h.pk for h in page.items] == [h.pk for h in households[:2]]
    page2 = selectors.household_search(scope=county_scope, page_size=2, after=page.next_after)
    assert [h.pk for h in page2.items] == [h.pk for h in households[2:4]]
    assert [h.pk for h in selectors.household_search(scope=county_scope, q="陈丙").items] == [households[2].pk]
    head_id = households[4].head.id_number
    assert [h.pk for h in selectors.household_search(scope=county_scope, q=head_id).items] == [households[4].pk]
    assert selectors.household_search(scope=scope_for(users.outsider), q="陈").items == []
    with pytest.raises(PermissionDenied):
        selectors.household_search(scope=scope_for(users.supervisor))


def test_supervisors_see_counts_per_child_region(tree, county_scope, users):
    make_household(county_scope, tree.village, registered_poor=True)
    make_household(county_scope, tree.village2)
    rows = selectors.household_counts_by_region(scope=scope_for(users.supervisor))
    assert rows == [{"region_code": "469001000000", "region_name": "五指山市", "households": 2,
                     "registered_poor": 1}]


def test_an_18_digit_query_finds_a_household_by_its_full_number(tree, county_scope):
    household = make_household(county_scope, tree.village, members=2)
    page = selectors.household_search(scope=county_scope, q=household.number)
    assert [h.pk for h in page.items] == [household.pk]
    assert page.items[0].member_count == 2
    assert selectors.household_get_by_number(scope=county_scope, number=household.number).pk == household.pk


def test_a_village_worker_sees_counts_for_the_own_village(tree, county_scope, users):
    make_household(county_scope, tree.village, registered_poor=True)
    rows = selectors.household_counts_by_region(scope=scope_for(users.village_worker))
    assert rows == [{"region_code": tree.village.code, "region_name": "甲村", "households": 1, "registered_poor": 1}]
