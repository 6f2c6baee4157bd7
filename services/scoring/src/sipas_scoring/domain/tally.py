"""Additive counts: what scoring keeps of the responses, and the only thing it keeps.

One :class:`Tally` per *slice* = (campaign, month bucket, unit, applicant kind,
collection mode, instrument). It holds the number of responses, the answer counts per
item and level (``"na"`` = not applicable included, blank = absent) and the *coverage*:
how many respondents gave at least one valid answer in each satisfaction element, each
aspect and the satisfaction part as a whole (the ``n`` of those figures).

Tallies only ever add up, so folding responses in any order or in any batch split gives
the same result, and every index is a pure function of tallies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, Protocol
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, StrictInt, StrictStr

from sipas_contracts.instrument import Catalogue, load_catalogue
from sipas_scoring.domain.periods import VIETNAM_OFFSET, month_bucket

Count = int | Fraction
"""Counts are integers; apportioning a split unit's history by its share makes fractions."""
NA = "na"
ALL = "*"
"""Coverage key: respondents with at least one valid satisfaction answer (SIPAS's n)."""
_LEVELS = tuple(str(code) for code in range(100))


class Countable(Protocol):
    """What counting needs of a response (a ``ResponseRecorded`` or a projection of one)."""

    @property
    def campaign_id(self) -> str: ...  # noqa: D102
    @property
    def unit(self) -> str: ...  # noqa: D102
    @property
    def applicant_kind(self) -> str: ...  # noqa: D102
    @property
    def collection_mode(self) -> str: ...  # noqa: D102
    @property
    def instrument_id(self) -> str: ...  # noqa: D102
    @property
    def occurred_at(self) -> datetime: ...  # noqa: D102
    @property
    def answers(self) -> Mapping[str, int | str]: ...  # noqa: D102


class Counted(BaseModel):
    """The fields counting needs of a response-recorded event (other fields ignored).

    Used by the rebuild for messages the live consumer has already validated in full:
    reading 6 fields instead of validating the whole event halves the decoding cost.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: UUID
    occurred_at: AwareDatetime
    campaign_id: str
    unit: str
    instrument_id: str
    collection_mode: str
    applicant_kind: str
    answers: dict[str, StrictInt | StrictStr]


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
_GROUPS: dict[tuple[str, int], GroupSets] = {}


def group_sets(catalogue: Catalogue) -> GroupSets:
    """Each element, each aspect and ``ALL`` with the satisfaction items it covers."""
    key = (catalogue.id, catalogue.revision)
    if key not in _GROUPS:
        groups: list[tuple[str, frozenset[str]]] = [
            (e.id, frozenset(e.items)) for e in catalogue.elements.values()
        ]
        for aspect in catalogue.aspects.values():
            items = {i for e in aspect.elements for i in catalogue.elements[e].items}
            groups.append((aspect.id, frozenset(items)))
        groups.append((ALL, frozenset(catalogue.satisfaction_items())))
        _GROUPS[key] = tuple(groups)
    return _GROUPS[key]


class Accumulator:
    """Counts responses fast (C-level counting of answers), then yields a :class:`Tally`."""

    __slots__ = ("coverage", "first_at", "last_at", "last_seq", "pairs", "responses")

    def __init__(self) -> None:
        self.pairs: Counter[tuple[str, int | str]] = Counter()
        self.coverage: Counter[str] = Counter()
        self.responses = 0
        self.first_at: datetime | None = None
        self.last_at: datetime | None = None
        self.last_seq = 0

    def record(
        self, answers: Mapping[str, int | str], groups: GroupSets, at: datetime, seq: int = 0
    ) -> None:
        """Count one response's answers (blank items are simply absent)."""
        at = stored_instant(at)
        self.responses += 1
        self.pairs.update(answers.items())
        valid = (
            {item for item, answer in answers.items() if answer != NA}
            if NA in answers.values()
            else set(answers)
        )
        coverage = self.coverage
        for group, items in groups:
            if not items.isdisjoint(valid):
                coverage[group] += 1
        if self.first_at is None or at < self.first_at:
            self.first_at = at
        if self.last_at is None or at > self.last_at:
            self.last_at = at
        self.last_seq = max(self.last_seq, seq)

    def tally(self) -> Tally:
        """The counts as a tally (levels as text: ``"1"``-``"5"``, ``"na"``)."""
        counts: dict[str, dict[str, Count]] = {}
        for (item, answer), n in self.pairs.items():
            level = answer if isinstance(answer, str) else _text(answer)
            counts.setdefault(item, {})[level] = n
        return Tally(
            self.responses, counts, dict(self.coverage), self.first_at, self.last_at, self.last_seq
        )


def stored_instant(at: datetime) -> datetime:
    """``at`` in UTC to the millisecond: what a stored date holds (BSON dates are ms)."""
    return at.astimezone(UTC).replace(microsecond=at.microsecond // 1000 * 1000)


def _text(code: int) -> str:
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
        :class:`Accumulator` and adding the result; without the intermediate tallies a
        consumer's batches of one or two responses would build.
        """
        self.responses += 1
        counts = self.counts
        for item, answer in answers.items():
            level = answer if isinstance(answer, str) else _text(answer)
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


Bucketing = Callable[[datetime, timedelta], str]
"""The bucket of an instant at an offset from UTC: its month (the counts) or its day."""


def slice_key(
    event: Countable, offset: timedelta = VIETNAM_OFFSET, bucket: Bucketing = month_bucket
) -> SliceKey:
    """The slice a response is counted in (its month's, or with ``day_bucket`` its day's)."""
    return SliceKey(
        campaign_id=event.campaign_id,
        bucket=bucket(event.occurred_at, offset),
        unit=event.unit,
        applicant_kind=event.applicant_kind,
        collection_mode=event.collection_mode,
        instrument_id=event.instrument_id,
    )


def fold(
    sequenced: Iterable[tuple[int, Countable]],
    offset: timedelta = VIETNAM_OFFSET,
    bucket: Bucketing = month_bucket,
) -> dict[SliceKey, Tally]:
    """Count ``(stream sequence, response)`` pairs into one tally per slice."""
    accumulators: dict[SliceKey, Accumulator] = {}
    for seq, event in sequenced:
        key = slice_key(event, offset, bucket)
        accumulator = accumulators.get(key)
        if accumulator is None:
            accumulator = accumulators[key] = Accumulator()
        groups = group_sets(load_catalogue(event.instrument_id))
        accumulator.record(event.answers, groups, event.occurred_at, seq)
    return {key: accumulator.tally() for key, accumulator in accumulators.items()}


Counting = tuple[SliceKey, "Countable", GroupSets, int]
"""One response ready to be recorded: its slice, itself, its catalogue's groups, its sequence."""


def countings(
    sequenced: Iterable[tuple[int, Countable]],
    offset: timedelta = VIETNAM_OFFSET,
    bucket: Bucketing = month_bucket,
) -> list[Counting]:
    """Each response's slice and groups, worked out before anything is counted.

    A response that cannot be counted (e.g. of an unknown instrument) stops them all.
    """
    return [
        (
            slice_key(event, offset, bucket),
            event,
            group_sets(load_catalogue(event.instrument_id)),
            seq,
        )
        for seq, event in sequenced
    ]


def merge(into: dict[SliceKey, Tally], more: Mapping[SliceKey, Tally]) -> dict[SliceKey, Tally]:
    """Add per-slice tallies ``more`` into ``into`` (in place) and return it."""
    for key, tally in more.items():
        into.setdefault(key, Tally()).add(tally)
    return into
