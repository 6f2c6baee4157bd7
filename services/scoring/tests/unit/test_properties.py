"""Invariants of the counts, checked on random response sets (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.batches import Delivery
from sipas_scoring.counts import Counts
from sipas_scoring.domain.counting import fold, merge
from sipas_scoring.domain.indices import Rules, compute_index
from sipas_scoring.domain.periods import VIETNAM_OFFSET, day_bucket, local_date
from sipas_scoring.domain.tables import build_table
from sipas_scoring.domain.tally import SliceKey, Tally
from sipas_scoring.testing import C2640, resp

ITEMS = ["C01", "C02", "C05", "C10", "C16", "C19", "ND.TRIPS"]
levels = st.sampled_from([1, 2, 3, 4, 5, "na"])
answer_sets = st.dictionaries(st.sampled_from(ITEMS), levels, min_size=1)
responses = st.lists(
    st.tuples(
        answer_sets,
        st.sampled_from(["ht-nx-xuan-hoi", "ht-nx-co-dam", "ht-nx-xuan-an"]),
        st.sampled_from(["individual", "organisation"]),
        st.sampled_from(["online", "kiosk", "paper"]),
        st.integers(min_value=0, max_value=120),
    ),
    max_size=40,
)
START = datetime(2026, 9, 25, tzinfo=UTC)
HIERARCHY = load_sample_hierarchy()


def events(drawn: list[tuple[Any, ...]]) -> list[tuple[int, Any]]:
    return [
        (
            seq,
            resp(
                answers,
                unit=unit,
                applicant_kind=kind,
                collection_mode=mode,
                occurred_at=START + timedelta(days=day),
            ),
        )
        for seq, (answers, unit, kind, mode, day) in enumerate(drawn, start=1)
    ]


def canonical(tallies: dict[SliceKey, Tally]) -> dict[str, Any]:
    return {key.slice_id: tally.canonical() for key, tally in tallies.items()}


@given(responses, st.lists(st.integers(min_value=1, max_value=10), min_size=1))
def test_incremental_aggregates_equal_batch_recomputation(drawn, batch_sizes):
    sequenced = events(drawn)
    incremental: dict[SliceKey, Tally] = {}
    position, sizes = 0, iter(batch_sizes * 50)

    while position < len(sequenced):
        size = next(sizes)
        merge(incremental, fold(sequenced[position : position + size]))
        position += size

    assert canonical(incremental) == canonical(fold(sequenced))


@given(responses, st.data())
@settings(max_examples=60)
def test_replay_after_a_crash_equals_the_uninterrupted_run(drawn, data):
    """Model of the consumer: effects and watermark commit together; acks come after.

    A crash before commit loses the batch's effects (it is redelivered); a crash after
    commit but before the ack redelivers messages that are already applied, and the
    watermark makes them replays.
    """
    log = events(drawn)
    stored: dict[SliceKey, Tally] = {}
    watermark = acked = 0
    while acked < len(log):
        size = data.draw(st.integers(min_value=1, max_value=8))
        batch = log[acked : acked + size]
        crash = data.draw(st.sampled_from(["none", "before_commit", "before_ack"]))
        if crash == "before_commit":
            continue
        fresh = [(seq, event) for seq, event in batch if seq > watermark]
        merge(stored, fold(fresh))
        watermark = max([watermark, *(seq for seq, _ in fresh)])
        if crash == "before_ack":
            continue
        acked += len(batch)

    assert canonical(stored) == canonical(fold(log))


@given(responses, st.randoms(use_true_random=False))
@settings(deadline=None)  # a property of the result: a loaded 2-core machine is no failure
def test_indices_are_invariant_to_event_order(drawn, rng):
    ordered = events(drawn)
    shuffled = ordered[:]
    rng.shuffle(shuffled)
    rules = Rules(n_min_item=2, n_min_unit=2)

    def figures(sequenced: list[tuple[int, Any]]) -> list[Any]:
        by_unit: dict[str, dict[str, Tally]] = {}
        for key, tally in fold(sequenced).items():
            by_unit.setdefault(key.unit, {}).setdefault(key.applicant_kind, Tally()).add(tally)
        rows = build_table(C2640, by_unit, HIERARCHY, START.date(), rules)
        return [(r.unit, r.index, r.segments, r.rank) for r in rows]

    assert figures(shuffled) == figures(ordered)


@given(responses)
def test_index_values_stay_within_their_intervals(drawn):
    for tally in fold(events(drawn)).values():
        index = compute_index(C2640, tally, Rules(n_min_item=1, n_min_unit=1))
        figures = [index.sipas, *index.elements.values(), *index.items.values()]
        for figure in figures:
            if figure.value is not None:
                assert figure.low is not None
                assert figure.high is not None
                assert figure.low - 1e-9 <= figure.value <= figure.high + 1e-9
                assert 0 <= figure.low <= figure.high <= 100


def ordered(tallies: dict[SliceKey, Tally]) -> list[Any]:
    """Every slice's counts with the order of its items, levels and groups (documents and
    events list them in this order)."""
    return [
        (key.slice_id, [(item, list(levels.items())) for item, levels in t.counts.items()],
         list(t.coverage.items()), t.responses, t.first_at, t.last_at, t.last_seq)
        for key, t in sorted(tallies.items())
    ]  # fmt: skip


@given(responses, st.lists(st.integers(min_value=1, max_value=10), min_size=1))
def test_the_consumer_counts_what_a_batch_fold_counts_in_the_same_order(drawn, batch_sizes):
    """The in-memory counts record each response straight into its slice; folding each
    batch with an accumulator and adding it (the rebuild's way) gives the same counts in
    the same order, months and days alike, whatever the batches."""
    sequenced = events(drawn)
    today = START + timedelta(days=60)
    counts = Counts(VIETNAM_OFFSET, clock=lambda: today)
    first = local_date(today, VIETNAM_OFFSET) - timedelta(days=1)
    months: dict[SliceKey, Tally] = {}
    days: dict[SliceKey, Tally] = {}
    position, sizes = 0, iter(batch_sizes * 50)
    while position < len(sequenced):
        batch = sequenced[position : position + next(sizes)]
        counts.fold([Delivery(event, seq, "s", 1) for seq, event in batch])
        merge(months, fold(batch))
        recent = [(s, e) for s, e in batch if local_date(e.occurred_at, VIETNAM_OFFSET) >= first]
        merge(days, fold(recent, VIETNAM_OFFSET, day_bucket))
        position += len(batch)

    assert ordered(counts.tallies("c2026")) == ordered(months)
    assert ordered(counts.day_tallies("c2026")) == ordered(days)
    assert canonical(counts.tallies("c2026")) == canonical(fold(sequenced))
