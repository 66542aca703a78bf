"""Date helpers: the one age helper (backends and libraries disagree on year differences between dates,
architecture §1) and the services' parsing of a date field."""

from __future__ import annotations

import datetime as dt

from doudi.core.errors import ApplicationError


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years on `day` (a birthday on 29 February counts from 1 March in common years)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def parse_date(value: dt.date | str | None, field: str, label: str) -> dt.date:
    """A date given to a service as a date or an ISO string; anything else is `invalid_date` at `field`."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ApplicationError("invalid_date", f"{label}格式应为YYYY-MM-DD", field) from None
