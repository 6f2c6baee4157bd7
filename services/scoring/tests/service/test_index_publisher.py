"""The index loop publishing from the in-memory counts, with stand-ins for its publisher
and the in-memory profile store."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from services.scoring.tests.fakes import InMemoryProfileStore

from sipas_contracts import subjects
from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.batches import Delivery
from sipas_runtime.publishing import encode
from sipas_runtime.sequences import AppliedSequences
from sipas_scoring.counts import Counts
from sipas_scoring.domain.periods import VIETNAM_OFFSET
from sipas_scoring.domain.profile import ProfileSettings
from sipas_scoring.metrics import ScoringMetrics
from sipas_scoring.settings import Settings
from sipas_scoring.testing import C2640, answers_for, resp, synthetic_responses
from sipas_scoring.updates import IndexPublisher


class Consumer:
    """What the index loop needs of the responses consumer: the counts, owner, floor."""

    def __init__(self) -> None:
        self.counts = Counts(VIETNAM_OFFSET)
        self.applied = AppliedSequences()
        self.owner = True

    def fold(self, *events: Any) -> None:
        first = self.applied.highest + 1
        seqs = range(first, first + len(events))
        self.counts.fold([Delivery(e, seq, "s", 1) for seq, e in zip(seqs, events, strict=True)])
        self.applied.add(seqs)


class FlakyPublisher:
    def __init__(self, failures: int, *, fail_from_call: int = 1) -> None:
        self.failures = failures
        self.fail_from_call = fail_from_call
        self.calls: list[list[Any]] = []
        self.published: list[Any] = []

    async def publish_many(self, events: Sequence[Any]) -> None:
        self.calls.append(list(events))
        if self.failures and len(self.calls) >= self.fail_from_call:
            self.failures -= 1
            msg = "NATS unavailable"
            raise ConnectionError(msg)
        self.published.extend(events)


def publisher_for(
    consumer: Consumer,
    sink: Any,
    *,
    rollup_interval: float = 0.001,
    index_interval: float = 0.001,
) -> IndexPublisher:
    return IndexPublisher(
        counts=consumer.counts,
        owner=lambda: consumer.owner,
        position=lambda: consumer.applied.floor,
        profiles=InMemoryProfileStore(ProfileSettings(n_min_item=1, n_min_unit=1)),
        publisher=lambda: sink,
        hierarchy=load_sample_hierarchy(),
        settings=Settings(rollup_interval=rollup_interval, index_interval=index_interval),
        metrics=ScoringMetrics(CollectorRegistry()),
    )


async def test_a_failed_publication_is_retried_next_round_with_nothing_lost():
    consumer, sink = Consumer(), FlakyPublisher(failures=1)
    index = publisher_for(consumer, sink)
    consumer.fold(resp(answers_for(C2640, 5), unit="ht-nx-co-dam"))

    with contextlib.suppress(ConnectionError):
        await index.tick()
    assert consumer.counts.published == 0
    published = await index.tick()

    assert published > 0
    subjects = {(e.unit, e.period) for e in sink.published}
    assert ("ht-nx-co-dam", "campaign") in subjects
    assert ("ht", "campaign") in subjects  # the roll-up too
    assert ("ht-nx-co-dam", "2026-11") in subjects
    assert consumer.counts.published == 1


async def test_nothing_changed_means_nothing_published():
    consumer, sink = Consumer(), FlakyPublisher(failures=0)
    index = publisher_for(consumer, sink)
    consumer.fold(resp(answers_for(C2640, 4), unit="ht-nx-co-dam"))
    await index.tick()
    count = len(sink.published)

    assert await index.tick() == 0
    assert len(sink.published) == count


async def test_unit_figures_go_out_before_roll_ups_and_a_failed_roll_up_waits_for_the_next_round():
    consumer, sink = Consumer(), FlakyPublisher(failures=1, fail_from_call=2)
    index = publisher_for(consumer, sink)
    consumer.fold(resp(answers_for(C2640, 5), unit="ht-nx-co-dam"))

    with contextlib.suppress(ConnectionError):
        await index.tick()  # the unit's figure is published, then the roll-ups fail

    assert {(e.unit, e.period, e.rollup) for e in sink.published} == {
        ("ht-nx-co-dam", "campaign", False)
    }
    assert consumer.counts.published == 0  # not everything of response 1 is out yet
    await index.tick()
    subjects = {(e.unit, e.period) for e in sink.published}
    assert ("ht", "campaign") in subjects
    assert ("ht-nx-co-dam", "2026-11") in subjects
    assert consumer.counts.published == 1


def responses_of(sink: FlakyPublisher, unit: str) -> int:
    """Responses in the latest whole-campaign figure published for ``unit``."""
    figures = [e for e in sink.published if e.unit == unit and e.period == "campaign"]
    return int(figures[-1].responses)


async def test_each_round_publishes_the_counts_as_they_stand_in_memory():
    consumer, sink = Consumer(), FlakyPublisher(failures=0)
    index = publisher_for(consumer, sink, rollup_interval=300)
    unit = "ht-nx-co-dam"
    consumer.fold(resp(answers_for(C2640, 5), unit=unit))
    await index.tick()

    consumer.fold(resp(answers_for(C2640, 4), unit=unit), resp(answers_for(C2640, 3), unit=unit))
    await index.tick()

    assert responses_of(sink, unit) == 3
    assert consumer.counts.published == 1  # marked by slow rounds only: the first, then in 5 min


async def test_an_instance_that_does_not_own_the_counts_publishes_nothing():
    consumer, sink = Consumer(), FlakyPublisher(failures=0)
    index = publisher_for(consumer, sink)
    consumer.fold(resp(answers_for(C2640, 5), unit="ht-nx-co-dam"))
    consumer.owner = False

    assert await index.tick() == 0
    assert sink.calls == []


async def test_restored_counts_publish_again_what_was_counted_after_the_published_mark():
    consumer, sink = Consumer(), FlakyPublisher(failures=0)
    counted = [resp(answers_for(C2640, 5), unit=u) for u in ("ht-nx-co-dam", "ht-nx-xuan-an")]
    consumer.fold(counted[0])
    consumer.fold(counted[1])
    consumer.counts.take_touched()  # as if loaded from a checkpoint: nothing touched yet

    consumer.counts.restored(consumer.applied, {"published": 1})
    await publisher_for(consumer, sink).tick()

    assert {e.unit for e in sink.published if not e.rollup} == {"ht-nx-xuan-an"}


async def test_a_changed_profile_publishes_every_figure_of_its_campaign_again():
    consumer, sink = Consumer(), FlakyPublisher(failures=0)
    index = publisher_for(consumer, sink)
    consumer.fold(resp(answers_for(C2640, 5), unit="ht-nx-co-dam"))
    await index.tick()
    before = len(sink.published)

    index.invalidate("c2026")
    await index.tick()

    assert len(sink.published) == 2 * before


class FoldingPublisher(FlakyPublisher):
    """Publishes; when the figure of ``unit`` goes out, ``arrive`` is folded (a response
    delivered while the round is under way)."""

    def __init__(self, consumer: Consumer, unit: str, arrive: Any) -> None:
        super().__init__(failures=0)
        self.consumer, self.unit, self.arrive = consumer, unit, arrive

    async def publish_many(self, events: Sequence[Any]) -> None:
        await super().publish_many(events)
        if self.arrive is not None and any(e.unit == self.unit for e in events):
            self.consumer.fold(self.arrive)
            self.arrive = None


async def test_a_response_folded_while_the_round_runs_is_in_its_units_figure_of_that_round():
    consumer = Consumer()
    first, second = "ht-nx-co-dam", "ht-nx-xuan-an"  # read in this order
    sink = FoldingPublisher(consumer, first, resp(answers_for(C2640, 3), unit=second))
    index = publisher_for(consumer, sink, rollup_interval=300, index_interval=0.001)
    consumer.fold(resp(answers_for(C2640, 5), unit=first), resp(answers_for(C2640, 4), unit=second))

    await index.tick()
    again = await index.tick()

    assert responses_of(sink, second) == 2  # the one folded after the round began, too
    assert again == 0  # and it is not published again: that figure had it


async def test_a_response_folded_into_a_new_slice_while_the_round_runs_is_in_that_round_too():
    consumer = Consumer()
    first, second = "ht-nx-co-dam", "ht-nx-xuan-an"
    arrive = resp(answers_for(C2640, 3), unit=second, applicant_kind="organisation")
    sink = FoldingPublisher(consumer, first, arrive)
    index = publisher_for(consumer, sink, rollup_interval=300)
    consumer.fold(
        resp(answers_for(C2640, 5), unit=first, applicant_kind="individual"),
        resp(answers_for(C2640, 4), unit=second, applicant_kind="individual"),
    )

    await index.tick()

    assert responses_of(sink, second) == 2  # its slice did not exist when the round began


class Clocked(FlakyPublisher):
    """Publishes, noting when each unit's whole-campaign figure was handed over."""

    def __init__(self) -> None:
        super().__init__(failures=0)
        self.at: list[float] = []

    async def publish_many(self, events: Sequence[Any]) -> None:
        await super().publish_many(events)
        self.at.extend(time.monotonic() for e in events if e.period == "campaign" and not e.rollup)


