"""Working days for legal time limits: `chinese_calendar` (official holidays and make-up working days) by default,
the operator's Holiday table overriding it day by day.

The package only knows the years the State Council has published; for other years it raises, and we fall back to
Monday–Friday so that a deadline is still computed — operators enter that year's holidays in the Holiday table.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
import datetime as dt
from collections.abc import Mapping

import chinese_calendar

from doudi.cases.models import Holiday

# How far ahead to preload operator overrides: n working days never span more than ~3n + 20 calendar days even
# across the Spring Festival week.
_SPAN_FACTOR = 3
_SPAN_MARGIN = 30


def _official_working_day(day: dt.date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


class WorkingCalendar:
    """Answers "is this a working day?" from a preloaded map of operator overrides (one query per computation)."""

    def __init__(self, overrides: Mapping[dt.date, bool]) -> None:
        self.overrides = dict(overrides)

    @classmethod
    def load(cls, start: dt.date, end: dt.date) -> WorkingCalendar:
        rows = Holiday.objects.filter(date__gte=start, date__lte=end).values_list("date", "is_working_day")
        return cls(dict(rows))

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        return _official_working_day(day)

    def add(self, start: dt.date, n: int) -> dt.date:
        """The n-th working day after `start` (`start` itself not counted); n = 0 gives `start`."""
        if n < 0:
            raise ValueError("n must be ≥ 0")
        day = start
        remaining = n
        while remaining:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def between(self, start: dt.date, end: dt.date) -> int:
        """Working days after `start` up to and including `end` (0 if end ≤ start)."""
        count, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count


def working_days_add(start: dt.date, n: int) -> dt.date:
    """The n-th working day after `start`, with the operator's holiday table applied."""
    cal = WorkingCalendar.load(start, start + dt.timedelta(days=n * _SPAN_FACTOR + _SPAN_MARGIN))
    return cal.add(start, n)


def is_working_day(day: dt.date) -> bool:
    return WorkingCalendar.load(day, day).is_working_day(day)


def due_date(start: dt.date, days: int | None, unit: str) -> dt.date | None:
    """Deadline `days` after `start`, in working days ("working") or calendar days ("calendar")."""
    if days is None:
        return None
    if unit == "calendar":
        return start + dt.timedelta(days=days)
    return working_days_add(start, days)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day `months` later, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = _stdlib_calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def next_month(day: dt.date) -> dt.date:
    """First day of the month after `day` (benefits start, and stop, from the next month)."""
    return add_months(month_start(day), 1)
