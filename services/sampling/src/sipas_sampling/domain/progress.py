"""A batch campaign's progress per unit, and every campaign's delivery per channel.

A continuous campaign keeps a quota document per unit as it decides; a batch campaign has
none: its allocation is the draw (official quota per unit and kind) and its progress is
what happened to the invitations the draw and the substitutions created. These functions
turn the draw's quotas, the population and invitation counts into the same unit rows the
continuous campaigns have, plus what only a draw has (reserve list, substitutions).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ANSWERED = "answered"
LAPSED = "lapsed"
SUBSTITUTED = "substituted"
# An invitation in one of these states no longer holds a place on the list.
RELEASED = frozenset({LAPSED, SUBSTITUTED, "undeliverable", "closed", "shredded"})
_COUNTED = ("invited", "reserved", ANSWERED, LAPSED, SUBSTITUTED)


@dataclass(frozen=True)
class InvitationCount:
    """How many invitations of a unit and list are in a state, on a channel."""

    unit: str
    draw_list: str
    channel: str
    state: str
    n: int


def batch_units(
    *,
    eligible: Mapping[str, int],
    draw: Mapping[str, Any] | None,
    invitations: Iterable[InvitationCount],
) -> list[dict[str, Any]]:
    """One row per unit: population, quota, list sizes and invitation outcomes.

    Before the draw only ``eligible`` is known; the quota and list sizes come from the
    draw's export (``quotas``, ``lists``) and ``reachable`` from its frozen population
    (eligible and not opted out of every channel).
    """
    export = (draw or {}).get("export") or {}
    quotas: Mapping[str, Mapping[str, int]] = (export.get("lists") or {}).get("quotas") or {}
    lists: Mapping[str, Mapping[str, Any]] = (export.get("lists") or {}).get("lists") or {}
    population: Mapping[str, Mapping[str, list[str]]] = export.get("population") or {}
    counted: dict[str, dict[str, int]] = {}
    for count in invitations:
        row = counted.setdefault(count.unit, dict.fromkeys(_COUNTED, 0))
        row["invited"] += count.n
        row["reserved"] += 0 if count.state in RELEASED else count.n
        for state in (ANSWERED, LAPSED, SUBSTITUTED):
            row[state] += count.n if count.state == state else 0
    units = sorted(set(eligible) | set(quotas) | set(counted))
    drawn = draw is not None
    return [
        {
            "unit": unit,
            "quota": sum(quotas.get(unit, {}).values()) if drawn else None,
            "eligible": eligible.get(unit, 0),
            "reachable": sum(map(len, population.get(unit, {}).values())) if drawn else None,
            "reserve": sum(len(s.get("reserve", ())) for s in lists.get(unit, {}).values())
            if drawn
            else None,
            **counted.get(unit, dict.fromkeys(_COUNTED, 0)),
        }
        for unit in units
    ]


def delivery(invitations: Iterable[InvitationCount]) -> dict[str, dict[str, int]]:
    """Invitations by their current channel and state (what the dispatcher did so far)."""
    out: dict[str, dict[str, int]] = {}
    for count in invitations:
        states = out.setdefault(count.channel, {})
        states[count.state] = states.get(count.state, 0) + count.n
    return {channel: dict(sorted(states.items())) for channel, states in sorted(out.items())}


def total_quota(units: Iterable[Mapping[str, Any]]) -> int | None:
    """The sum of the units' quotas; None when no unit has one (no limit, or not drawn)."""
    quotas = [u["quota"] for u in units if u.get("quota") is not None]
    return sum(quotas) if quotas else None
