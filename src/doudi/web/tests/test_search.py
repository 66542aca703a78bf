"""Household search: in-scope villages only, masked ID numbers, keyset paging, htmx fragments, O(1) queries."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from doudi.core.idnumber import mask
from doudi.registry import services
from doudi.testing.fixtures import make_household


def many_households(scope, tree, count):
    for i in range(count):
        village = tree.village if i % 2 == 0 else tree.village2
        services.household_create(
            scope=scope, region_code=village.code, data={"address": f"{village.name}{i}号", "hukou_type": "rural"}
        )


def household_links(html: str) -> list[str]:
    return re.findall(r'href="/households/(\d+)/"', html)


def test_the_village_dropdown_lists_only_villages_in_scope(client_for, tree):
    county = client_for("county_approver").get(reverse("web:household_list")).content.decode()
    assert tree.village.code in county and tree.village2.code in county
    assert tree.other_village.code not in county
    village_worker = client_for("village_worker").get(reverse("web:household_list")).content.decode()
    assert tree.village.code in village_worker
    assert tree.village2.code not in village_worker


def test_a_village_outside_the_scope_is_refused_as_a_filter(client_for, tree, other_household):
    response = client_for("county_approver").get(reverse("web:household_list"), {"village": tree.other_village.code})
    assert response.status_code == 200
    assert other_household.number not in response.content.decode()


def test_search_by_name_shows_the_household_with_a_masked_head_id(client_for, household):
    response = client_for("village_worker").get(reverse("web:household_list"), {"q": "王大山"})
    text = response.content.decode()
    assert household.number in text
    assert mask(household.head.id_number) in text
    assert household.head.id_number not in text


def test_search_by_a_members_id_number_finds_the_household(client_for, household):
    member = household.memberships.exclude(person=household.head).first().person
    text = client_for("county_approver").get(reverse("web:household_list"), {"q": member.id_number}).content.decode()
    assert household.number in text


def test_search_never_shows_households_of_another_county(client_for, household, other_household):
    text = client_for("county_approver").get(reverse("web:household_list")).content.decode()
    assert household.number in text
    assert other_household.number not in text


def test_keyset_paging_walks_every_household_once(client_for, tree, county_scope):
    # given: 45 households, pages of 20
    many_households(county_scope, tree, 45)
    client = client_for("county_approver")
    seen: list[str] = []
    url = reverse("web:household_list")
    params: dict[str, str] = {}
    for _ in range(5):
        html = client.get(url, params).content.decode()
        seen += household_links(html)
        match = re.search(r'href="\?after=(\d+)"[^>]*rel="next"|rel="next" href="\?after=(\d+)"', html)
        if not match:
            break
        params = {"after": match.group(1) or match.group(2)}
    # then: three pages, every household exactly once, in id order
    assert len(seen) == 45
    assert len(set(seen)) == 45
    assert seen == sorted(seen, key=int)
    last = client.get(url, params).content.decode()
    assert "第一页" in last


def test_the_next_link_keeps_the_filters(client_for, tree, county_scope):
    many_households(county_scope, tree, 45)
    html = client_for("county_approver").get(reverse("web:household_list"), {"village": tree.village.code}).content
    assert f"village={tree.village.code}".encode() in html
    assert b"after=" in html


def test_an_htmx_search_returns_only_the_results_fragment(client_for, household):
    response = client_for("county_approver").get(
        reverse("web:household_list"), {"q": "王大山"}, headers={"HX-Request": "true"}
    )
    text = response.content.decode()
    assert household.number in text
    assert "<html" not in text
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize("count", [3, 30])
def test_the_list_page_runs_a_constant_number_of_queries(
    client_for, tree, county_scope, count, django_assert_max_num_queries
):
    # given: households with heads (the head's name and ID number are shown on every row)
    for i in range(count):
        make_household(county_scope, tree.village if i % 2 else tree.village2, members=1)
    client = client_for("county_approver")
    # then: session, user, scope region, villages, one search query — whatever the page size
    with django_assert_max_num_queries(6):
        response = client.get(reverse("web:household_list"))
    assert response.status_code == 200
    assert len(household_links(response.content.decode())) == min(count, 20)
