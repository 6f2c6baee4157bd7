"""Case-handling KPIs per unit (or rule): volumes, timeliness and working time taken.

Times are office hours (the SLA clock), reported in hours. ``on_time`` rates count only
cases that reached the step (acknowledged or resolved); cases still open past their
deadline appear in ``overdue_now``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from sipas_alerts.domain.cases import ACTIVE, Case

HOUR = 3600.0


class Durations(BaseModel):
    """Distribution of a working time, in office hours."""

    model_config = ConfigDict(frozen=True)

    count: int
    median_hours: float | None
    p90_hours: float | None


class UnitKpis(BaseModel):
    """KPIs of one group of cases (a unit, a rule, or everything)."""

    model_config = ConfigDict(frozen=True)

    key: str
    opened: int = 0
    open_now: int = 0
    overdue_now: int = 0
    acknowledged: int = 0
    acknowledged_on_time: int = 0
    resolved: int = 0
    resolved_on_time: int = 0
    closed: int = 0
    dismissed: int = 0
    escalated: int = 0
    breaches: dict[str, int] = Field(default_factory=dict)
    acknowledge_on_time_rate: float | None = None
    resolve_on_time_rate: float | None = None
    time_to_acknowledge: Durations
    time_to_resolve: Durations


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0-1) by linear interpolation between order statistics."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def durations(seconds: list[float]) -> Durations:
    """Median and 90th percentile of working times, in hours."""
    median, p90 = percentile(seconds, 0.5), percentile(seconds, 0.9)
    return Durations(
        count=len(seconds),
        median_hours=None if median is None else round(median / HOUR, 2),
        p90_hours=None if p90 is None else round(p90 / HOUR, 2),
    )


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def kpis(key: str, cases: Iterable[Case], now: datetime) -> UnitKpis:
    """The KPIs of ``cases`` as of ``now``."""
    cases = list(cases)
    acked = [c for c in cases if c.acknowledged_at is not None]
    resolved = [c for c in cases if c.resolved_at is not None]
    acked_on_time = sum(
        1 for c in acked if c.acknowledged_at and c.acknowledged_at <= c.acknowledge_due_at
    )
    resolved_on_time = sum(
        1 for c in resolved if c.resolved_at and c.resolved_at <= c.resolve_due_at
    )
    breaches: dict[str, int] = {}
    for case in cases:
        for breach in case.breaches:
            breaches[breach.kind] = breaches.get(breach.kind, 0) + 1
    return UnitKpis(
        key=key,
        opened=len(cases),
        open_now=sum(1 for c in cases if c.state in ACTIVE),
        overdue_now=sum(1 for c in cases if c.state in ACTIVE and _overdue(c, now)),
        acknowledged=len(acked),
        acknowledged_on_time=acked_on_time,
        resolved=len(resolved),
        resolved_on_time=resolved_on_time,
        closed=sum(1 for c in cases if c.state == "closed"),
        dismissed=sum(1 for c in cases if c.state == "dismissed"),
        escalated=sum(1 for c in cases if c.escalated_to),
        breaches=breaches,
        acknowledge_on_time_rate=_rate(acked_on_time, len(acked)),
        resolve_on_time_rate=_rate(resolved_on_time, len(resolved)),
        time_to_acknowledge=durations(
            [c.acknowledge_seconds for c in acked if c.acknowledge_seconds is not None]
        ),
        time_to_resolve=durations(
            [c.resolve_seconds for c in resolved if c.resolve_seconds is not None]
        ),
    )


def _overdue(case: Case, now: datetime) -> bool:
    if case.state == "open" and now >= case.acknowledge_due_at:
        return True
    return now >= case.resolve_due_at
