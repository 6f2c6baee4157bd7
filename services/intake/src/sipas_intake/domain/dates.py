"""Dates as TTHC systems write them: ``yyyyMMddHHmmss`` local time, ISO 8601, ``dd/MM/yyyy``.

Vietnam has one time zone (UTC+7, no daylight saving), so a time written without an
offset is read as UTC+7 unless a source says otherwise. Empty strings mean "no date".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

VIETNAM = timezone(timedelta(hours=7), "ICT")
_COMPACT = re.compile(r"^\d{8}(\d{4}(\d{2})?)?$")
_DAY_FIRST = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{2}):?(\d{2})$")


class DateFormatError(ValueError):
    """Raised when a date string matches none of the accepted forms."""


def parse_offset(text: str) -> timezone:
    """``+07:00`` / ``UTC+0700`` / ``Z`` → a fixed-offset timezone."""
    if text in {"Z", "UTC"}:
        return UTC
    match = _OFFSET.match(text.strip())
    if match is None:
        msg = f"{text!r} is not a UTC offset like +07:00"
        raise DateFormatError(msg)
    sign = -1 if match.group(1) == "-" else 1
    return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def _compact(text: str, zone: timezone) -> datetime:
    padded = text.ljust(14, "0")
    return datetime.strptime(padded, "%Y%m%d%H%M%S").replace(tzinfo=zone)


def _day_first(match: re.Match[str], zone: timezone) -> datetime:
    day, month, year, hour, minute, second = match.groups()
    return datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        tzinfo=zone,
    )


def parse_local_datetime(
    value: object,
    *,
    zone: timezone = VIETNAM,
    pattern: str | None = None,
    label: str | None = None,
) -> datetime | None:
    """A timezone-aware datetime, or None for empty values; raises :class:`DateFormatError`.

    ``pattern`` is a strptime pattern; ``label`` is how error messages name it.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return _with_zone(value, zone)
    text = str(value).strip()
    if not text:
        return None
    try:
        return _parse_text(text, zone, pattern)
    except (ValueError, OverflowError) as exc:
        expected = label or pattern or "yyyyMMddHHmmss, ISO 8601 or dd/MM/yyyy HH:mm"
        msg = f"{text[:40]!r} is not a date ({expected})"
        raise DateFormatError(msg) from exc


def _parse_text(text: str, zone: timezone, pattern: str | None) -> datetime:
    if pattern is not None:
        return _with_zone(datetime.strptime(text, pattern), zone)  # noqa: DTZ007
    if _COMPACT.match(text):
        return _compact(text, zone)
    day_first = _DAY_FIRST.match(text)
    if day_first is not None:
        return _day_first(day_first, zone)
    return _with_zone(datetime.fromisoformat(text.replace(" ", "T", 1)), zone)


def _with_zone(value: datetime, zone: timezone) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=zone)
