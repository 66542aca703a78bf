"""Who may open which page: personal pages for personal-data roles in their region, aggregates for everyone."""

from __future__ import annotations

import pytest
from django.urls import reverse

PERSONAL_ROLES = ["village_worker", "township_reviewer", "county_approver", "county_verifier", "admin"]
WRITER_ROLES = ["village_worker", "township_reviewer", "county_approver", "admin"]


def personal_pages(household):
    member = household.memberships.filter(end_date__isnull=True).first()
    return [
        reverse("web:household_list"),
        reverse("web:household_detail", args=[household.pk]),
        reverse("web:household_edit", args=[household.pk]),
        reverse("web:member_add", args=[household.pk]),
        reverse("web:membership_end", args=[household.pk, member.pk]),
        reverse("web:item_add", args=[household.pk, "income"]),
        reverse("web:person_edit", args=[member.person_id]),
        reverse("web:person_move", args=[member.person_id]),
    ]


@pytest.mark.parametrize("role", [*PERSONAL_ROLES, "supervisor", "outsider"])
def test_the_home_page_renders_for_every_role(client_for, role):
    response = client_for(role).get(reverse("web:home"))
    assert response.status_code == 200
    assert "兜底 · 社会救助管理系统" in response.content.decode()


def test_a_supervisor_sees_aggregates_and_the_vendored_chart_but_no_search(client_for, household):
    response = client_for("supervisor").get(reverse("web:home"))
    text = response.content.decode()
    assert "五指山市" in text  # the county row of the province's aggregate table
    assert "web/vendor/echarts/echarts.min.js" in text
    assert 'id="region-counts"' in text
    assert reverse("web:household_list") not in text
    assert household.number not in text
    assert "王大山" not in text


@pytest.mark.parametrize("role", PERSONAL_ROLES)
def test_personal_roles_get_the_quick_search_on_the_home_page(client_for, role, household):
    text = client_for(role).get(reverse("web:home")).content.decode()
    assert 'action="/households/"' in text
    assert "echarts" not in text


def test_a_supervisor_is_refused_every_personal_page_with_403(client_for, household):
    client = client_for("supervisor")
    for url in personal_pages(household):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "汇总统计" in response.content.decode()
        assert "王大山" not in response.content.decode()


def test_an_outsider_gets_404_for_another_countys_household_with_no_hint(client_for, household):
    client = client_for("outsider")
    for url in personal_pages(household)[1:]:
        response = client.get(url)
        assert response.status_code == 404, url
        text = response.content.decode()
        assert household.number not in text
        assert "王大山" not in text


def test_an_outsider_cannot_write_to_another_countys_household(client_for, household):
    response = client_for("outsider").post(
        reverse("web:household_edit", args=[household.pk]),
        {"version": household.version, "address": "篡改", "hukou_type": "rural", "region_code": household.region_id},
    )
    assert response.status_code == 404
    household.refresh_from_db()
    assert household.address != "篡改"


@pytest.mark.parametrize("role", PERSONAL_ROLES)
def test_the_detail_page_renders_for_personal_roles_in_the_region(client_for, role, household):
    response = client_for(role).get(reverse("web:household_detail", args=[household.pk]))
    assert response.status_code == 200
    assert household.number in response.content.decode()


def test_edit_buttons_show_only_for_roles_that_write(client_for, household):
    edit_url = reverse("web:household_edit", args=[household.pk])
    detail_url = reverse("web:household_detail", args=[household.pk])
    for role in WRITER_ROLES:
        assert edit_url in client_for(role).get(detail_url).content.decode(), role
    verifier = client_for("county_verifier")
    assert edit_url not in verifier.get(detail_url).content.decode()
    # and the server refuses anyway
    assert verifier.get(edit_url).status_code == 403
    assert verifier.get(reverse("web:household_new")).status_code == 403


@pytest.mark.parametrize("role", WRITER_ROLES)
def test_the_write_forms_render_for_writers(client_for, role, household):
    client = client_for(role)
    for url in [reverse("web:household_new"), *personal_pages(household)[2:]]:
        assert client.get(url).status_code == 200, url


def test_import_is_for_bulk_roles_only(client_for):
    assert client_for("county_approver").get(reverse("web:import")).status_code == 200
    assert client_for("township_reviewer").get(reverse("web:import")).status_code == 200
    for role in ["village_worker", "county_verifier", "supervisor"]:
        assert client_for(role).get(reverse("web:import")).status_code == 403, role


def test_navigation_follows_the_role(client_for):
    vw = client_for("village_worker").get(reverse("web:home")).content.decode()
    assert "家庭户查询" in vw and "新建家庭" in vw and reverse("web:import") not in vw
    sv = client_for("supervisor").get(reverse("web:home")).content.decode()
    assert "家庭户查询" not in sv and reverse("web:import") not in sv


def test_the_header_shows_the_users_role_and_region(client_for):
    text = client_for("village_worker").get(reverse("web:home")).content.decode()
    assert "村（社区）经办人" in text
    assert "甲村" in text


def test_an_unknown_address_gives_the_chinese_404_page(client_for):
    response = client_for("county_approver").get("/no-such-page/")
    assert response.status_code == 404
    assert "页面或记录不存在" in response.content.decode()


def test_an_unknown_item_of_a_visible_household_is_404(client_for, household):
    response = client_for("county_approver").get(reverse("web:item_end", args=[household.pk, "income", 999999]))
    assert response.status_code == 404
