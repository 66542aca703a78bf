"""The household detail page: members with full ID numbers, dated items, and the audit history."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from doudi.registry import services
from doudi.web.templatetags.doudi_ui import age_on, yuan


def test_the_detail_page_shows_members_with_full_id_numbers_and_labels(client_for, household):
    html = client_for("county_verifier").get(reverse("web:household_detail", args=[household.pk])).content.decode()
    head = household.head
    assert head.id_number in html
    assert "户主" in html and "女" in html  # relation and sex labels, not codes
    assert "有劳动能力" in html


def test_the_history_lists_actor_action_and_changed_fields(client_for, household, county_scope):
    services.household_update(
        scope=county_scope,
        household_id=household.pk,
        version=household.version,
        data={"address": "新地址1号", "hukou_type": "urban"},
    )
    html = client_for("county_approver").get(reverse("web:household_detail", args=[household.pk])).content.decode()
    section = html.split("变更记录", 1)[1]
    assert "修改" in section and "新增" in section
    assert "ca" in section  # the actor
    assert "居住地址" in section and "甲村1号" in section and "新地址1号" in section
    assert "户籍类别" in section and "农村" in section and "城市" in section


def test_confidential_flags_never_show_their_value_in_the_history(client_for, household, county_scope):
    head = household.head
    services.person_update(scope=county_scope, person_id=head.pk, version=head.version, data={"hiv": True})
    html = client_for("county_approver").get(reverse("web:household_detail", args=[household.pk])).content.decode()
    section = html.split("变更记录", 1)[1]
    assert "保密，已变更" in section
    assert "保密" in html.split("家庭成员", 1)[1].split("变更记录", 1)[0]  # a generic badge on the member row


def test_money_has_two_decimals_and_the_unit():
    from decimal import Decimal

    assert yuan(Decimal("0")) == "0.00 元"
    assert yuan(Decimal("1234567.5")) == "1,234,567.50 元"
    assert yuan(None) == "—"


def test_age_counts_completed_years():
    assert age_on(dt.date(2000, 6, 15), dt.date(2025, 6, 14)) == 24
    assert age_on(dt.date(2000, 6, 15), dt.date(2025, 6, 15)) == 25
    assert age_on(dt.date(2004, 2, 29), dt.date(2025, 2, 28)) == 20
