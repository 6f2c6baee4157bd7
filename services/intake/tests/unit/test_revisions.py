from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sipas_intake.domain.revisions import HISTORY_LIMIT, LedgerEntry, Outcome, decide


def test_a_new_dossier_is_revision_one():
    decision = decide(None, "D1", "a" * 64, seq=7)

    assert (decision.outcome, decision.revision) == (Outcome.ACCEPTED, 1)
    assert decision.entry == LedgerEntry.first("D1", "a" * 64, 7)


def test_the_same_content_again_is_a_duplicate():
    entry = LedgerEntry.first("D1", "a" * 64, 7)

    decision = decide(entry, "D1", "a" * 64, seq=9)

    assert (decision.outcome, decision.revision) == (Outcome.DUPLICATE, None)
    assert decision.entry is entry


def test_changed_content_is_the_next_revision():
    entry = LedgerEntry.first("D1", "a" * 64, 7)

    decision = decide(entry, "D1", "b" * 64, seq=9)

    assert (decision.outcome, decision.revision) == (Outcome.CORRECTED, 2)
    assert decision.entry.fingerprint == "b" * 64
    assert decision.entry.last_seq == 9


def test_a_redelivered_message_re_emits_the_revision_it_produced():
    entry = decide(LedgerEntry.first("D1", "a" * 64, 7), "D1", "b" * 64, seq=9).entry

    assert decide(entry, "D1", "b" * 64, seq=9).outcome == Outcome.REPLAYED
    assert decide(entry, "D1", "a" * 64, seq=7).revision == 1


def test_an_older_message_never_overrides_newer_content():
    entry = decide(LedgerEntry.first("D1", "a" * 64, 7), "D1", "b" * 64, seq=9).entry

    decision = decide(entry, "D1", "c" * 64, seq=8)

    assert (decision.outcome, decision.revision) == (Outcome.STALE, None)


def test_restoring_earlier_content_is_a_new_revision():
    entry = decide(LedgerEntry.first("D1", "a" * 64, 1), "D1", "b" * 64, seq=2).entry

    decision = decide(entry, "D1", "a" * 64, seq=3)

    assert (decision.outcome, decision.revision) == (Outcome.CORRECTED, 3)


@given(st.lists(st.tuples(st.sampled_from("abc"), st.booleans()), min_size=1, max_size=80))
def test_replaying_any_history_in_order_emits_nothing_new(arrivals):
    entry = None
    emitted: dict[int, int] = {}
    for seq, (content, _) in enumerate(arrivals, start=1):
        decision = decide(entry, "D1", content * 64, seq)
        entry = decision.entry
        if decision.outcome in {Outcome.ACCEPTED, Outcome.CORRECTED}:
            emitted[seq] = decision.revision
    replayed = {
        seq: decide(entry, "D1", content * 64, seq)
        for seq, (content, again) in enumerate(arrivals, start=1)
        if again
    }

    assert list(emitted.values()) == list(range(1, len(emitted) + 1))
    for seq, decision in replayed.items():
        assert decision.outcome in {Outcome.REPLAYED, Outcome.STALE, Outcome.DUPLICATE}
        if decision.outcome == Outcome.REPLAYED:
            assert decision.revision == emitted[seq]
    assert len(entry.history) <= HISTORY_LIMIT
