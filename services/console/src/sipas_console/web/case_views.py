"""How cases read on a page: labels, local times, deadlines, the actions a form offers.

Pure functions over the alerts API's JSON (no I/O), so the inbox, the case page and the
province board show a case the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sipas_runtime.i18n import _

VIETNAM = timezone(timedelta(hours=7))
ACTIVE = ("open", "acknowledged", "in_progress")
STATES = {
    "open": _("New"),
    "acknowledged": _("Acknowledged"),
    "in_progress": _("In progress"),
    "resolved": _("Resolved"),
    "closed": _("Closed"),
    "dismissed": _("Dismissed"),
}
STATE_TAGS = {"open": "red", "acknowledged": "yellow", "in_progress": "blue"}
SEVERITIES = {"critical": _("Critical"), "warning": _("Needs attention"), "info": _("Information")}
SEVERITY_TAGS = {"critical": "red", "warning": "yellow", "info": "neutral"}
ACTIONS = {
    "acknowledge": _("Acknowledge"),
    "start": _("Start handling"),
    "resolve": _("Resolve"),
    "dismiss": _("Dismiss"),
    "close": _("Close"),
    "reopen": _("Reopen"),
}
NOTE_LABELS = {
    "resolve": _("What was done"),
    "dismiss": _("Why the case is dismissed"),
    "reopen": _("Why the case is reopened"),
}
CHANGES = {
    "acknowledged": _("Acknowledged"),
    "started": _("Handling started"),
    "resolved": _("Resolved"),
    "closed": _("Closed"),
    "dismissed": _("Dismissed"),
    "reopened": _("Reopened"),
}
"""A case's state changes as its history names them (the new state goes without saying)."""
AUDIT_ACTIONS = {
    **CHANGES,
    "opened": _("Case opened"),
    "alert_added": _("Another alert"),
    "noted": _("Note"),
    "callbacks_viewed": _("Call-back contacts viewed"),
    "escalated": _("Escalated"),
    **ACTIONS,
}


def parse_time(value: str | None) -> datetime | None:
    """An ISO time of the API (``Z`` or an offset), or None."""
    if not value:
        return None
    return datetime.fromisoformat(value)


def local(value: str | datetime | None) -> str:
    """A time as people in the province read it: ``14:05 17/11/2026``."""
    moment = parse_time(value) if isinstance(value, str) or value is None else value
    return moment.astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y") if moment else ""


@dataclass(frozen=True)
class Deadline:
    """The deadline that matters now, and how far away it is."""

    kind: str  # "acknowledge" or "resolve"
    at: datetime
    overdue: bool
    hours: int  # whole hours left (or past), rounded towards zero
    working_seconds: float | None = None
    """Office time left (alerts' working calendar); None when alerts did not say."""
    working_day_seconds: float = 8 * 3600.0

    @property
    def days(self) -> int:
        """Whole days left (or past)."""
        return self.hours // 24

    @property
    def working_days(self) -> str | None:
        """Working days left, to one decimal, when at least one is left (``1.5``)."""
        if self.working_seconds is None or self.working_seconds < self.working_day_seconds:
            return None
        return f"{int(self.working_seconds / self.working_day_seconds * 10) / 10:g}"

    @property
    def working_hours(self) -> int:
        """Working hours left, rounded up (a started hour counts)."""
        return math.ceil((self.working_seconds or 0) / 3600)


def deadline(case: Mapping[str, Any], now: datetime) -> Deadline | None:
    """The open case's deadline: to acknowledge while new, then to resolve.

    The time left is alerts' working time (``due``: office hours, holidays and make-up days
    of the province's calendar); the console keeps no calendar of its own.
    """
    if case["state"] not in ACTIVE:
        return None
    kind = "acknowledge" if case["state"] == "open" else "resolve"
    at = parse_time(case[f"{kind}_due_at"])
    if at is None:
        return None
    seconds = (at - now).total_seconds()
    due = case.get("due") or {}
    return Deadline(
        kind,
        at,
        seconds <= 0,
        int(abs(seconds) // 3600),
        working_seconds=due.get("working_seconds_left"),
        working_day_seconds=due.get("working_day_seconds") or 8 * 3600.0,
    )


def by_deadline(cases: Iterable[Mapping[str, Any]], now: datetime) -> list[Mapping[str, Any]]:
    """Active cases first, soonest deadline first; then the others, newest first."""
    active = [c for c in cases if c["state"] in ACTIVE]
    ended = [c for c in cases if c["state"] not in ACTIVE]
    far = now + timedelta(days=3650)
    active.sort(key=lambda c: getattr(deadline(c, now), "at", far))
    ended.sort(key=lambda c: c["opened_at"], reverse=True)
    return [*active, *ended]


def text_in(value: Mapping[str, str] | str | None, lang: str) -> str:
    """A ``{vi, en}`` text of the API in ``lang`` (Vietnamese when English is missing)."""
    if isinstance(value, Mapping):
        return str(value.get(lang) or value.get("vi") or "")
    return value or ""
