"""The exact set of stream sequences a sequence-mode consumer has applied.

A single "highest sequence applied" watermark is not enough: JetStream redelivers a
message that failed before its effect committed only after ``ack_wait``, and meanwhile
hands out later messages. If a later one commits first, the max moves past the failed
one, which would then be skipped as a replay and lost. So the consumer keeps

- ``seq`` (the *floor*): every sequence up to it is applied (so in-order processing
  stores just ``{seq: N}``), and
- ``ranges``: the applied ``[first, last]`` ranges above the floor, usually none; one
  appears only while a redelivery is pending or when a message was dead-lettered.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class AppliedSequences:
    """Floor plus sorted, disjoint, non-adjacent ranges above it."""

    floor: int = 0
    ranges: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def from_document(cls, document: Mapping[str, Any] | None) -> AppliedSequences:
        """Read the stored form (absent document = nothing applied)."""
        if not document:
            return cls()
        ranges = [(int(a), int(b)) for a, b in document.get("ranges") or []]
        return cls(int(document.get("seq", 0)), sorted(ranges))

    def document(self) -> dict[str, Any]:
        """The stored form: ``{seq: floor, ranges: [[a, b], ...], max: highest}``."""
        return {"seq": self.floor, "ranges": [list(r) for r in self.ranges], "max": self.highest}

    def condition(self) -> dict[str, Any]:
        """A query matching a stored document that holds exactly this set."""
        return {"seq": self.floor, "ranges": [list(r) for r in self.ranges]}

    @property
    def highest(self) -> int:
        """The highest sequence applied."""
        return self.ranges[-1][1] if self.ranges else self.floor

    def __contains__(self, seq: object) -> bool:
        if not isinstance(seq, int):
            return False
        if seq <= self.floor:
            return True
        i = bisect.bisect_right(self.ranges, (seq, seq)) - 1
        if i >= 0 and self.ranges[i][0] <= seq <= self.ranges[i][1]:
            return True
        return i + 1 < len(self.ranges) and self.ranges[i + 1][0] == seq

    def add(self, seqs: Iterable[int]) -> None:
        """Record sequences as applied (merging ranges, raising the floor)."""
        for seq in sorted(set(seqs)):
            if seq in self:
                continue
            self.ranges.append((seq, seq))
        self._merge()

    def add_range(self, first: int, last: int) -> None:
        """Record every sequence from ``first`` to ``last`` as applied."""
        if first <= last:
            self.ranges.append((max(first, 1), last))
            self._merge()

    def _merge(self) -> None:
        self.ranges.sort()
        merged: list[tuple[int, int]] = []
        for first, last in self.ranges:
            if merged and first <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], last))
            else:
                merged.append((first, last))
        while merged and merged[0][0] <= self.floor + 1:
            self.floor = max(self.floor, merged.pop(0)[1])
        self.ranges = merged

    def missing(self, upto: int) -> list[tuple[int, int]]:
        """Sequence ranges at or below ``upto`` that are *not* applied."""
        gaps: list[tuple[int, int]] = []
        start = self.floor + 1
        for first, last in self.ranges:
            if first > upto:
                break
            if first > start:
                gaps.append((start, min(first - 1, upto)))
            start = last + 1
        if start <= upto:
            gaps.append((start, upto))
        return gaps
