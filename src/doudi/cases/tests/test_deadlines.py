"""Time limits in working days (official calendar + operator overrides) and the overdue lists."""

from __future__ import annotations

import datetime as dt

import pytest

from doudi.cases import selectors, services
from doudi.cases.models import CaseStep
from doudi.cases.tests.conftest import complete, intake, visit
from doudi.cases.workdays import add_months, is_working_day, next_month, working_days_add
from doudi.core.errors import PermissionDenied


def test_five_working_days_from_the_eve_of_national_day_2019_skip_the_golden_week(db):
    # Given Mon 30 Sep 2019, the holiday 1–7 Oct, and Sat 12 Oct a make-up working day
    # Then 5 working days later is Sat 12 Oct
    assert working_days_add(dt.date(2019, 9, 30), 5) == dt.date(2019, 10, 12)
    assert not is_working_day(dt.date(2019, 10, 1))
    assert is_working_day(dt.date(2019, 9, 29))  # a Sunday worked in exchange


def test_an_operator_holiday_overrides_the_official_calendar(db, actors):
    # Given the county closes on Fri 11 Oct 2019 (a local holiday entered by the operator)
    services.holiday_set(scope=actors.ad, date="2019-10-11", is_working_day=False, note="县级调休")
    # Then the deadline moves past it, to Sat 12 Oct (make-up day) … and one more day to Mon 14 Oct
    assert working_days_add(dt.date(2019, 9, 30), 5) == dt.date(2019, 10, 14)
    # And an operator may also declare a working day, e.g. for a year the package does not know yet
    services.holiday_set(scope=actors.ad, date="2019-10-05", is_working_day=True)
    assert working_days_add(dt.date(2019, 9, 30), 1) == dt.date(2019, 10, 5)
    services.holiday_delete(scope=actors.ad, date="2019-10-05")
    assert working_days_add(dt.date(2019, 9, 30), 1) == dt.date(2019, 10, 8)
    with pytest.raises(PermissionDenied):
        services.holiday_set(scope=actors.ca, date="2019-10-11", is_working_day=True)


def test_a_year_unknown_to_the_package_falls_back_to_monday_to_friday(db):
    assert working_days_add(dt.date(2099, 1, 2), 1) == dt.date(2099, 1, 5)  # Fri → Mon


def test_month_arithmetic_for_payments_and_rechecks():
    assert next_month(dt.date(2021, 12, 31)) == dt.date(2022, 1, 1)
    assert add_months(dt.date(2021, 1, 31), 1) == dt.date(2021, 2, 28)
    assert add_months(dt.date(2021, 3, 15), -3) == dt.date(2020, 12, 15)


def test_the_investigation_deadline_is_counted_in_working_days_across_national_day(actors, household):
    # Given a 2012-rules case accepted on Mon 28 Sep 2020 (holiday 1–8 Oct 2020, Sun 27 Sep and Sat 10 Oct worked)
    received = dt.date(2020, 9, 28)
    app = intake(actors, household, received_on=received)
    complete(actors.tr, app, "acceptance", received)
    step = CaseStep.objects.get(application=app, code="investigation")
    # Then the 10-working-day investigation limit counts 29, 30 Sep, 9, 10 (a Saturday worked), 12–16 and 19 Oct
    assert step.opened_on == received
    assert step.due_date == dt.date(2020, 10, 19)
    assert "10个工作日" in step.basis


def test_overdue_steps_are_listed_for_the_responsible_office(actors, household, tree):
    received = dt.date(2020, 9, 28)
    app = intake(actors, household, received_on=received)
    complete(actors.tr, app, "acceptance", received)
    # Not overdue on the last day, overdue the day after
    assert not selectors.overdue_steps(scope=actors.tr, today=dt.date(2020, 10, 19)).exists()
    overdue = list(selectors.overdue_steps(scope=actors.tr, today=dt.date(2020, 10, 20)))
    assert [s.code for s in overdue] == ["investigation"]
    assert overdue[0].responsible_region == tree.township
    assert list(selectors.overdue_steps(scope=actors.ca, today=dt.date(2020, 10, 20), level="county")) == []
    # Another county does not see it
    assert not selectors.overdue_steps(scope=actors.out, today=dt.date(2020, 10, 20)).exists()
    # Done steps are no longer overdue
    visit(actors.tr, app, dt.date(2020, 10, 20))
    complete(actors.tr, app, "investigation", dt.date(2020, 10, 20))
    assert [s.code for s in selectors.overdue_steps(scope=actors.tr, today=dt.date(2020, 10, 21))] == []


def test_a_2021_case_has_a_thirty_working_day_limit_for_the_whole_procedure(actors, household):
    from doudi.cases.tests.conftest import D0

    app = intake(actors, household)
    assert app.due_date == working_days_add(D0, 30) == dt.date(2021, 10, 19)
    assert list(selectors.overdue_cases(scope=actors.ca, today=dt.date(2021, 10, 20))) == [app]
    assert list(selectors.overdue_cases(scope=actors.ca, today=dt.date(2021, 10, 19))) == []
