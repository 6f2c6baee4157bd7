"""Continuous mode: decide on each completed dossier, verifiably, against an adaptive rate.

``draw(seed, dossier_id)`` is a number in [0, 1) from SHA-256, so anyone holding the
published seed recomputes it. A dossier is drawn when its number is below the unit's
rate at that moment. The rate tracks what is left to collect::

    need     = quota - answered - r̂ · outstanding        (forms still to win)
    expected = dossier rate · time left in the window   (reachable eligible dossiers to come)
    rate     = clamp(need / (r̂ · expected), 0, 1)

with r̂ the response rate observed so far (shrunk towards the campaign's prior) and the
dossier rate observed so far (shrunk towards the allocation basis). The hard guarantee is
separate: capacity is *reserved* atomically per invitation (``quota`` slots, each held by
an open or answered invitation, released when an invitation lapses), so concurrent
decisions never push a unit past its quota.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

_SCALE = float(1 << 64)
PRIOR_RESPONSES = 20.0
PRIOR_DAYS = 7.0
_DAY = timedelta(days=1).total_seconds()


def draw(seed: str, dossier_id: str) -> float:
    """The dossier's verifiable random number in [0, 1) for this campaign seed."""
    digest = hashlib.sha256(f"{seed}\x1f{dossier_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


@dataclass(frozen=True)
class UnitProgress:
    """What a unit has done so far in a campaign (from the quota document)."""

    quota: int | None
    reserved: int = 0
    answered: int = 0
    lapsed: int = 0
    reachable: int = 0
    expected_total: float | None = None


def response_rate(progress: UnitProgress, prior: float) -> float:
    """Observed share of resolved invitations that were answered, shrunk towards ``prior``."""
    resolved = progress.answered + progress.lapsed
    return (progress.answered + prior * PRIOR_RESPONSES) / (resolved + PRIOR_RESPONSES)


def adaptive_rate(
    progress: UnitProgress,
    *,
    at: datetime,
    start: datetime,
    end: datetime,
    prior_response_rate: float,
) -> float:
    """The inclusion probability for the unit's next reachable dossier (see module doc)."""
    if progress.quota is None:
        return 1.0
    r = response_rate(progress, prior_response_rate)
    outstanding = progress.reserved - progress.answered
    need = progress.quota - progress.answered - r * outstanding
    if need <= 0 or progress.reserved >= progress.quota:
        return 0.0
    window_days = max((end - start).total_seconds() / _DAY, 1e-9)
    elapsed = min(max((at - start).total_seconds() / _DAY, 0.0), window_days)
    left = window_days - elapsed
    prior_per_day = (progress.expected_total or 0.0) / window_days
    if progress.expected_total is None and elapsed <= 0:
        return 1.0  # nothing known yet: take the first ones, the rate adapts from here
    per_day = (progress.reachable + prior_per_day * PRIOR_DAYS) / (elapsed + PRIOR_DAYS)
    expected = per_day * left
    if expected <= 0:
        return 1.0
    return min(1.0, max(0.0, need / (r * expected)))


@dataclass(frozen=True)
class Decision:
    """Whether a dossier is invited in one campaign, and why (for the audit log)."""

    outcome: str
    draw: float
    rate: float

    @property
    def drawn(self) -> bool:
        """The draw fell below the rate (a slot must still be reserved)."""
        return self.outcome == "drawn"


def decide(seed: str, dossier_id: str, rate: float) -> Decision:
    """Drawn when ``draw(seed, dossier_id) < rate``; otherwise ``not_drawn``."""
    value = draw(seed, dossier_id)
    return Decision("drawn" if value < rate else "not_drawn", value, rate)


def verify_decision(seed: str, dossier_id: str, value: float, rate: float, outcome: str) -> str:
    """An empty string when a logged decision is consistent, else what is wrong."""
    expected = draw(seed, dossier_id)
    if expected != value:
        return f"draw {value!r} differs from the recomputed {expected!r}"
    if outcome in {"invited", "quota_full", "drawn"} and not value < rate:
        return f"outcome {outcome} but draw {value} is not below rate {rate}"
    if outcome == "not_drawn" and value < rate:
        return f"not drawn but draw {value} is below rate {rate}"
    return ""


RATE_COUNTERS = ("eligible", "reachable", "invited")
"""What a unit's rates are estimated from: dossiers seen, of them reachable, invited."""


def granted_slots(
    progress: Mapping[str, UnitProgress], wanted: Mapping[str, int]
) -> dict[str, int]:
    """Slots each unit gets: all it wants without a quota, else at most what its quota leaves."""
    granted: dict[str, int] = {}
    for unit, n in wanted.items():
        current = progress.get(unit)
        if current is None or current.quota is None:
            granted[unit] = n  # no quota: nothing to reserve against
        else:
            granted[unit] = max(0, min(n, current.quota - current.reserved))
    return granted


def reservations(
    progress: Mapping[str, UnitProgress], granted: Mapping[str, int]
) -> dict[str, tuple[int, int]]:
    """Per unit with a quota that is granted slots: (``reserved`` as read, slots to add).

    A reservation is written only if ``reserved`` is still what was read (no unit can pass its
    quota when instances decide at once).
    """
    found: dict[str, tuple[int, int]] = {}
    for unit, n in granted.items():
        current = progress.get(unit)
        if n and current is not None and current.quota is not None:
            found[unit] = (current.reserved, n)
    return found


def rate_counts(
    seen: Mapping[str, tuple[int, int]], granted: Mapping[str, int]
) -> dict[str, dict[str, int]]:
    """Per unit, what a batch adds to the rate counters: eligible and reachable seen, invited."""
    return {
        unit: dict(zip(RATE_COUNTERS, (*seen.get(unit, (0, 0)), granted.get(unit, 0)), strict=True))
        for unit in set(seen) | set(granted)
    }
