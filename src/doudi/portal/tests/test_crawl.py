"""The privacy crawl (issue 6): every public page of a seeded synthetic province, reached by following every link
under /public/ from the portal home, carries no ID number, phone number, address or health detail, no confidential
person's name, and no reference to another host; public responses set no cookie and send no referrer."""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from html.parser import HTMLParser
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client
from django.utils import timezone

from doudi.cases import disclosure
from doudi.cases.models import Application, Publicity, Recipient
from doudi.core.scope import system_scope
from doudi.portal import services
from doudi.portal.demo import demo_caseload_create
from doudi.portal.views import CACHE_ALIAS
from doudi.registry.models import Household, Membership, Person
from doudi.registry.seed import seed_province
from doudi.testing.fixtures import ensure_base_data

ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])|(?<![0-9])[0-9]{15}(?![0-9])")
MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
# a house number such as 12号; official document numbers (民发〔2018〕23号) are not addresses
HOUSE_NUMBER = re.compile(r"(?<![〕0-9])[0-9]+号")
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)
HEALTH_WORDS = ("残疾等级", "残疾人证", "重病", "病历", "艾滋病病毒感染者：", "HIV")
MAX_PAGES = 3000


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src", "action") and value is not None:
                self.urls.append(value)


def _secret_names(count: int) -> list[str]:
    """Names no synthetic person has: 隐 is not among the seed's surnames."""
    chars = "甲乙丙丁戊己庚辛壬癸"
    return [f"隐{chars[i // 10 % 10]}{chars[i % 10]}" for i in range(count)]


def _protect(today: dt.date) -> tuple[set[str], set[str]]:
    """Flag persons in published cases of every kind the rules exclude, rename every person who must not be named
    to a name nobody else has, and return (secret names, names that must appear)."""
    live_dibao = list(
        Recipient.objects.filter(program="dibao", status="active").select_related("application").order_by("pk")
    )
    tekun = list(Recipient.objects.filter(program="tekun", status="active").order_by("pk"))
    pending = list(Publicity.objects.select_related("application").order_by("pk"))
    assert len(live_dibao) >= 8 and len(tekun) >= 2 and len(pending) >= 2, "the demo caseload is too small"
    minor_birth = today.replace(year=today.year - 10)

    def members(household_id: int) -> list[Person]:
        return list(Person.objects.filter(memberships__household_id=household_id, memberships__end_date__isnull=True))

    households: list[int] = []
    # A member (not the applicant) with HIV, under a protection order, marked by an officer: household withheld.
    for recipient, flag in zip(live_dibao[:3], ("hiv", "protection_order", "confidential"), strict=True):
        others = [p for p in members(recipient.household_id) if p.pk != recipient.application.applicant_id]
        target = others[0] if others else Person.objects.get(pk=recipient.application.applicant_id)
        Person.objects.filter(pk=target.pk).update(**{flag: True})
        households.append(recipient.household_id)
    # The applicant is a minor; the only adult has died (a household of children).
    Person.objects.filter(pk=live_dibao[3].application.applicant_id).update(birth_date=minor_birth)
    households.append(live_dibao[3].household_id)
    for p in members(live_dibao[4].household_id):
        if p.pk == live_dibao[4].application.applicant_id:
            Person.objects.filter(pk=p.pk).update(death_date=today - dt.timedelta(days=30))
        else:
            Person.objects.filter(pk=p.pk).update(birth_date=minor_birth)
    households.append(live_dibao[4].household_id)
    # A 特困 minor (an orphan) and a pending case whose applicant is marked confidential.
    assert tekun[0].person_id is not None
    Person.objects.filter(pk=tekun[0].person_id).update(birth_date=minor_birth)
    households.append(tekun[0].household_id)
    Person.objects.filter(pk=pending[0].application.applicant_id).update(confidential=True)
    households.append(pending[0].application.household_id)
    # Everyone the seed flagged, and every member of a household with a flagged member.
    flagged = (
        Membership.objects.filter(end_date__isnull=True).filter(person__hiv=True)
        | Membership.objects.filter(end_date__isnull=True, person__protection_order=True)
        | Membership.objects.filter(end_date__isnull=True, person__confidential=True)
    )
    households += list(flagged.values_list("household_id", flat=True))
    minors = Person.objects.filter(birth_date__gt=disclosure.adult_born_on_or_before(today))
    secret_ids = set(Membership.objects.filter(household_id__in=households).values_list("person_id", flat=True))
    secret_ids |= set(minors.values_list("pk", flat=True))
    names = _secret_names(len(secret_ids))
    for pk, name in zip(sorted(secret_ids), names, strict=True):
        Person.objects.filter(pk=pk).update(name=name)
    shown = {Person.objects.get(pk=r.application.applicant_id).name for r in live_dibao[5:8]}
    return set(names), shown