async def test_a_units_figures_are_handed_over_an_index_interval_apart_however_soon_rounds_come():
    consumer, sink = Consumer(), Clocked()
    index = publisher_for(consumer, sink, index_interval=0.05)
    unit = "ht-nx-co-dam"

    for answers in (5, 4, 3):
        consumer.fold(resp(answers_for(C2640, answers), unit=unit))
        await index.tick()

    assert len(sink.at) == 3
    assert all(b - a >= 0.05 for a, b in itertools.pairwise(sink.at))


class Journal:
    """A profile source and a publisher writing what they are asked, in order, to one list."""

    def __init__(self) -> None:
        self.entries: list[str] = []
        self.profiles = InMemoryProfileStore(ProfileSettings(n_min_item=1, n_min_unit=1))

    async def get_or_default(self, campaign_id: str) -> Any:
        self.entries.append("profile read")
        return await self.profiles.get_or_default(campaign_id)

    async def publish_many(self, events: Sequence[Any]) -> None:
        leaves = all(e.period == "campaign" and not e.rollup for e in events)
        self.entries.append("unit figures" if leaves else "roll-ups and periods")


async def test_a_round_re_reads_the_profile_only_after_its_unit_figures_are_out():
    consumer, journal, now = Consumer(), Journal(), [0.0]
    index = IndexPublisher(
        counts=consumer.counts,
        owner=lambda: True,
        position=lambda: consumer.applied.floor,
        profiles=journal,
        publisher=lambda: journal,
        hierarchy=load_sample_hierarchy(),
        settings=Settings(rollup_interval=1.0),
        metrics=ScoringMetrics(CollectorRegistry()),
        timer=lambda: now[0],
    )
    consumer.fold(resp(answers_for(C2640, 5), unit="ht-nx-co-dam"))
    await index.tick()  # no profile yet: read before anything
    journal.entries.clear()
    now[0] = 5.0  # the profile is due for a re-read, and the roll-ups for a round

    consumer.fold(resp(answers_for(C2640, 4), unit="ht-nx-co-dam"))
    await index.tick()

    assert journal.entries == ["unit figures", "profile read", "roll-ups and periods"]


