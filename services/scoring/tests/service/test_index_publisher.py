"""The index loop with in-memory stand-ins for its stores and publisher."""

from __future__ import annotations

import contextlib
from typing import Any

from prometheus_client import CollectorRegistry

from sipas_contracts.units import load_sample_hierarchy
from sipas_scoring.domain.profile import CampaignProfile
from sipas_scoring.domain.tally import SliceKey, Tally, fold
from sipas_scoring.metrics import ScoringMetrics
from sipas_scoring.settings import Settings
from sipas_scoring.testing import C2640, answers_for, resp
from sipas_scoring.updates import IndexPublisher


class InMemoryAggregates:
    def __init__(self) -> None:
        self.slices: dict[SliceKey, tuple[int, Tally]] = {}
        self.commit = 0
        self.mark = 0
        self.reads = 0
        self.visible: int | None = None
        self.newest_on_read = False

    def apply(self, events: list[Any]) -> None:
        self.commit += 1
        for key, tally in fold(enumerate(events, start=self.commit * 100)).items():
            old = self.slices.get(key, (0, Tally()))[1]
            self.slices[key] = (self.commit, Tally().add(old).add(tally))

    async def publisher_mark(self) -> int:
        return self.mark

    async def save_publisher_mark(self, through: int) -> None:
        self.mark = max(self.mark, through)

    async def last_commit(self) -> int:
        self.reads += 1
        return self.commit if self.visible is None else self.visible

    async def changed(self, after: int, upto: int) -> dict[SliceKey, Tally]:
        self.reads += 1
        if self.newest_on_read:  # a document re-read by id may be newer than ``upto``
            return {k: t for k, (c, t) in self.slices.items() if after < c}
        return {k: t for k, (c, t) in self.slices.items() if after < c <= upto}

    def state(self, commit: int) -> dict[SliceKey, Tally]:
        """The slices a batch numbered ``commit`` wrote, as the consumer hands them over."""
        return {k: t for k, (c, t) in self.slices.items() if c == commit}

    async def tallies(self, campaign_id: str | None = None) -> dict:
        return {k: t for k, (_, t) in self.slices.items() if k.campaign_id == campaign_id}


class Profiles:
    async def get_or_default(self, campaign_id: str) -> CampaignProfile:
        return CampaignProfile(campaign_id=campaign_id, n_min_item=1, n_min_unit=1)


class FlakyPublisher:
    def __init__(self, failures: int, *, fail_from_call: int = 1) -> None:
        self.failures = failures
        self.fail_from_call = fail_from_call
        self.calls: list[list[Any]] = []
        self.published: list[Any] = []

    async def publish_many(self, events: list[Any]) -> None:
        self.calls.append(list(events))
        if self.failures and len(self.calls) >= self.fail_from_call:
            self.failures -= 1
            msg = "NATS unavailable"
            raise ConnectionError(msg)
        self.published.extend(events)


def publisher_for(
    aggregates: InMemoryAggregates, sink: FlakyPublisher, *, rollup_interval: float = 0.001
) -> IndexPublisher:
    return IndexPublisher(
        aggregates=lambda: aggregates,  # type: ignore[arg-type,return-value]
        profiles=Profiles,  # type: ignore[arg-type]
        publisher=lambda: sink,  # type: ignore[arg-type,return-value]
        hierarchy=load_sample_hierarchy(),
        settings=Settings(rollup_interval=rollup_interval),
        metrics=ScoringMetrics(CollectorRegistry()),
    )


async def test_a_failed_publication_is_retried_next_round_with_nothing_lost():
    aggregates, sink = InMemoryAggregates(), FlakyPublisher(failures=1)
    index = publisher_for(aggregates, sink)
    aggregates.apply([resp(answers_for(C2640, 5), unit="ht-nx-co-dam")])

    with contextlib.suppress(ConnectionError):
        await index.tick()
    published = await index.tick()

    assert published > 0
    subjects = {(e.unit, e.period) for e in sink.published}
    assert ("ht-nx-co-dam", "campaign") in subjects
    assert ("ht", "campaign") in subjects  # the roll-up too
    assert ("ht-nx-co-dam", "2026-11") in subjects
    assert aggregates.mark == aggregates.commit


