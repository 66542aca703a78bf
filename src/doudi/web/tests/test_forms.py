"""Create and edit forms: the services validate, the page shows each refusal at its field."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.urls import reverse

from doudi.core.models import AuditLog
from doudi.registry.models import Household, IncomeItem, Membership, Person
from doudi.testing.fixtures import make_household, new_id


def field_error(html: str, field: str) -> str:
    """The error text shown under one field, or '' when there is none."""
    match = re.search(rf'<p class="error" id="id_{field}_error" role="alert">(.*?)</p>', html)
    return match.group(1) if match else ""


def household_post(household, **changes):
    data = {
        "version": household.version,
        "region_code": household.region_id,
        "address": household.address,
        "hukou_type": household.hukou_type,
        "poverty_status": household.poverty_status,
    }
    return {**data, **changes}


def test_a_new_household_is_created_and_opens_its_detail_page(client_for, tree):
    client = client_for("village_worker")
    response = client.post(
        reverse("web:household_new"), {"region_code": tree.village.code, "address": "甲村8号", "hukou_type": "rural"}
    )
    household = Household.objects.get(address="甲村8号")
    assert response.status_code == 302
    assert response["Location"] == reverse("web:household_detail", args=[household.pk])
    assert household.number.startswith(tree.village.code)
    page = client.get(response["Location"]).content.decode()
    assert "已新建家庭" in page


def test_a_new_household_without_address_shows_the_error_at_the_address(client_for, tree):
    response = client_for("village_worker").post(
        reverse("web:household_new"), {"region_code": tree.village.code, "address": "", "hukou_type": "rural"}
    )
    assert response.status_code == 422
    assert field_error(response.content.decode(), "address") == "居住地址不能为空"
    assert not Household.objects.exists()


def test_a_village_worker_cannot_pick_a_village_outside_the_own(client_for, tree):
    response = client_for("village_worker").post(
        reverse("web:household_new"), {"region_code": tree.village2.code, "address": "乙村1号", "hukou_type": "rural"}
    )
    assert response.status_code == 422
    assert field_error(response.content.decode(), "region_code")
    assert not Household.objects.exists()


def test_html_in_an_address_is_refused_at_the_field(client_for, household):
    response = client_for("county_approver").post(
        reverse("web:household_edit", args=[household.pk]),
        household_post(household, address="<script>alert(1)</script>"),
    )
    html = response.content.decode()
    assert "尖括号" in field_error(html, "address")
    assert "<script>alert(1)" not in html  # re-rendered escaped
    household.refresh_from_db()
    assert "script" not in household.address


def test_an_edit_saves_and_is_shown_in_the_history(client_for, household):
    client = client_for("county_approver")
    response = client.post(
        reverse("web:household_edit", args=[household.pk]), household_post(household, address="甲村新址9号")
    )
    assert response.status_code == 302
    detail = client.get(reverse("web:household_detail", args=[household.pk])).content.decode()
    assert "甲村新址9号" in detail
    assert "甲村1号" in detail  # the before value in the history


def test_a_stale_edit_shows_the_message_and_keeps_the_users_input_without_overwriting(client_for, household):
    # given: two people opened the edit form at the same version
    first, second = client_for("county_approver"), client_for("township_reviewer")
    seen_version = household.version
    assert (
        first.post(
            reverse("web:household_edit", args=[household.pk]), household_post(household, address="先保存的地址")
        ).status_code
        == 302
    )
    # when: the second saves with the version they saw
    response = second.post(
        reverse("web:household_edit", args=[household.pk]),
        household_post(household, version=seen_version, address="后保存的地址"),
    )
    # then: they are told, their input is still in the form, and the first save stands
    html = response.content.decode()
    assert response.status_code == 409
    assert "已被其他用户修改" in html
    assert 'value="后保存的地址"' in html
    household.refresh_from_db()
    assert household.address == "先保存的地址"


def member_post(**changes):
    data = {
        "relation": "30",
        "name": "王小妹",
        "id_number": new_id(dt.date(2010, 6, 1), male=False),
        "start_date": "2024-01-01",
        "ethnicity": "01",
        "labour_capacity": "full",
        "left_behind": "",
    }
    return {**data, **changes}


def test_a_bad_id_number_is_shown_at_the_id_field_and_the_other_input_is_kept(client_for, household):
    response = client_for("village_worker").post(
        reverse("web:member_add", args=[household.pk]), member_post(id_number="46900120100601001X0")
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "身份证号码" in field_error(html, "id_number")
    assert 'value="王小妹"' in html


def test_a_wrong_check_digit_is_named(client_for, household):
    good = new_id(dt.date(2012, 2, 2))
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    html = (
        client_for("village_worker")
        .post(reverse("web:member_add", args=[household.pk]), member_post(id_number=wrong))
        .content.decode()
    )
    assert "校验位" in field_error(html, "id_number")


def test_html_in_a_name_is_refused_at_the_name_field(client_for, household):
    response = client_for("village_worker").post(
        reverse("web:member_add", args=[household.pk]), member_post(name="<b>王</b>")
    )
    html = response.content.decode()
    assert "网页代码" in field_error(html, "name")
    assert "<b>王</b>" not in html
    assert Membership.objects.filter(household=household).count() == 2


def test_a_member_is_added(client_for, household):
    response = client_for("village_worker").post(reverse("web:member_add", args=[household.pk]), member_post())
    assert response.status_code == 302
    assert Membership.objects.filter(household=household, end_date__isnull=True).count() == 3


def test_a_person_is_edited_with_the_version_and_a_stale_edit_is_refused(client_for, household):
    person = household.head
    client = client_for("county_approver")
    url = reverse("web:person_edit", args=[person.pk])
    form = client.get(url).content.decode()
    assert f'name="version" value="{person.version}"' in form
    base = {
        "version": person.version,
        "name": person.name,
        "id_number": person.id_number,
        "ethnicity": "01",
        "labour_capacity": "partial",
        "left_behind": "",
        "phone": "0898-1234567",
    }
    assert client.post(url, base).status_code == 302
    person.refresh_from_db()
    assert person.labour_capacity == "partial"
    stale = client.post(url, {**base, "labour_capacity": "none"})
    assert stale.status_code == 409
    assert "已被其他用户修改" in stale.content.decode()
    person.refresh_from_db()
    assert person.labour_capacity == "partial"


def test_a_person_moves_to_another_household_by_its_number(client_for, household, tree, county_scope):
    target = make_household(county_scope, tree.village2, members=1, head_name="李大河")
    mover = household.memberships.exclude(person=household.head).get().person
    client = client_for("county_approver")
    response = client.post(
        reverse("web:person_move", args=[mover.pk]),
        {"to_household": target.number, "relation": "30", "date": "2025-03-01"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("web:household_detail", args=[target.pk])
    assert Membership.objects.get(person=mover, end_date__isnull=True).household == target
    former = client.get(reverse("web:household_detail", args=[household.pk])).content.decode()
    assert "曾经的成员" in former and "2025-03-01" in former


def test_a_move_to_an_unknown_or_foreign_household_is_refused_at_the_field(client_for, household, other_household):
    mover = household.memberships.exclude(person=household.head).get().person
    client = client_for("county_approver")
    for number in [other_household.number, "123", household.number[:-1] + "9"]:
        response = client.post(
            reverse("web:person_move", args=[mover.pk]),
            {"to_household": number, "relation": "30", "date": "2025-03-01"},
        )
        assert field_error(response.content.decode(), "to_household"), number
    assert Membership.objects.get(person=mover, end_date__isnull=True).household == household


def test_a_membership_is_ended_with_date_and_reason(client_for, household):
    membership = household.memberships.exclude(person=household.head).get()
    client = client_for("village_worker")
    url = reverse("web:membership_end", args=[household.pk, membership.pk])
    missing = client.post(url, {"end_date": "", "end_reason": "外出务工"})
    assert field_error(missing.content.decode(), "end_date") == "终止日期不能为空"
    assert client.post(url, {"end_date": "2025-01-31", "end_reason": "出嫁"}).status_code == 302
    membership.refresh_from_db()
    assert membership.end_date == dt.date(2025, 1, 31)
    assert membership.end_reason == "出嫁"


def test_a_negative_income_is_refused_at_the_amount(client_for, household):
    response = client_for("village_worker").post(
        reverse("web:item_add", args=[household.pk, "income"]),
        {"kind": "wage", "monthly_amount": "-5", "start_date": "2025-01-01"},
    )
    assert response.status_code == 422
    assert field_error(response.content.decode(), "monthly_amount") == "月金额不能为负数"
    assert not IncomeItem.objects.exists()


def test_income_asset_and_expense_items_are_added_and_shown_with_two_decimals(client_for, household):
    client = client_for("village_worker")
    head = household.head
    assert (
        client.post(
            reverse("web:item_add", args=[household.pk, "income"]),
            {"kind": "wage", "monthly_amount": "1234.5", "start_date": "2025-01-01", "person_id": head.pk},
        ).status_code
        == 302
    )
    assert (
        client.post(
            reverse("web:item_add", args=[household.pk, "asset"]),
            {"kind": "deposit", "value": "20000", "count": "1", "start_date": "2025-01-01"},
        ).status_code
        == 302
    )
    assert (
        client.post(
            reverse("web:item_add", args=[household.pk, "expense"]),
            {"kind": "medical", "monthly_amount": "300", "start_date": "2025-01-01"},
        ).status_code
        == 302
    )
    income = IncomeItem.objects.get()
    assert income.monthly_amount == Decimal("1234.50") and income.person == head
    html = client.get(reverse("web:household_detail", args=[household.pk])).content.decode()
    assert "1,234.50 元" in html
    assert "20,000.00 元" in html
    assert "300.00 元" in html


def test_an_item_is_ended_and_an_end_before_the_start_is_refused(client_for, household):
    client = client_for("village_worker")
    client.post(
        reverse("web:item_add", args=[household.pk, "income"]),
        {"kind": "wage", "monthly_amount": "800", "start_date": "2025-01-01"},
    )
    item = IncomeItem.objects.get()
    url = reverse("web:item_end", args=[household.pk, "income", item.pk])
    early = client.post(url, {"end_date": "2024-12-31"})
    assert field_error(early.content.decode(), "end_date") == "终止日期不能早于起始日期"
    assert client.post(url, {"end_date": "2025-06-30"}).status_code == 302
    item.refresh_from_db()
    assert item.end_date == dt.date(2025, 6, 30)


def test_a_refused_write_leaves_no_audit_record(client_for, household):
    before = AuditLog.objects.count()
    client_for("village_worker").post(reverse("web:member_add", args=[household.pk]), member_post(name="<i>x</i>"))
    assert AuditLog.objects.count() == before
    assert Person.objects.count() == 2


def test_correcting_a_mistyped_id_number_updates_sex_and_birth_date_from_it(client_for, household):
    person = household.head
    client = client_for("county_approver")
    url = reverse("web:person_edit", args=[person.pk])
    corrected = new_id(dt.date(1971, 4, 2), male=False)
    response = client.post(
        url,
        {
            "version": person.version,
            "name": person.name,
            "id_number": corrected,
            "ethnicity": "01",
            "labour_capacity": "full",
            "left_behind": "",
        },
    )
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.id_number == corrected
    assert person.birth_date == dt.date(1971, 4, 2) and person.sex == "2"
