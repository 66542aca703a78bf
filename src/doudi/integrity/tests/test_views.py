"""The integrity page: findings for the county roles, aggregates only for supervisors, nothing for others."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.test import Client
from django.urls import reverse

from doudi.integrity.tests.conftest import case, household_in, members
from doudi.integrity.tests.test_checks import die, run


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_county_sees_its_findings_and_coverage_and_a_supervisor_only_the_counts(tree, users, ca):
    household = household_in(ca, tree.village)
    dead, _alive = members(household)
    case(household, "tekun", person=dead)
    die(dead, dt.date(2024, 3, 5))
    assert run(ca, "deceased_recipient") == 1
    url = reverse("integrity:overview")

    county = client_for(users.county_approver).get(url)
    body = county.content.decode()
    assert county.status_code == 200
    assert 'id="findings"' in body and "2024-03-05" in body
    assert "死亡人员仍在享受救助" in body and 'id="coverage"' in body

    supervisor = client_for(users.supervisor).get(url)
    text = supervisor.content.decode()
    assert supervisor.status_code == 200
    assert "死亡人员仍在享受救助" in text  # the count by check
    assert 'id="findings"' not in text and "2024-03-05" not in text and dead.name not in text

    # another county's approver sees none of it; village and township staff may not open the page
    outsider = client_for(users.outsider).get(url).content.decode()
    assert "2024-03-05" not in outsider and "死亡人员仍在享受救助" not in outsider
    for role in ("village_worker", "township_reviewer"):
        assert client_for(getattr(users, role)).get(url).status_code == 403