async def test_nothing_changed_means_nothing_published():
    aggregates, sink = InMemoryAggregates(), FlakyPublisher(failures=0)
    index = publisher_for(aggregates, sink)
    aggregates.apply([resp(answers_for(C2640, 4), unit="ht-nx-co-dam")])
    await index.tick()
    count = len(sink.published)

    assert await index.tick() == 0
    assert len(sink.published) == count


async def test_unit_figures_go_out_before_roll_ups_and_a_failed_roll_up_waits_for_the_next_round():
    aggregates, sink = InMemoryAggregates(), FlakyPublisher(failures=1, fail_from_call=2)
    index = publisher_for(aggregates, sink)
    aggregates.apply([resp(answers_for(C2640, 5), unit="ht-nx-co-dam")])

    with contextlib.suppress(ConnectionError):
        await index.tick()  # the unit's figure is published, then the roll-ups fail

    assert {(e.unit, e.period, e.rollup) for e in sink.published} == {
        ("ht-nx-co-dam", "campaign", False)
    }
    assert aggregates.mark == 0  # not everything of commit 1 is out yet
    await index.tick()
    subjects = {(e.unit, e.period) for e in sink.published}
    assert ("ht", "campaign") in subjects
    assert ("ht-nx-co-dam", "2026-11") in subjects
    assert aggregates.mark == aggregates.commit


def responses_of(sink: FlakyPublisher, unit: str) -> int:
    """Responses in the latest whole-campaign figure published for ``unit``."""
    figures = [e for e in sink.published if e.unit == unit and e.period == "campaign"]
    return int(figures[-1].responses)


async def test_own_batches_come_from_memory_and_a_gap_sends_the_round_to_the_database():
    aggregates, sink = InMemoryAggregates(), FlakyPublisher(failures=0)
    index = publisher_for(aggregates, sink, rollup_interval=300)
    unit = "ht-nx-co-dam"
    aggregates.apply([resp(answers_for(C2640, 5), unit=unit)])
    await index.tick()  # the first round always looks in the database
    reads = aggregates.reads

    aggregates.apply([resp(answers_for(C2640, 4), unit=unit)])
    index.written(aggregates.commit, aggregates.state(aggregates.commit))
    await index.tick()

    assert aggregates.reads == reads  # batch 2 was this process's own: nothing read
    assert responses_of(sink, unit) == 2

    aggregates.apply([resp(answers_for(C2640, 3), unit=unit)])  # batch 3: another instance's
    aggregates.apply([resp(answers_for(C2640, 2), unit=unit)])
    index.written(aggregates.commit, aggregates.state(aggregates.commit))  # batch 4: own
    await index.tick()

    assert aggregates.reads > reads  # the gap at 3 sent the round to the database
    assert responses_of(sink, unit) == 4
    assert aggregates.mark == 1  # stored by slow rounds only: the first, then in 5 minutes


async def test_a_copy_from_memory_never_replaces_a_newer_one_read_meanwhile():
    aggregates, sink = InMemoryAggregates(), FlakyPublisher(failures=0)
    index = publisher_for(aggregates, sink, rollup_interval=300)
    unit = "ht-nx-co-dam"
    aggregates.apply([resp(answers_for(C2640, 5), unit=unit)])
    aggregates.apply([resp(answers_for(C2640, 5), unit=unit)])
    handed_over = aggregates.state(aggregates.commit)  # batch 2, not yet handed over
    aggregates.apply([resp(answers_for(C2640, 5), unit=unit)])
    aggregates.visible, aggregates.newest_on_read = 1, True  # C read as 1, slices as of 3

    await index.tick()
    assert responses_of(sink, unit) == 3

    index.written(2, handed_over)  # batch 2's hand-over arrives late: an older copy
    await index.tick()

    assert responses_of(sink, unit) == 3
