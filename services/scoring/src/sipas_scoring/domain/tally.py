"""Additive counts: what scoring keeps of the responses, and the only thing it keeps.

One :class:`Tally` per *slice* = (campaign, month bucket, unit, applicant kind,
collection mode, instrument). It holds the number of responses, the answer counts per
item and level (``"na"`` = not applicable included, blank = absent) and the *coverage*:
how many respondents gave at least one valid answer in each satisfaction element, each
aspect and the satisfaction part as a whole (the ``n`` of those figures).

Tallies only ever add up, so folding responses in any order or in any batch split gives
the same result, and every index is a pure function of tallies. How a response is
counted (its slice, its catalogue's groups, a fold of many) is ``domain.counting``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

Count = int | Fraction
"""Counts are integers; apportioning a split unit's history by its share makes fractions."""
NA = "na"
ALL = "*"
"""Coverage key: respondents with at least one valid satisfaction answer (SIPAS's n)."""
_LEVELS = tuple(str(code) for code in range(100))


@dataclass(frozen=True, order=True)
class SliceKey:
    """Where a response is counted."""

    campaign_id: str
    bucket: str
    unit: str
    applicant_kind: str
    collection_mode: str
    instrument_id: str

    @property
    def slice_id(self) -> str:
        """A stable string id of the slice."""
        return (
            f"{self.campaign_id}|{self.bucket}|{self.unit}|{self.applicant_kind}|"
            f"{self.collection_mode}|{self.instrument_id}"
        )


GroupSets = tuple[tuple[str, frozenset[str]], ...]
"""Each element, each aspect and ``ALL`` with the items it covers (``counting.group_sets``)."""


def stored_instant(at: datetime) -> datetime:
    """``at`` in UTC to the millisecond: what a stored date holds (BSON dates are ms)."""
    return at.astimezone(UTC).replace(microsecond=at.microsecond // 1000 * 1000)


def level_text(code: int) -> str:
    """An answer code as a tally's level key (``"1"``-``"5"``)."""
    return _LEVELS[code] if 0 <= code < len(_LEVELS) else str(code)


@dataclass
class Tally:
    """Additive counts of one slice (or of any sum of slices)."""

    responses: Count = 0
    counts: dict[str, dict[str, Count]] = field(default_factory=dict)
    coverage: dict[str, Count] = field(default_factory=dict)
    first_at: datetime | None = None
    last_at: datetime | None = None
    last_seq: int = 0

    def _span(self, first: datetime | None, last: datetime | None, seq: int) -> None:
        if first is not None and (self.first_at is None or first < self.first_at):
            self.first_at = first
        if last is not None and (self.last_at is None or last > self.last_at):
            self.last_at = last
        self.last_seq = max(self.last_seq, seq)

    def add(self, other: Tally) -> Tally:
        """Add ``other`` into this tally (in place) and return it."""
        self.responses += other.responses
        counts = self.counts
        for item, levels in other.counts.items():
            mine = counts.get(item)
            if mine is None:
                counts[item] = dict(levels)
                continue
            for level, n in levels.items():
                mine[level] = mine.get(level, 0) + n
        coverage = self.coverage
        for group, n in other.coverage.items():
            coverage[group] = coverage.get(group, 0) + n
        self._span(other.first_at, other.last_at, other.last_seq)
        return self

    def record(
        self, answers: Mapping[str, int | str], groups: GroupSets, at: datetime, seq: int
    ) -> None:
        """Count one response straight into this tally (in place).

        The same counts, in the same order of items and levels, as folding it with
        :class:`~sipas_scoring.domain.counting.Accumulator` and adding
        the result; without the intermediate tallies a
        consumer's batches of one or two responses would build.
        """
        self.responses += 1
        counts = self.counts
        for item, answer in answers.items():
            level = answer if isinstance(answer, str) else level_text(answer)
            levels = counts.get(item)
            if levels is None:
                counts[item] = {level: 1}
            else:
                levels[level] = levels.get(level, 0) + 1
        valid = (
            {item for item, answer in answers.items() if answer != NA}
            if NA in answers.values()
            else answers.keys()
        )
        coverage = self.coverage
        for group, items in groups:
            if not items.isdisjoint(valid):
                coverage[group] = coverage.get(group, 0) + 1
        at = stored_instant(at)
        self._span(at, at, seq)

    def scaled(self, share: Fraction) -> Tally:
        """A copy apportioned by ``share`` (a split unit's part of its history)."""
        return Tally(
            responses=self.responses * share,
            counts={i: {lv: n * share for lv, n in ls.items()} for i, ls in self.counts.items()},
            coverage={g: n * share for g, n in self.coverage.items()},
            first_at=self.first_at,
            last_at=self.last_at,
            last_seq=self.last_seq,
        )

    def canonical(self) -> dict[str, Any]:
        """A JSON-ready, key-sorted form (fractions as ``"p/q"``) for digests and diffs."""

        def number(n: Count) -> int | str:
            return n if isinstance(n, int) else str(n)

        return {
            "responses": number(self.responses),
            "counts": {
                item: {lv: number(n) for lv, n in sorted(levels.items()) if n}
                for item, levels in sorted(self.counts.items())
                if any(levels.values())
            },
            "coverage": {g: number(n) for g, n in sorted(self.coverage.items()) if n},
            "first_at": self.first_at.isoformat() if self.first_at else None,
            "last_at": self.last_at.isoformat() if self.last_at else None,
            "last_seq": self.last_seq,
        }


def total(tallies: Iterable[Tally]) -> Tally:
    """The sum of several tallies (a new object)."""
    out = Tally()
    for tally in tallies:
        out.add(tally)
    return out
