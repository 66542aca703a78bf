"""Complaint fixtures: the case fixtures (a scope per role, a household), a public complaint builder, an approved
dibao recipient, a fresh cache (rate-limit counters) and no minimum fill time unless a test sets one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.cache import cache

from doudi.cases.models import Recipient
from doudi.cases.tests.conftest import (
    D0,
    Actors,
    actors,
    complete,
    draw_and_visit,
    household,
    intake,
    to_county_approval_2021,
)
from doudi.complaints import services
from doudi.complaints.models import Complaint

REPORTER = {"name": "举报人张三", "phone": "13812345678", "address": "测试镇幸福路8号"}


@pytest.fixture(autouse=True)
def _fresh_cache(settings: Any) -> Any:
    settings.DOUDI_COMPLAINT_MIN_FILL_SECONDS = 0
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def township2(tree: Any) -> Any:
    """A second township of the test county (the county approver may send a complaint down to it; the first
    township's reviewer must never be offered it)."""
    from doudi.core.models import Region
    from doudi.core.services import region_path

    return Region.objects.create(
        code="469001200000",
        name="测试二镇",
        level="township",
        parent=tree.county,
        path=region_path(tree.county, "469001200000"),
        synthetic=True,
    )


def file_public(village: Any, *, anonymous: bool = False, county_matter: bool = False, **extra: Any) -> Complaint:
    data: dict[str, Any] = {
        "kind": "report",
        "channel": "portal",
        "region_code": village.code,
        "subject": "村干部亲属违规享受低保",
        "description": "据了解某户有两套房产和一辆轿车，仍在享受低保。",
        "program": "dibao",
        "county_matter": county_matter,
        "anonymous": anonymous,
        "reporter": None if anonymous else REPORTER,
        **extra,
    }
    return services.complaint_create(scope=services.public_scope(), **data)


def approved_recipient(actors: Actors, household: Any) -> Recipient:
    app = intake(actors, household, received_on=D0)
    day = to_county_approval_2021(actors, app, D0)
    draw_and_visit(actors, app, day)
    complete(actors.ca, app, "county_approval", day)
    return Recipient.objects.get(application=app)


def version(complaint: Complaint) -> int:
    complaint.refresh_from_db()
    return complaint.version


def accept(scope: Any, complaint: Complaint) -> Complaint:
    return services.complaint_accept(scope=scope, complaint_id=complaint.pk, version=version(complaint))


__all__ = [
    "REPORTER",
    "accept",
    "actors",
    "approved_recipient",
    "dt",
    "file_public",
    "household",
    "township2",
    "version",
]
