"""How the index loop reads the unit figures of a round one unit at a time (no I/O).

A round sends each unit's whole-campaign figure as soon as it is computed from the counts
as they stand, rather than all of them after computing them all: a response folded while
the round is under way is in its unit's figure if it was folded before that unit was read.

- :class:`Cadence` keeps each subject's reads at least ``interval`` apart (so at most one
  event per subject per interval, by the time it was read and handed to the publisher).
- :class:`LeafView` is what a round works out once per campaign (instrument, hierarchy
  date, previous figures, the slices of each unit); it stands as long as the campaign's
  slices are the same ones, and is worked out again when a fold adds one.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

from sipas_scoring.domain.indices import Figure
from sipas_scoring.domain.tally import SliceKey, Tally
from sipas_scoring.index_events import Scope


class Cadence:
    """When a subject may next be read: at least ``interval`` after its previous read."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._read: dict[Hashable, float] = {}

    def wait(self, key: Hashable, now: float) -> float:
        """Seconds until ``key`` may be read (0.0: now)."""
        last = self._read.get(key)
        return 0.0 if last is None else max(0.0, last + self._interval - now)

    def read(self, key: Hashable, now: float) -> None:
        """``key`` was read at ``now``."""
        self._read[key] = now

    def forget_due(self, now: float) -> None:
        """Drop the subjects that may be read already (they need no record)."""
        horizon = now - self._interval
        self._read = {k: t for k, t in self._read.items() if t > horizon}


def by_unit(tallies: Mapping[SliceKey, Tally]) -> dict[str, list[SliceKey]]:
    """The slices of each unit, in the order of ``tallies``."""
    out: dict[str, list[SliceKey]] = {}
    for key in tallies:
        out.setdefault(key.unit, []).append(key)
    return out


@dataclass
class LeafView:
    """One campaign's scope for a round's unit figures, while its slices stay the same."""

    tallies: Mapping[SliceKey, Tally]
    scope: Scope
    previous: dict[str, Figure]
    label: str | None
    size: int = 0
    units: dict[str, list[SliceKey]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.size = len(self.tallies)
        self.units = by_unit(self.tallies)

    def holds(self, tallies: Mapping[SliceKey, Tally]) -> bool:
        """Whether ``tallies`` are still the slices this view was worked out from.

        Slices are only ever added to a campaign's counts (a cleared state is a new
        mapping), so the same mapping with as many slices holds the same ones.
        """
        return tallies is self.tallies and len(tallies) == self.size

    def slices(self, unit: str) -> dict[SliceKey, Tally]:
        """The unit's slices, as they stand now."""
        return {key: self.tallies[key] for key in self.units.get(unit, ())}