async def test_the_published_events_of_a_known_load_stay_byte_for_byte_the_same():
    """A digest of every event (subject and wire bytes) that 12 rounds of a synthetic load
    publish: two months (so calendar periods and their previous period), every commune,
    both applicant kinds, leaves and roll-ups. Made on the straightforward evaluation; a
    faster index round must publish exactly these events, ids and figures included."""
    consumer, sink = Consumer(), FlakyPublisher(failures=0)
    hierarchy = load_sample_hierarchy()
    communes = sorted(u.code for u in hierarchy.units.values() if u.kind in ("commune", "town"))
    load = list(
        synthetic_responses(
            600,
            units=communes,
            campaign_id="c2026",
            start=datetime(2026, 10, 31, 12, tzinfo=UTC),
            spread=timedelta(days=2),
        )
    )
    index = IndexPublisher(
        counts=consumer.counts,
        owner=lambda: True,
        position=lambda: consumer.applied.floor,
        profiles=InMemoryProfileStore(ProfileSettings(n_min_item=5, n_min_unit=10)),
        publisher=lambda: sink,
        hierarchy=hierarchy,
        settings=Settings(rollup_interval=0.001, index_interval=0.001),
        metrics=ScoringMetrics(CollectorRegistry()),
        clock=lambda: datetime(2026, 11, 2, 3, tzinfo=UTC),
    )
    for start in range(0, len(load), 50):
        consumer.fold(*load[start : start + 50])
        await index.tick()

    digest = hashlib.sha256()
    for event in sink.published:
        digest.update(subjects.for_event(event).encode() + b"\n" + encode(event) + b"\n")
    assert len(sink.published) == GOLDEN_EVENTS
    assert digest.hexdigest() == GOLDEN_DIGEST


GOLDEN_EVENTS = 446
GOLDEN_DIGEST = "61455dfae318638d0c19087404f7d1b8d1cc57c9db83c6f931cb48030427c504"
