"""Rules on invitation and response counts per unit and day (evaluated on a schedule).

Responses arrive days after their invitation, so both rules leave people time to answer:

- *silent unit*: at least ``min_invitations`` invitations went out between ``days`` and
  ``grace_days`` days ago, and not one response arrived in the last ``days`` days;
- *response-rate collapse*: responses / invitations over the last ``window_days`` (ending
  ``lag_days`` ago) fell by more than ``max_relative_drop`` versus the window before, and a
  two-proportion z-test says the fall is not noise (z > 1.96, 95%).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sipas_alerts.domain.alerts import Hit
from sipas_alerts.domain.policy import ResponseRateRule, RuleSet, SilenceRule
from sipas_alerts.domain.windows import window_key
from sipas_contracts.ids import uuid7_for

Z_95 = 1.96


@dataclass(frozen=True)
class DayCount:
    """Invitations sent and responses recorded for one unit on one day."""

    invitations: int = 0
    responses: int = 0


def _sum(counts: Mapping[date, DayCount], first: date, last: date) -> DayCount:
    days = [c for d, c in counts.items() if first <= d <= last]
    return DayCount(sum(c.invitations for c in days), sum(c.responses for c in days))


def lookback_days(rules: RuleSet) -> int:
    """How many past days the activity rules read."""
    rate = rules.response_rate_collapse
    return max(rules.silent_unit.days, rate.lag_days + 2 * rate.window_days) + 1


def evaluate_activity(
    campaign_id: str,
    unit: str,
    counts: Mapping[date, DayCount],
    *,
    today: date,
    tz: tzinfo,
    rules: RuleSet,
) -> list[Hit]:
    """Activity hits for one (campaign, unit) as of ``today`` (local date).

    The hits are dated at the start of ``today``, so evaluating again on the same day
    gives the same alert ids (one alert per rule, unit and day).
    """
    at = datetime.combine(today, time(0), tzinfo=tz)
    where = _Where(campaign_id, unit, today, at)
    hits: list[Hit] = []
    silence = rules.silent_unit
    if silence.enabled and is_silent(counts, today, silence):
        invited = _sum(counts, today - timedelta(days=silence.days), today).invitations
        summary = (
            f"{invited} lời mời trong {silence.days} ngày qua nhưng không có phản hồi nào.",
            f"{invited} invitations in the last {silence.days} days but no response.",
        )
        details: dict[str, str | int | float | None] = {"invitations": invited}
        hits.append(_hit("silent_unit", where, rule=silence, summary=summary, details=details))
    rate = rules.response_rate_collapse
    collapse = rate_collapse(counts, today, rate) if rate.enabled else None
    if collapse is not None:
        before, now = collapse
        summary = (
            f"Tỷ lệ phản hồi giảm từ {before:.0%} xuống {now:.0%}.",
            f"Response rate fell from {before:.0%} to {now:.0%}.",
        )
        details = {"rate_before": round(before, 4), "rate_now": round(now, 4)}
        hits.append(
            _hit("response_rate_collapse", where, rule=rate, summary=summary, details=details)
        )
    return hits


def is_silent(counts: Mapping[date, DayCount], today: date, rule: SilenceRule) -> bool:
    """Invitations old enough to be answered, and no response at all in the period."""
    first = today - timedelta(days=rule.days)
    invited = _sum(counts, first, today - timedelta(days=rule.grace_days)).invitations
    answered = _sum(counts, first, today).responses
    return invited >= rule.min_invitations and answered == 0


def rate_collapse(
    counts: Mapping[date, DayCount], today: date, rule: ResponseRateRule
) -> tuple[float, float] | None:
    """(rate before, rate now) when the rate collapsed significantly, else None."""
    end_now = today - timedelta(days=rule.lag_days)
    start_now = end_now - timedelta(days=rule.window_days - 1)
    now = _sum(counts, start_now, end_now)
    before = _sum(
        counts, start_now - timedelta(days=rule.window_days), start_now - timedelta(days=1)
    )
    if min(now.invitations, before.invitations) < rule.min_invitations:
        return None
    rate_now = min(now.responses, now.invitations) / now.invitations
    rate_before = min(before.responses, before.invitations) / before.invitations
    if rate_before == 0 or rate_now >= rate_before * (1 - rule.max_relative_drop):
        return None
    if z_score(rate_before, before.invitations, rate_now, now.invitations) <= Z_95:
        return None
    return rate_before, rate_now


def z_score(p1: float, n1: int, p2: float, n2: int) -> float:
    """Two-proportion z statistic of p1 > p2 (pooled standard error)."""
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return math.inf if se == 0 else (p1 - p2) / se


@dataclass(frozen=True)
class _Where:
    campaign_id: str
    unit: str
    today: date
    at: datetime


def _hit(
    rule_id: str,
    where: _Where,
    *,
    rule: SilenceRule | ResponseRateRule,
    summary: tuple[str, str],
    details: dict[str, str | int | float | None],
) -> Hit:
    key = f"activity:{rule_id}:{where.campaign_id}:{where.unit}:{where.today}"
    return Hit(
        rule=rule_id,
        severity="warning",
        unit=where.unit,
        campaign_id=where.campaign_id,
        window=window_key(where.today, rule.window),
        occurred_at=where.at,
        source_event_id=uuid7_for(key, where.at),
        summary_vi=summary[0],
        summary_en=summary[1],
        details={"day": where.today.isoformat(), **details},
    )
