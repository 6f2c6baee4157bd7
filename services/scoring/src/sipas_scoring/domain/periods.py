"""Period buckets and reporting periods.

Counts are stored per calendar **month** of the province's local time (Vietnam keeps
UTC+7 all year, so a fixed offset is exact); every coarser period is a sum of months:

- ``campaign``: every month of the campaign;
- ``YYYY``: a calendar year; ``YYYY-Qn``: a quarter; ``YYYY-MM``: a month.

Apart from the months, the counts of the latest days are kept per local **day**
(``YYYY-MM-DD`` buckets, ``sipas_scoring.counts``) for live screens: the period ``today``
is the province's current day (:meth:`Period.of_day`); it has no previous period here.

The previous period of a calendar period is the one just before it (``2026-01`` ->
``2025-12``, ``2026-Q1`` -> ``2025-Q4``); ``campaign`` has none here (year-on-year uses
the campaign profile's ``previous_campaign``).
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Final, Literal

from sipas_scoring.domain import PeriodError

Reporting = Literal["campaign", "year", "quarter", "month"]
"""The periods a campaign reports by (its profile's granularity)."""
Granularity = Literal["campaign", "year", "quarter", "month", "day"]
CAMPAIGN: Final = "campaign"
TODAY: Final = "today"
VIETNAM_OFFSET = timedelta(hours=7)
_MONTHS_PER_QUARTER = 3
PERIOD_PATTERN = r"^(campaign|\d{4}|\d{4}-Q[1-4]|\d{4}-(0[1-9]|1[0-2]))$"
"""Every label :func:`parse_period` reads, for the API's schema."""
LIVE_PERIOD_PATTERN = PERIOD_PATTERN.replace("^(campaign|", "^(campaign|today|")
"""The labels of live figures: those of :data:`PERIOD_PATTERN` and ``today``."""
_PATTERNS: dict[Reporting, re.Pattern[str]] = {
    "year": re.compile(r"^(\d{4})$"),
    "quarter": re.compile(r"^(\d{4})-Q([1-4])$"),
    "month": re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
}


def month_bucket(at: datetime, offset: timedelta = VIETNAM_OFFSET) -> str:
    """The ``YYYY-MM`` bucket of an instant, in local time at ``offset`` from UTC."""
    local = at.astimezone(timezone(offset))
    return f"{local.year:04d}-{local.month:02d}"


def day_bucket(at: datetime, offset: timedelta = VIETNAM_OFFSET) -> str:
    """The ``YYYY-MM-DD`` bucket of an instant, in local time at ``offset`` from UTC."""
    return at.astimezone(timezone(offset)).date().isoformat()


def local_date(at: datetime, offset: timedelta = VIETNAM_OFFSET) -> date:
    """The calendar date of an instant in local time."""
    return at.astimezone(timezone(offset)).date()


@dataclass(frozen=True, order=True)
class Period:
    """A reporting period: the whole campaign, a year, a quarter, a month or a day."""

    granularity: Granularity
    year: int = 0
    part: int = 0  # quarter 1-4 or month 1-12; 0 for years and the campaign
    day: int = 0  # day of the month of a day; 0 otherwise

    @classmethod
    def of_day(cls, on: date) -> Period:
        """The period of one local day (counted in day buckets)."""
        return cls("day", on.year, on.month, on.day)

    @property
    def label(self) -> str:
        """The period as written in URLs, subjects and reports."""
        if self.granularity == CAMPAIGN:
            return CAMPAIGN
        if self.granularity == "year":
            return f"{self.year:04d}"
        if self.granularity == "quarter":
            return f"{self.year:04d}-Q{self.part}"
        if self.granularity == "day":
            return f"{self.year:04d}-{self.part:02d}-{self.day:02d}"
        return f"{self.year:04d}-{self.part:02d}"

    def contains(self, bucket: str) -> bool:
        """Whether the bucket (a month ``YYYY-MM``, or a day's) belongs to this period."""
        if self.granularity == CAMPAIGN:
            return True
        if self.granularity == "day":
            return bucket == self.label
        year, month = int(bucket[:4]), int(bucket[5:7])
        if self.granularity == "year":
            return year == self.year
        if self.granularity == "quarter":
            return year == self.year and (month - 1) // _MONTHS_PER_QUARTER + 1 == self.part
        return year == self.year and month == self.part

    def previous(self) -> Period | None:
        """The calendar period just before this one (None for the campaign and a day)."""
        if self.granularity in {CAMPAIGN, "day"}:
            return None
        if self.granularity == "year":
            return Period("year", self.year - 1)
        last = 4 if self.granularity == "quarter" else 12
        if self.part == 1:
            return Period(self.granularity, self.year - 1, last)
        return Period(self.granularity, self.year, self.part - 1)

    def last_day(self, buckets: Iterable[str] = ()) -> date | None:
        """The last day of the period (for the campaign: of its latest month with data)."""
        if self.granularity == CAMPAIGN:
            months = sorted(buckets)
            return _month_end(months[-1]) if months else None
        if self.granularity == "year":
            return date(self.year, 12, 31)
        if self.granularity == "day":
            return date(self.year, self.part, self.day)
        month = self.part * _MONTHS_PER_QUARTER if self.granularity == "quarter" else self.part
        return date(self.year, month, monthrange(self.year, month)[1])


def _month_end(bucket: str) -> date:
    year, month = int(bucket[:4]), int(bucket[5:7])
    return date(year, month, monthrange(year, month)[1])


def parse_period(label: str) -> Period:
    """Parse ``campaign``, ``YYYY``, ``YYYY-Qn`` or ``YYYY-MM``."""
    if label == CAMPAIGN:
        return Period(CAMPAIGN)
    for granularity, pattern in _PATTERNS.items():
        match = pattern.match(label)
        if match:
            return Period(granularity, int(match[1]), int(match[2]) if match.lastindex == 2 else 0)  # noqa: PLR2004
    msg = f"{label!r} is not a period: use 'campaign', YYYY, YYYY-Qn or YYYY-MM"
    raise PeriodError(msg)


def period_of(bucket: str, granularity: Reporting) -> Period:
    """The reporting period of ``granularity`` that contains the bucket (month or day)."""
    year, month = int(bucket[:4]), int(bucket[5:7])
    if granularity == CAMPAIGN:
        return Period(CAMPAIGN)
    if granularity == "year":
        return Period("year", year)
    if granularity == "quarter":
        return Period("quarter", year, (month - 1) // _MONTHS_PER_QUARTER + 1)
    return Period("month", year, month)
