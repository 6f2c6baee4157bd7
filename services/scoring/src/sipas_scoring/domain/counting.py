"""How a response is counted: its slice, its catalogue's groups, folded into tallies.

:func:`fold` counts many responses at once (the rebuild, tests) through an
:class:`Accumulator` per slice; :func:`countings` prepares a consumer's batch for
``Tally.record`` (``sipas_scoring.counts``), which counts the same in the same order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, StrictInt, StrictStr

from sipas_contracts.instrument import Catalogue, load_catalogue
from sipas_scoring.domain.periods import VIETNAM_OFFSET, month_bucket
from sipas_scoring.domain.tally import (
    ALL,
    NA,
    Count,
    GroupSets,
    SliceKey,
    Tally,
    level_text,
    stored_instant,
)


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
            level = answer if isinstance(answer, str) else level_text(answer)
            counts.setdefault(item, {})[level] = n
        return Tally(
            self.responses, counts, dict(self.coverage), self.first_at, self.last_at, self.last_seq
        )


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
