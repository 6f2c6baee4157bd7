"""Period windows: how hits are grouped into cases, and which period came before another.

A response rule groups its hits per ``day``, ISO ``week``, ``month`` or ``quarter`` of the
local date the response was recorded; an index rule groups per the index ``period`` itself.
Period labels of the same shape (``2026-11``, ``2026-Q4``, ``2026-W47``, ``2026``) sort in
time order as strings, which is what :func:`previous_period` relies on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, tzinfo
from typing import Literal

Window = Literal["day", "week", "month", "quarter", "campaign"]
_MONTHS_PER_QUARTER = 3
_DIGIT = re.compile(r"\d")


def local_date(at: datetime, tz: tzinfo) -> date:
    """The calendar date of ``at`` in the province's time zone."""
    return at.astimezone(tz).date()


def window_key(day: date, window: Window) -> str:
    """The label of the window ``day`` falls in (``2026-W47``, ``2026-11``, ``2026-Q4``...)."""
    if window == "day":
        return day.isoformat()
    if window == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if window == "month":
        return f"{day.year}-{day.month:02d}"
    if window == "quarter":
        return f"{day.year}-Q{(day.month - 1) // _MONTHS_PER_QUARTER + 1}"
    return "campaign"


def period_shape(period: str) -> str:
    """``2026-11`` -> ``9999-99``: periods of the same shape are comparable."""
    return _DIGIT.sub("9", period)


def previous_period(current: str, known: Iterable[str]) -> str | None:
    """The latest known period of the same shape strictly before ``current`` (or None)."""
    shape = period_shape(current)
    if not _DIGIT.search(current):
        return None  # "campaign" and other labels carry no order
    earlier = [p for p in known if period_shape(p) == shape and p < current]
    return max(earlier, default=None)
