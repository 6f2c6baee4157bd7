"""The day counts beside the months: today and yesterday only, checkpointed apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sipas_runtime.batches import Delivery
from sipas_runtime.writes import Writes
from sipas_scoring.counts import Counts
from sipas_scoring.domain.periods import VIETNAM_OFFSET
from sipas_scoring.store.aggregates import AGGREGATES, DAY_AGGREGATES
from sipas_scoring.testing import C2640, answers_for, resp

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội


def counts_at(now: datetime) -> Counts:
    return Counts(VIETNAM_OFFSET, clock=lambda: now)


def delivered(*ats: datetime) -> list[Delivery]:
    return [
        Delivery(resp(answers_for(C2640, 5), unit="ht-nx-co-dam", occurred_at=at), seq, "s", 1)
        for seq, at in enumerate(ats, start=1)
    ]


def test_only_the_responses_of_today_and_yesterday_are_counted_per_day():
    counts = counts_at(NOW)

    counts.fold(delivered(NOW, NOW - timedelta(days=1), NOW - timedelta(days=2)))

    days = {k.bucket: int(t.responses) for k, t in counts.day_tallies("c2026").items()}
    assert days == {"2026-12-07": 1, "2026-12-06": 1}
    assert sum(int(t.responses) for t in counts.tallies("c2026").values()) == 3


def test_a_day_is_forgotten_when_it_is_older_than_yesterday():
    now = [NOW]
    counts = Counts(VIETNAM_OFFSET, clock=lambda: now[0])
    counts.fold(delivered(NOW - timedelta(days=1)))

    now[0] = NOW + timedelta(days=1)
    counts.fold(delivered(now[0]))

    assert {k.bucket for k in counts.day_tallies("c2026")} == {"2026-12-08"}


def test_day_slices_are_checkpointed_in_their_own_collection():
    counts = counts_at(NOW)
    counts.fold(delivered(NOW))
    writes = Writes("sipas")

    counts.contents(writes)

    written = sorted(
        (collection, model._doc["bucket"])
        for collection, model in zip(writes._collections, writes._models, strict=True)
    )
    assert written == [(AGGREGATES, "2026-12"), (DAY_AGGREGATES, "2026-12-07")]
