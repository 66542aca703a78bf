"""Follow-up pages through the test client: publicity, spot checks, recipients, rechecks, change reports, deaths
and holidays. Who may open them, what they show, and that every POST writes only when the service allows it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from doudi.cases import services
from doudi.cases.models import (
    Application,
    ChangeReport,
    Holiday,
    Recheck,
    Recipient,
    RecipientStatusChange,
    SpotCheckBatch,
)
from doudi.cases.tests.conftest import (
    D0,
    complete,
    draw_and_visit,
    intake,
    publicise,
    to_county_approval_2021,
    version,
    visit,
)
from doudi.registry.models import Person
from doudi.testing.fixtures import make_household

PERSONAL_ROLES = ["village_worker", "township_reviewer", "county_approver", "county_verifier", "admin"]


@pytest.fixture
def client_for(users: Any) -> Any:
    def build(role_name: str) -> Client:
        client = Client()
        client.force_login(getattr(users, role_name))
        return client

    return build


@pytest.fixture
def freeze(monkeypatch: Any) -> Any:
    """Set "today" for the pages and the services (both read timezone.localdate())."""

    def set_today(day: dt.date) -> None:
        monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: day)

    return set_today


def approved(actors: Any, household: Any, start: dt.date = D0) -> Recipient:
    app = intake(actors, household, received_on=start)
    day = to_county_approval_2021(actors, app, start)
    draw_and_visit(actors, app, day)
    complete(actors.ca, app, "county_approval", day)
    return Recipient.objects.get(application=app)


def in_publicity(actors: Any, household: Any, start: dt.date = D0) -> Application:
    """A 2021 dibao case whose initial publicity started on start + 3 days (it runs 7 days)."""
    app = intake(actors, household, received_on=start)
    complete(actors.tr, app, "acceptance", start)
    visit(actors.tr, app, start + dt.timedelta(days=1))
    complete(actors.tr, app, "investigation", start + dt.timedelta(days=1))
    complete(actors.cv, app, "verification", start + dt.timedelta(days=2), payload={"result": "pass"})
    services.step_skip(
        scope=actors.tr,
        application_id=app.pk,
        version=version(app),
        step_code="democratic_review",
        reason="无异议",
        today=start + dt.timedelta(days=2),
    )
    complete(actors.tr, app, "township_opinion", start + dt.timedelta(days=2), payload={"recommend": True})
    publicise(actors.tr, app, "publicity", start + dt.timedelta(days=3))
    return app


def text(response: Any) -> str:
    return response.content.decode()


# --- access to every GET page ------------------------------------------------------------------------------------


def pages(recipient: Recipient, person_id: int) -> list[str]:
    return [
        reverse("cases:publicity_list"),
        reverse("cases:spot_check_list"),
        reverse("cases:recipient_list"),
        reverse("cases:recipient_detail", args=[recipient.pk]),
        reverse("cases:recheck_list"),
        reverse("cases:holiday_list"),
    ]


@pytest.mark.parametrize("role", PERSONAL_ROLES)
def test_every_follow_up_page_opens_for_personal_roles(client_for, actors, household, role):
    recipient = approved(actors, household)
    for url in pages(recipient, household.head_id):
        response = client_for(role).get(url)
        assert response.status_code == 200, url


def test_a_supervisor_is_refused_every_follow_up_page(client_for, actors, household):
    recipient = approved(actors, household)
    client = client_for("supervisor")
    urls = [
        *pages(recipient, household.head_id),
        f"{reverse('cases:change_report_new')}?household={household.pk}",
        reverse("cases:death_record", args=[household.head_id]),
    ]
    for url in urls:
        assert client.get(url).status_code == 403, url


def test_records_of_another_county_are_not_found(client_for, actors, household):
    recipient = approved(actors, household)
    recheck = Recheck.objects.get(recipient=recipient)
    client = client_for("outsider")
    assert client.get(reverse("cases:recipient_detail", args=[recipient.pk])).status_code == 404
    assert client.get(reverse("cases:death_record", args=[household.head_id])).status_code == 404
    assert client.get(f"{reverse('cases:change_report_new')}?household={household.pk}").status_code == 404
    response = client.post(
        reverse("cases:recipient_status", args=[recipient.pk]),
        {"version": recipient.version, "to_status": "suspended", "effective_month": "2022-01", "reason": "x"},
    )
    assert response.status_code == 404
    assert client.post(reverse("cases:recheck_open", args=[recheck.pk])).status_code == 404
    recipient.refresh_from_db()
    assert recipient.status == "active"
    assert Recheck.objects.get(pk=recheck.pk).status == "scheduled"
    # and the lists do not show them
    assert household.number not in text(client.get(reverse("cases:recipient_list")))


def test_the_navigation_links_publicity_and_recipients_for_personal_roles_only(client_for, db, users):
    html = text(client_for("village_worker").get(reverse("web:home")))
    assert reverse("cases:publicity_list") in html and reverse("cases:recipient_list") in html
    html = text(client_for("supervisor").get(reverse("web:home")))
    assert reverse("cases:publicity_list") not in html and reverse("cases:recipient_list") not in html


# --- publicity ---------------------------------------------------------------------------------------------------


def test_the_publicity_list_shows_running_publicities_with_days_left_and_objections(
    client_for, actors, household, tree, freeze
):
    app = in_publicity(actors, household)
    publicity = app.publicities.get()
    services.objection_record(
        scope=actors.tr,
        application_id=app.pk,
        version=version(app),
        publicity_id=publicity.pk,
        received_on=D0 + dt.timedelta(days=4),
        content="该户有经营性收入",
    )
    freeze(D0 + dt.timedelta(days=8))  # publicity 2021-09-04 … 2021-09-10 (7 days)
    html = text(client_for("township_reviewer").get(reverse("cases:publicity_list")))
    assert "2021-09-04" in html and publicity.end_date.isoformat() in html
    assert "公示中，剩 1 天" in html
    assert "待核实 1" in html
    assert f'href="/cases/{app.pk}/"' in html
    # Long after it ended it drops out of the list
    freeze(D0 + dt.timedelta(days=90))
    assert f'href="/cases/{app.pk}/"' not in text(client_for("township_reviewer").get(reverse("cases:publicity_list")))
    # Another county sees nothing of it
    freeze(D0 + dt.timedelta(days=8))
    assert f'href="/cases/{app.pk}/"' not in text(client_for("outsider").get(reverse("cases:publicity_list")))


# --- spot checks -------------------------------------------------------------------------------------------------


def test_a_county_approver_draws_a_spot_check_batch(client_for, actors, household):
    app = intake(actors, household)
    to_county_approval_2021(actors, app)
    url = reverse("cases:spot_check_list")
    # A township reviewer sees the page without the draw form and may not draw
    html = text(client_for("township_reviewer").get(url))
    assert "抽取样本" not in html
    assert client_for("township_reviewer").post(url, {"program": "dibao"}).status_code == 403
    assert not SpotCheckBatch.objects.exists()
    # Nothing to sample for another program: the form says so
    response = client_for("county_approver").post(url, {"program": "tekun", "county_code": "469001000000"})
    assert response.status_code == 422
    assert "当前没有待县级审批、尚未抽查的案件" in text(response)
    assert not SpotCheckBatch.objects.exists()
    # The county approver draws
    approver = client_for("county_approver")
    response = approver.post(url, {"program": "dibao", "county_code": "469001000000"})
    assert response.status_code == 302 and response.url == url
    batch = SpotCheckBatch.objects.get()
    assert batch.population == [app.pk] and batch.sample == [app.pk]
    html = text(approver.get(url))
    assert "已抽取入户抽查样本" in html and f'href="/cases/{app.pk}/"' in html
    # An administrator's province scope draws for a county they must name
    assert "五指山市" in text(client_for("admin").get(url))
    response = client_for("admin").post(url, {"program": "dibao", "county_code": ""})
    assert response.status_code == 422 and "请选择本人管辖的县级区划" in text(response)
    assert SpotCheckBatch.objects.count() == 1


# --- recipients --------------------------------------------------------------------------------------------------


def test_the_recipient_list_filters_by_program_and_status_and_pages_by_id(client_for, actors, household):
    recipient = approved(actors, household)
    url = reverse("cases:recipient_list")
    client = client_for("village_worker")
    html = text(client.get(url))
    assert household.number in html and reverse("cases:recipient_detail", args=[recipient.pk]) in html
    assert "正常享受" in html
    assert household.number in text(client.get(url, {"program": "dibao", "status": "active"}))
    assert household.number not in text(client.get(url, {"program": "tekun"}))
    assert household.number not in text(client.get(url, {"status": "terminated"}))
    assert household.number not in text(client.get(url, {"after": recipient.pk}))
    assert client.get(url, {"status": "nonsense"}).status_code == 200  # an invalid filter is said, not a crash


def test_the_recipient_list_costs_the_same_queries_for_more_recipients(client_for, actors, household, tree):
    approved(actors, household)
    client = client_for("county_approver")
    url = reverse("cases:recipient_list")
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    approved(actors, make_household(actors.ad, tree.village, members=1))
    with CaptureQueriesContext(connection) as two:
        html = text(client.get(url))
    assert html.count(reverse("cases:recipient_list")) >= 1
    assert len(two.captured_queries) == len(one.captured_queries)


def test_the_recipient_page_shows_history_rechecks_and_the_decision_case(client_for, actors, household):
    recipient = approved(actors, household)
    html = text(client_for("county_verifier").get(reverse("cases:recipient_detail", args=[recipient.pk])))
    assert "正常享受" in html and "2021-10" in html
    assert "2022-04-01" in html  # the first half-yearly recheck
    assert f'href="/cases/{recipient.application_id}/"' in html
    assert reverse("web:household_detail", args=[household.pk]) in html
    assert "变更状态" not in html  # only county approvers change the status
    assert "变更状态" in text(client_for("county_approver").get(reverse("cases:recipient_detail", args=[recipient.pk])))


def test_a_county_approver_changes_a_recipient_s_status_with_reasons(client_for, actors, household):
    recipient = approved(actors, household)
    url = reverse("cases:recipient_status", args=[recipient.pk])
    data = {"version": recipient.version, "to_status": "suspended", "effective_month": "2022-01", "reason": ""}
    # Without reasons: refused, the form says why
    response = client_for("county_approver").post(url, data)
    assert response.status_code == 422
    assert "请填写变更原因" in text(response)
    # A township reviewer may not change it
    assert client_for("township_reviewer").post(url, {**data, "reason": "外出务工"}).status_code == 403
    recipient.refresh_from_db()
    assert recipient.status == "active" and RecipientStatusChange.objects.filter(recipient=recipient).count() == 1
    # The county approver suspends from January 2022
    response = client_for("county_approver").post(url, {**data, "reason": "外出务工，暂停核实"})
    assert response.status_code == 302
    assert response.url == reverse("cases:recipient_detail", args=[recipient.pk])
    recipient.refresh_from_db()
    assert recipient.status == "suspended"
    change = RecipientStatusChange.objects.filter(recipient=recipient).last()
    assert change.reason == "外出务工，暂停核实" and change.effective_month == dt.date(2022, 1, 1)
    # The same form sent again carries the old version: stale, nothing changes
    response = client_for("county_approver").post(url, {**data, "to_status": "terminated", "reason": "x"})
    assert response.status_code == 409
    recipient.refresh_from_db()
    assert recipient.status == "suspended"


# --- rechecks ----------------------------------------------------------------------------------------------------


def test_the_recheck_list_shows_due_rechecks_and_opens_one(client_for, actors, household, freeze):
    recipient = approved(actors, household)
    recheck = Recheck.objects.get(recipient=recipient)
    freeze(dt.date(2022, 3, 20))
    url = reverse("cases:recheck_list")
    html = text(client_for("township_reviewer").get(url))
    assert "2022-04-01" in html and "还有 12 天" in html and "启动复查" in html
    assert "2022-04-01" not in text(client_for("township_reviewer").get(url, {"within": 5}))
    assert "2022-04-01" not in text(client_for("township_reviewer").get(url, {"overdue": "on"}))
    freeze(dt.date(2022, 4, 3))
    assert "逾期 2 天" in text(client_for("township_reviewer").get(url, {"overdue": "on"}))
    # A village worker may not open it
    open_url = reverse("cases:recheck_open", args=[recheck.pk])
    assert client_for("village_worker").post(open_url).status_code == 403
    assert Recheck.objects.get(pk=recheck.pk).status == "scheduled"
    # The township reviewer opens it: a recheck case starts and the page goes to it
    response = client_for("township_reviewer").post(open_url)
    recheck.refresh_from_db()
    assert recheck.status == "open" and recheck.application.kind == "recheck"
    assert response.status_code == 302 and response.url == f"/cases/{recheck.application_id}/"
    # Opening it again is refused as out of order
    response = client_for("township_reviewer").post(open_url)
    assert response.status_code == 409 and "该复查已启动或已结束" in text(response)
    assert Application.objects.filter(kind="recheck").count() == 1


# --- change reports and deaths -----------------------------------------------------------------------------------


def test_a_village_worker_reports_a_change_and_the_household_is_rechecked(client_for, actors, household, freeze):
    recipient = approved(actors, household)
    freeze(dt.date(2021, 12, 1))
    url = f"{reverse('cases:change_report_new')}?household={household.pk}"
    html = text(client_for("village_worker").get(url))
    assert household.number in html and "最低生活保障" in html
    # County verifiers do not take change reports
    assert client_for("county_verifier").get(url).status_code == 403
    assert client_for("county_verifier").post(url, {"kind": "income", "reported_on": "2021-12-01"}).status_code == 403
    # Without the kind: refused
    response = client_for("village_worker").post(url, {"kind": "", "reported_on": "2021-12-01"})
    assert response.status_code == 422 and not ChangeReport.objects.exists()
    response = client_for("village_worker").post(
        url, {"kind": "income", "reported_on": "2021-12-01", "note": "户主外出务工"}
    )
    assert response.status_code == 302
    assert response.url == reverse("web:household_detail", args=[household.pk])
    report = ChangeReport.objects.get()
    assert report.details == {"note": "户主外出务工"}
    recheck = Recheck.objects.get(recipient=recipient, reason="change_report")
    assert recheck.due_date == dt.date(2021, 12, 15) and recheck.application.kind == "recheck"


def test_the_change_report_page_finds_the_household_by_its_number(client_for, actors, household):
    client = client_for("township_reviewer")
    url = reverse("cases:change_report_new")
    assert client.get(url).status_code == 200
    response = client.get(url, {"number": household.number})
    assert response.status_code == 302 and response.url == f"{url}?household={household.pk}"
    response = client.get(url, {"number": "123"})
    assert response.status_code == 422 and "户编号应为18位数字" in text(response)


def test_a_death_record_stops_the_benefit_of_a_household_left_without_members(client_for, actors, tree, freeze):
    household = make_household(actors.ad, tree.village, members=1)
    recipient = approved(actors, household)
    freeze(dt.date(2021, 11, 20))
    url = reverse("cases:death_record", args=[household.head_id])
    person = Person.objects.get(pk=household.head_id)
    assert client_for("county_verifier").get(url).status_code == 403  # no registry writes
    html = text(client_for("township_reviewer").get(url))
    assert person.name in html and "最低生活保障" in html
    # A death date in the future is refused and nothing is written
    response = client_for("township_reviewer").post(url, {"version": person.version, "death_date": "2021-12-01"})
    assert response.status_code == 422 and "死亡日期不能晚于今天" in text(response)
    assert Person.objects.get(pk=person.pk).death_date is None
    response = client_for("township_reviewer").post(url, {"version": person.version, "death_date": "2021-11-15"})
    assert response.status_code == 302
    assert Person.objects.get(pk=person.pk).death_date == dt.date(2021, 11, 15)
    recipient.refresh_from_db()
    assert recipient.status == "terminated" and recipient.end_month == dt.date(2021, 11, 1)
    change = RecipientStatusChange.objects.filter(recipient=recipient).last()
    assert change.source == "death" and change.effective_month == dt.date(2021, 12, 1)


def test_a_member_s_death_schedules_the_household_recheck(client_for, actors, household, freeze):
    recipient = approved(actors, household)
    daughter = household.memberships.exclude(person_id=household.head_id).get().person
    freeze(dt.date(2021, 11, 20))
    url = reverse("cases:death_record", args=[daughter.pk])
    response = client_for("village_worker").post(url, {"version": daughter.version, "death_date": "2021-11-15"})
    assert response.status_code == 302
    recheck = Recheck.objects.get(recipient=recipient, reason="death")
    assert recheck.due_date == dt.date(2022, 2, 15) and recheck.application.discovered_by == "death"
    recipient.refresh_from_db()
    assert recipient.status == "active"
    # The form sent again with the old version is stale
    response = client_for("village_worker").post(url, {"version": daughter.version, "death_date": "2021-11-16"})
    assert response.status_code == 409
    assert Person.objects.get(pk=daughter.pk).death_date == dt.date(2021, 11, 15)


# --- holidays ----------------------------------------------------------------------------------------------------


def test_only_an_administrator_maintains_holidays(client_for, db, users):
    url = reverse("cases:holiday_list")
    assert client_for("village_worker").get(url).status_code == 200
    data = {"action": "set", "date": "2031-10-08", "day_kind": "holiday", "note": "地方假日"}
    assert client_for("county_approver").post(url, data).status_code == 403
    assert not Holiday.objects.exists()
    response = client_for("admin").post(url, {**data, "date": "2031-13-01"})
    assert response.status_code == 422 and not Holiday.objects.exists()
    response = client_for("admin").post(url, data)
    assert response.status_code == 302 and response.url == url
    holiday = Holiday.objects.get()
    assert holiday.date == dt.date(2031, 10, 8) and not holiday.is_working_day and holiday.note == "地方假日"
    html = text(client_for("township_reviewer").get(url))
    assert "2031-10-08" in html and "地方假日" in html
    delete = {"action": "delete", "date": "2031-10-08"}
    assert client_for("county_approver").post(url, delete).status_code == 403
    assert Holiday.objects.exists()
    assert client_for("admin").post(url, delete).status_code == 302
    assert not Holiday.objects.exists()
