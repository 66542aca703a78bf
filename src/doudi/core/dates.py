"""The one age helper: backends and libraries disagree on year differences between dates (architecture §1)."""

from __future__ import annotations

import datetime as dt


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years on `day` (a birthday on 29 February counts from 1 March in common years)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
