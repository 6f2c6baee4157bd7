"""Each unit's quota as the owner of its partition holds it in memory (issue #22).

With the dossier stream partitioned by unit (``SIPAS_PARTITIONS``), one instance at a time
decides for a unit, so its quota needs no atomic reservation in the store: the owner
counts in memory and grants at most the room left. What it counts comes from its own
decisions, hence from the decision log (rows ``[dossier_id, unit, draw, rate, outcome]``):

- ``invited``: slots its decisions took (outcome ``invited``);
- ``eligible`` and ``reachable``: what the adaptive rate learns the dossier rate from.

What other stages change (answers, lapses, and the slots a lapse frees) is ``settled``
from the store, as they record it: a value read late is lower than the true one, so the
room computed from it is smaller, never larger, than the real room. No unit passes its
quota whatever the delay.

A checkpoint (:meth:`QuotaBook.changed`) holds one natural document per campaign × unit,
written with the position it describes; after a crash, the next owner loads it and
replays the decision-log rows written after it (:meth:`QuotaBook.replay`): the counts
are the ones the dead owner had.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from sipas_sampling.domain.continuous import UnitProgress

REACHED = frozenset(
    {"not_drawn", "invited", "quota_full", "contact_unreadable", "opted_out", "contact_cap"}
)
"""Outcomes of a reachable eligible dossier (it had a usable channel and was drawn or not)."""
ELIGIBLE = REACHED | {"no_usable_contact"}
"""Outcomes of an eligible dossier (the others are exclusions and duplicate applicants)."""


@dataclass
class UnitQuota:
    """One campaign × unit: its quota and what the owner and the other stages counted."""

    quota: int | None = None
    expected_total: float | None = None
    invited: int = 0
    eligible: int = 0
    reachable: int = 0
    answered: int = 0
    lapsed: int = 0
    released: int = 0

    @property
    def reserved(self) -> int:
        """Slots held by open or answered invitations."""
        return self.invited - self.released

    def room(self, wanted: int) -> int:
        """How many of ``wanted`` invitations the quota still allows."""
        if self.quota is None:
            return wanted
        return max(0, min(wanted, self.quota - self.reserved))

    def progress(self) -> UnitProgress:
        """What the adaptive rate reads."""
        return UnitProgress(
            quota=self.quota,
            reserved=self.reserved,
            answered=self.answered,
            lapsed=self.lapsed,
            reachable=self.reachable,
            expected_total=self.expected_total,
        )


_OWN = ("quota", "expected_total", "invited", "eligible", "reachable")
"""The fields a checkpoint holds (the others are settled from the store again)."""


class QuotaBook:
    """The quotas of the units one owner decides for, with what changed since a checkpoint."""

    def __init__(self) -> None:
        self._units: dict[tuple[str, str], UnitQuota] = {}
        self._changed: set[tuple[str, str]] = set()

    def unit(self, campaign: str, unit: str) -> UnitQuota:
        """The unit's quota (unlimited and untouched if nothing was said of it)."""
        return self._units.get((campaign, unit)) or UnitQuota()

    def _edit(self, campaign: str, unit: str) -> UnitQuota:
        self._changed.add((campaign, unit))
        return self._units.setdefault((campaign, unit), UnitQuota())

    def set_quota(
        self, campaign: str, unit: str, quota: int | None, expected_total: float | None = None
    ) -> None:
        """The campaign's allocation for the unit (as the campaign store holds it)."""
        held = self._edit(campaign, unit)
        held.quota, held.expected_total = quota, expected_total

    def settled(
        self, campaign: str, unit: str, *, answered: int, lapsed: int, released: int
    ) -> None:
        """What the other stages recorded for the unit, as the store holds it now."""
        held = self._units.setdefault((campaign, unit), UnitQuota())
        held.answered, held.lapsed, held.released = answered, lapsed, released

    def seen(self, campaign: str, unit: str, *, eligible: int, reachable: int) -> None:
        """A batch's eligible and reachable dossiers of the unit."""
        if eligible or reachable:
            held = self._edit(campaign, unit)
            held.eligible += eligible
            held.reachable += reachable

    def reserve(self, campaign: str, unit: str, wanted: int) -> int:
        """Take up to ``wanted`` slots; returns how many the quota allowed."""
        granted = self.unit(campaign, unit).room(wanted)
        if granted:
            self._edit(campaign, unit).invited += granted
        return granted

    def replay(self, campaign: str, rows: Iterable[list[Any]]) -> None:
        """Count decision-log rows again (those written after the loaded checkpoint)."""
        for _dossier, unit, _draw, _rate, outcome in rows:
            self.seen(campaign, unit, eligible=outcome in ELIGIBLE, reachable=outcome in REACHED)
            if outcome == "invited":
                self._edit(campaign, unit).invited += 1

    def changed(self) -> list[dict[str, Any]]:
        """The documents of the units changed since the last :meth:`saved` (one each)."""
        return [self._document(c, u) for c, u in sorted(self._changed)]

    def all_documents(self) -> list[dict[str, Any]]:
        """Every unit's document (after a store that may have lost some)."""
        return [self._document(c, u) for c, u in sorted(self._units)]

    def _document(self, campaign: str, unit: str) -> dict[str, Any]:
        held = asdict(self._units[campaign, unit])
        own = {name: held[name] for name in _OWN}
        return {"_id": f"{campaign}|{unit}", "campaign": campaign, "unit": unit, **own}

    def saved(self, documents: Iterable[Mapping[str, Any]]) -> None:
        """These documents are stored: units changed after them stay to be written."""
        for doc in documents:
            key = (doc["campaign"], doc["unit"])
            held = self._units.get(key)
            if held is not None and all(getattr(held, n) == doc[n] for n in _OWN):
                self._changed.discard(key)

    def load(self, documents: Iterable[Mapping[str, Any]]) -> None:
        """Replace the book by a checkpoint's documents."""
        self._units.clear()
        self._changed.clear()
        known = {f.name for f in fields(UnitQuota)}
        for doc in documents:
            values = {k: v for k, v in doc.items() if k in known}
            self._units[doc["campaign"], doc["unit"]] = UnitQuota(**values)
