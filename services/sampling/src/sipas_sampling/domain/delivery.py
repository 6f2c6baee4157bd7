"""When and through which channel an invitation goes out: quiet hours, retries, fallback.

The dispatcher sends through the invitation's current channel and applies :func:`next_step`
to the outcome: ``sent`` → done (reminders scheduled); ``retryable`` → try the same channel
again later with exponential backoff, at most ``MAX_ROUNDS`` times, then fall back;
``permanent`` → fall back to the next channel at once; ``unknown`` → never resend blindly
(it could reach the person twice): wait ``UNKNOWN_GRACE`` for a delivery report, then fall
back. No channel left → ``undeliverable`` (the slot is released, or a reserve substitutes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Literal

from sipas_sampling.domain.outreach import QuietHours

MAX_ROUNDS = 5
BASE_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=2)
UNKNOWN_GRACE = timedelta(hours=1)
Outcome = Literal["sent", "retryable", "permanent", "unknown"]
Action = Literal["sent", "retry", "fallback", "await_report", "undeliverable"]


def in_quiet_hours(moment: datetime, quiet: QuietHours | None, zone: tzinfo) -> bool:
    """Whether ``moment`` falls in the quiet period (which may wrap midnight)."""
    if quiet is None:
        return False
    now = moment.astimezone(zone).time()
    if quiet.start <= quiet.end:
        return quiet.start <= now < quiet.end
    return now >= quiet.start or now < quiet.end


def next_allowed(moment: datetime, quiet: QuietHours | None, zone: tzinfo) -> datetime:
    """``moment`` itself, or the end of the quiet period it falls in."""
    if not in_quiet_hours(moment, quiet, zone):
        return moment
    assert quiet is not None  # in_quiet_hours is False without quiet hours
    local = moment.astimezone(zone)
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(moment.tzinfo)


def backoff(rounds: int) -> timedelta:
    """Wait before retry round ``rounds`` (1, 2, ...): doubling from one minute, capped."""
    return min(MAX_BACKOFF, BASE_BACKOFF * (1 << min(max(0, rounds - 1), 16)))


@dataclass(frozen=True)
class Step:
    """What to do after one send: the action, the channel index and when to act next."""

    action: Action
    channel_index: int
    at: datetime | None = None
    rounds: int = 0


def next_step(
    outcome: Outcome,
    *,
    channels: Sequence[str],
    index: int,
    rounds: int,
    now: datetime,
    retry_after: float | None = None,
) -> Step:
    """The invitation's next step after ``outcome`` on ``channels[index]``."""
    if outcome == "sent":
        return Step("sent", index)
    if outcome == "unknown":
        return Step("await_report", index, now + UNKNOWN_GRACE, rounds)
    if outcome == "retryable" and rounds + 1 < MAX_ROUNDS:
        wait = timedelta(seconds=retry_after) if retry_after else backoff(rounds + 1)
        return Step("retry", index, now + wait, rounds + 1)
    return fallback(channels, index, now)


def fallback(channels: Sequence[str], index: int, now: datetime) -> Step:
    """Move to the next channel, or give up when none is left."""
    if index + 1 < len(channels):
        return Step("fallback", index + 1, now, 0)
    return Step("undeliverable", index)


def reminder_times(sent_at: datetime, reminder_days: Sequence[int]) -> list[datetime]:
    """When reminders are due after the first successful send."""
    return [sent_at + timedelta(days=d) for d in reminder_days]
