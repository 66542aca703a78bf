"""The privacy crawl over the demo itself (issue 6, "a test crawls every public page of the demo"): the province
`doudi demo` seeds, with its caseload (`cases.demo.seed_caseload`) and the other apps' samples
(`web.demo.seed_extras`: county contacts, complaints, verification data), under the province's own name masking.
Every page under /public/ reachable from the portal home is fetched; none may carry an ID number, a mobile or
stored phone number, a house number or stored address, a disability certificate number or a health detail, nor
link to another host (test_crawl.py checks the same on a province with extra confidential cases and full names)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client
from django.utils import timezone

from doudi.cases.demo import seed_caseload
from doudi.portal.tests.test_crawl import HEALTH_WORDS, HOUSE_NUMBER, ID_NUMBER, MOBILE, _crawl
from doudi.portal.views import CACHE_ALIAS
from doudi.registry.models import Household, Person
from doudi.registry.seed import seed_province
from doudi.testing.fixtures import ensure_base_data
from doudi.web.demo import seed_extras

HOUSEHOLDS = 6_000  # as the caseload test: enough for every planned case in the demo township


@pytest.fixture
def demo(db: Any, settings: Any, tmp_path: Any) -> None:
    from doudi.cli import _demo_users

    settings.VAR_DIR = tmp_path / "var"
    ensure_base_data()
    seed_province(households=HOUSEHOLDS, seed=2018)
    _demo_users()
    today = timezone.localdate()
    seed_caseload(today=today, seed=2018)
    seed_extras(today=today, seed=2018)
    caches[CACHE_ALIAS].clear()


def test_every_public_page_of_the_demo_is_free_of_personal_data(demo: None) -> None:
    pages = _crawl(Client())
    kinds = {url.rstrip("/").rsplit("/", 1)[-1].split("?")[0] for url in pages}
    assert {"changes", "publicity", "guide"} <= kinds
    everything = "\n".join(html for _response, html in pages.values())
    for url, (response, html) in pages.items():
        assert not ID_NUMBER.search(html), url
        assert not MOBILE.search(html), url
        assert not HOUSE_NUMBER.search(html), url
        for word in HEALTH_WORDS:
            assert word not in html, (url, word)
        assert not response.cookies, url
    stored = (
        set(Household.objects.exclude(address="").values_list("address", flat=True))
        | set(Person.objects.exclude(phone="").values_list("phone", flat=True))
        | set(Person.objects.exclude(disability_cert_no="").values_list("disability_cert_no", flat=True))
        | set(Person.objects.values_list("id_number", flat=True))
    )
    assert sorted(value for value in stored if value in everything) == []
    # and the demo's recipients are there: names appear (masked by the province's setting, e.g. 张*丰)
    assert "*" in everything
