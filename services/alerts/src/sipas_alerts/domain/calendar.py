"""Business time: the Vietnamese working week, office hours and public holidays.

SLA clocks only run during office hours on working days. A working day is a configured
weekday (Monday-Friday by default) that is not a public holiday, or a Saturday/Sunday the
government has declared a make-up working day (ngày làm bù). ``add`` moves a timestamp
forward by an amount of working time; ``between`` measures the working time between two
timestamps. Both work on aware datetimes, in the province's time zone, and return UTC.

Vietnam's public holidays (Tết by the lunar calendar, days off in lieu, the official swaps
with their make-up Saturdays) come from the maintained ``holidays`` library, so they do not
go stale by hand; the policy file adds only what the library does not know (the province's
own days, a swap announced after the installed release). The file wins over the library.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from holidays import HolidayBase, country_holidays
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAX_SCAN_DAYS = 3660


class CalendarError(ValueError):
    """Raised when a calendar is inconsistent or has no working time left to count."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class OfficeHours(_Frozen):
    """One block of office hours in a working day (e.g. 07:30-11:30)."""

    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> OfficeHours:
        if self.end <= self.start:
            raise ValueError(f"office hours end {self.end} must be after start {self.start}")
        return self


class DayRange(_Frozen):
    """A public holiday (or a run of days off), or a make-up working day, with its name."""

    first: date = Field(alias="from")
    last: date | None = Field(default=None, alias="to", description="Inclusive; default: first")
    name: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _ordered(self) -> DayRange:
        if self.last is not None and self.last < self.first:
            raise ValueError(f"holiday 'to' {self.last} is before 'from' {self.first}")
        return self

    def days(self) -> Iterator[date]:
        """Every date in the range."""
        day, last = self.first, self.last or self.first
        while day <= last:
            yield day
            day += timedelta(days=1)


DEFAULT_HOURS = (
    OfficeHours(start=time(7, 30), end=time(11, 30)),
    OfficeHours(start=time(13, 0), end=time(17, 0)),
)


class WorkingCalendar(_Frozen):
    """Office hours, working weekdays, public holidays and make-up working days."""

    timezone: str = "Asia/Ho_Chi_Minh"
    weekdays: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    hours: tuple[OfficeHours, ...] = DEFAULT_HOURS
    national_holidays: bool = Field(
        default=True, description="Vietnam's public holidays and swaps from `holidays`"
    )
    holidays: tuple[DayRange, ...] = ()
    makeup_days: tuple[DayRange, ...] = ()
    _off: frozenset[date] = PrivateAttr(default_factory=frozenset)
    _on: frozenset[date] = PrivateAttr(default_factory=frozenset)
    _national: HolidayBase | None = PrivateAttr(default=None)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> WorkingCalendar:
        if not self.hours or not self.weekdays:
            raise ValueError("a calendar needs at least one working weekday and office hours")
        for before, after in zip(self.hours, self.hours[1:], strict=False):
            if after.start < before.end:
                raise ValueError(f"office hours {before.end} and {after.start} overlap")
        self._off = frozenset(d for r in self.holidays for d in r.days())
        self._on = frozenset(d for r in self.makeup_days for d in r.days())
        if self.national_holidays:  # filled year by year as days are asked for
            self._national = country_holidays("VN", language="vi")
        return self

    @property
    def tz(self) -> ZoneInfo:
        """The province's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def day_seconds(self) -> float:
        """Office time in one working day, in seconds."""
        return sum(_seconds(h.end) - _seconds(h.start) for h in self.hours)

    def is_working_day(self, day: date) -> bool:
        """Whether offices open on ``day``."""
        if day in self._on:
            return True
        if day in self._off:
            return False
        national = self._national
        if national is not None:
            if day in national:  # loads the year, with its swaps' make-up days
                return False
            if day in national.weekend_workdays:
                return True
        return _WEEKDAYS[day.weekday()] in self.weekdays

    def holiday_name(self, day: date) -> str | None:
        """The name of the holiday on ``day``, if any (in Vietnamese for national ones)."""
        named = next((r.name or "holiday" for r in self.holidays if day in set(r.days())), None)
        if named is None and self._national is not None and day not in self._on:
            national: str | None = self._national.get(day)
            return national
        return named

    def _blocks(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        tz = self.tz
        for hours in self.hours:
            yield (
                datetime.combine(day, hours.start, tzinfo=tz),
                datetime.combine(day, hours.end, tzinfo=tz),
            )

    def add(self, start: datetime, seconds: float) -> datetime:
        """``start`` moved forward by ``seconds`` of office time (UTC)."""
        if seconds <= 0:
            return start.astimezone(UTC)
        cursor = start.astimezone(self.tz)
        remaining, day = seconds, cursor.date()
        for _ in range(_MAX_SCAN_DAYS):
            if self.is_working_day(day):
                for block_start, block_end in self._blocks(day):
                    begin = max(block_start, cursor)
                    if begin >= block_end:
                        continue
                    span = (block_end - begin).total_seconds()
                    if remaining <= span:
                        return (begin + timedelta(seconds=remaining)).astimezone(UTC)
                    remaining -= span
            day += timedelta(days=1)
        raise CalendarError(f"no working time within {_MAX_SCAN_DAYS} days of {start}")

    def add_days(self, start: datetime, days: float) -> datetime:
        """``start`` moved forward by ``days`` working days of office time (UTC)."""
        return self.add(start, days * self.day_seconds)

    def between(self, start: datetime, end: datetime) -> float:
        """Office time between ``start`` and ``end``, in seconds (0 when end <= start)."""
        if end <= start:
            return 0.0
        total, day = 0.0, start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        while day <= last:
            if self.is_working_day(day):
                for block_start, block_end in self._blocks(day):
                    overlap = (min(block_end, end) - max(block_start, start)).total_seconds()
                    total += max(0.0, overlap)
            day += timedelta(days=1)
        return total


def _seconds(moment: time) -> float:
    return moment.hour * 3600 + moment.minute * 60 + moment.second
