"""The case-action pages (notice, dispute, outcome) refuse a role the service refuses before showing the form
(403 on GET and POST), answer 404 for a record outside the caller's area, and the batch-run form offers (and
accepts) the county, township and village levels the service supports."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from doudi.core.choices import Role
from doudi.testing.fixtures import make_household, make_user, new_id
from doudi.verification import services
from doudi.verification.choices import DISPUTE_ROLES, NOTICE_ROLES, OUTCOME_ROLES
from doudi.verification.models import Dispute, Hit, Notice, VerificationRun
from doudi.verification.tests.conftest import upload

FORM = 'enctype="multipart/form-data"'  # the action form (action_form.html)
ROLES = ("village_worker", "township_reviewer", "county_approver", "county_verifier", "supervisor", "admin")


@pytest.fixture
def hit(actors: Any, case: Any) -> Hit:
    upload(actors.cv, "vehicles", [f"{case.people[0].id_number},琼A1,car,90000"])
    run = services.run_start_inline(scope=actors.cv, application_id=case.app.pk)
    return Hit.objects.get(run=run)


def _today() -> str:
    return timezone.localdate().isoformat()


def _notice_url(hit: Hit) -> str:
    return reverse("verification:notice_add", args=[hit.run_id, hit.household_id])


def _pdf() -> io.BytesIO:
    f = io.BytesIO(b"%PDF-1.4\n%%EOF\n")
    f.name = "证明.pdf"
    return f


PAGES = {
    # page: (allowed roles, url, POST data, what a successful POST creates)
    "notice": (NOTICE_ROLES, _notice_url, lambda h: {"notified_on": _today(), "method": "phone"}, Notice),
    "dispute": (
        DISPUTE_ROLES,
        lambda h: reverse("verification:dispute_add", args=[h.pk]),
        lambda h: {"received_on": _today(), "statement": "车辆已报废", "evidence": [_pdf()]},
        Dispute,
    ),
    "outcome": (
        OUTCOME_ROLES,
        lambda h: reverse("verification:outcome_set", args=[h.pk]),
        lambda h: {"version": h.version, "outcome": "explained", "reason": "已报废注销"},
        None,
    ),
}


def _changed(model: Any, hit: Hit) -> bool:
    if model is None:
        hit.refresh_from_db()
        return hit.outcome != ""
    return model.objects.exists()


@pytest.mark.parametrize("page", sorted(PAGES))
@pytest.mark.parametrize("role", ROLES)
def test_an_action_page_shows_its_form_only_to_the_roles_that_may_submit_it(client_for, hit, page, role):
    allowed, url, data, model = PAGES[page]
    client = client_for(role)
    get = client.get(url(hit))
    post = client.post(url(hit), data(hit))
    if role in allowed:
        assert get.status_code == 200 and FORM in get.content.decode()
        assert post.status_code == 302 and _changed(model, hit)
    else:
        # the form is not shown to a role that cannot submit it, and the POST changes nothing
        assert get.status_code == 403 and FORM not in get.content.decode()
        assert post.status_code == 403 and not _changed(model, hit)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_an_action_page_answers_404_outside_the_callers_area(hit, tree, page):
    allowed, url, data, model = PAGES[page]
    # a township reviewer of the other county (a role that may act, elsewhere) and a village worker of the
    # neighbouring village (the hit is in 甲村)
    outsiders = [make_user("tr-out", Role.TOWNSHIP_REVIEWER, tree.other_township)]
    if Role.VILLAGE_WORKER in allowed:
        outsiders.append(make_user("vw-2", Role.VILLAGE_WORKER, tree.village2))
    for user in outsiders:
        client = Client()
        client.force_login(user)
        assert client.get(url(hit)).status_code == 404
        assert client.post(url(hit), data(hit)).status_code == 404
    assert not _changed(model, hit)


def test_the_notice_page_checks_the_household_row_not_only_the_run(client_for, actors, tree, hit):
    """The run is visible to the township, but a household the run did not verify is not a notice target."""
    other = make_household(actors.ad, tree.village, members=1)
    url = reverse("verification:notice_add", args=[hit.run_id, other.pk])
    client = client_for("township_reviewer")
    assert client.get(url).status_code == 404
    assert client.post(url, {"notified_on": _today(), "method": "phone"}).status_code == 404
    assert not Notice.objects.exists()


# --- the batch-run form: which region levels ---------------------------------------------------------------
def _options(page: str) -> set[str]:
    import re

    form = page.split('id="run-create-form"', 1)[1].split("</form>", 1)[0]
    return set(re.findall(r'<option value="(\d{12})"', form))


def test_the_run_form_offers_the_county_its_townships_and_villages(client_for, tree):
    page = client_for("county_verifier").get(reverse("verification:index")).content.decode()
    offered = _options(page)
    assert {tree.county.code, tree.township.code, tree.village.code, tree.village2.code} <= offered
    assert tree.province.code not in offered and tree.other_village.code not in offered
    assert "村级核对适用于一个村的年度复查" in page


def test_a_village_yearly_run_is_queued_from_the_page_and_executed(client_for, actors, tree):
    from doudi.integrity.tests.conftest import case as recipient_case
    from doudi.verification import jobs

    households = []
    for village in (tree.village, tree.village2):
        household = make_household(actors.ad, village, members=1)
        recipient_case(household, received_on=dt.date(2024, 1, 2), decided_on=dt.date(2024, 2, 1))
        households.append(household)
    upload(actors.cv, "vehicles", [f"{h.head.id_number},琼B{h.pk:05d},car,90000" for h in households])
    response = client_for("county_verifier").post(
        reverse("verification:run_create"), {"kind": "yearly", "region_code": tree.village.code}
    )
    run = VerificationRun.objects.get()
    assert response.status_code == 302 and (run.kind, run.region_id) == ("yearly", tree.village.code)
    assert jobs.worker_loop(worker="t", once=True) == 1
    run.refresh_from_db()
    # only the village's recipient was verified
    assert (run.status, run.households, run.hits) == ("done", 1, 1), run.error
    assert Hit.objects.get(run=run).household_id == households[0].pk


def test_a_region_the_form_does_not_offer_is_a_field_error(client_for, actors, tree):
    make_household(actors.ad, tree.village, members=1)
    upload(actors.cv, "deaths", [f"{new_id()},2024-01-01"])
    client = client_for("county_verifier")
    for code in (tree.province.code, tree.other_village.code, "469001999999"):
        response = client.post(reverse("verification:run_create"), {"kind": "region", "region_code": code})
        assert response.status_code == 422
        assert "核对范围应为您管辖范围内的县、乡镇（街道）或村（社区）" in response.content.decode()
    # the province is refused for an administrator too (a run covers a county at most)
    admin = client_for("admin").post(
        reverse("verification:run_create"), {"kind": "region", "region_code": tree.province.code}
    )
    assert admin.status_code == 422
    assert not VerificationRun.objects.exists()