@pytest.fixture
def province(db: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    ensure_base_data()
    seed_province(households=1_200, seed=2018)
    today = timezone.localdate()
    demo_caseload_create(today=today, dibao_per_mille=120, tekun_per_mille=40, publicity_per_mille=30)
    secret, shown = _protect(today)
    # Full names on the pages, so that a leak cannot hide behind the mask.
    monkeypatch.setattr(disclosure, "name_masking_for", lambda code, on: disclosure.NameMasking.FULL)
    county = Recipient.objects.order_by("pk").values_list("region_path", flat=True).first()
    assert county is not None
    county_code = county.strip("/").split("/")[2]
    services.county_contact_set(
        scope=system_scope(),
        county_code=county_code,
        version=None,
        data={
            "office": "县民政局社会救助股",
            "address": "县政府大院综合楼",
            "phone": "0898-31234567",
            "hotline": "12345",
        },
    )
    caches[CACHE_ALIAS].clear()
    return {"secret": secret, "shown": shown}


def _crawl(client: Client) -> dict[str, tuple[Any, str]]:
    pages: dict[str, tuple[Any, str]] = {}
    queue = deque(["/public/"])
    seen = {"/public/"}
    while queue:
        url = queue.popleft()
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        html = response.content.decode()
        pages[url] = (response, html)
        assert len(pages) <= MAX_PAGES
        parser = Links()
        parser.feed(html)
        for link in parser.urls:
            assert not EXTERNAL.match(link) or link.startswith("#"), (url, link)
            target = link.split("#", 1)[0]
            if target.startswith("/public/") and not target.startswith("/public/complaints/") and target not in seen:
                seen.add(target)
                queue.append(target)
    return pages


def test_every_public_page_is_free_of_personal_data_and_external_assets(province: dict[str, Any]) -> None:
    # given a seeded province with a demo caseload, flagged persons and minors, and full names on the pages
    client = Client()
    # when every page under /public/ reachable from the home page is fetched
    pages = _crawl(client)
    # then the crawl reached villages, the monthly lists, running publicities and the service guides
    kinds = {url.rstrip("/").rsplit("/", 1)[-1].split("?")[0] for url in pages}
    assert {"changes", "publicity", "guide", "dibao", "tekun", "temporary_assistance"} <= kinds
    assert len(pages) > 50
    everything = "\n".join(html for _r, html in pages.values())
    # and published names appear in full, while no confidential or minor person's name does
    for name in province["shown"]:
        assert name in everything
    leaked = sorted(name for name in province["secret"] if name in everything)
    assert leaked == []
    # and no ID number, mobile number, house number, address or health detail appears
    for url, (_response, html) in pages.items():
        assert not ID_NUMBER.search(html), url
        assert not MOBILE.search(html), url
        assert not HOUSE_NUMBER.search(html), url
        for word in HEALTH_WORDS:
            assert word not in html, (url, word)
    addresses = set(Household.objects.values_list("address", flat=True))
    phones = {p for p in Person.objects.exclude(phone="").values_list("phone", flat=True)}
    certs = {c for c in Person.objects.exclude(disability_cert_no="").values_list("disability_cert_no", flat=True)}
    for value in addresses | phones | certs:
        assert value not in everything, value
    # and the staff page is never linked, no cookie is set, and no referrer is sent
    assert "/public/staff/" not in everything
    for url, (response, _html) in pages.items():
        assert not response.cookies, url
        assert response["Referrer-Policy"] == "no-referrer", url
        assert "public" in response["Cache-Control"], url
        assert "'self'" in response["Content-Security-Policy"], url


def test_the_demo_caseload_gives_every_list_rows(province: dict[str, Any]) -> None:
    assert Recipient.objects.filter(status="terminated").exists()
    assert Application.objects.filter(status="in_progress").exists()
