"""The index loop's cadence (at most one read per subject per interval) and its view of a
campaign's slices, on explicit times and hand-made slices."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from sipas_scoring.domain.tally import SliceKey, Tally
from sipas_scoring.leaf_figures import Cadence, by_unit


def test_a_subject_never_read_may_be_read_at_once():
    cadence = Cadence(0.1)

    assert cadence.wait(("c1", "u1"), now=5.0) == 0.0


def test_a_subject_read_waits_the_rest_of_its_interval_and_others_do_not():
    cadence = Cadence(0.1)

    cadence.read(("c1", "u1"), now=5.0)

    assert abs(cadence.wait(("c1", "u1"), now=5.03) - 0.07) < 1e-9
    assert cadence.wait(("c1", "u1"), now=5.1) == 0.0
    assert cadence.wait(("c1", "u2"), now=5.03) == 0.0


@given(st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=30))
def test_reads_that_follow_the_cadence_are_an_interval_apart_whenever_the_round_comes(gaps):
    cadence, now, reads = Cadence(0.1), 0.0, []

    for gap in gaps:  # a round comes after ``gap``, waits as told, then reads
        now += gap
        now += cadence.wait("u1", now)
        cadence.read("u1", now)
        reads.append(now)

    assert all(b - a >= 0.1 - 1e-9 for a, b in itertools.pairwise(reads))


def test_forgetting_keeps_the_subjects_still_inside_their_interval():
    cadence = Cadence(0.1)
    cadence.read("early", now=1.0)
    cadence.read("late", now=1.08)

    cadence.forget_due(now=1.12)

    assert cadence.wait("early", now=1.12) == 0.0
    assert cadence.wait("late", now=1.12) > 0.0
    assert len(cadence._read) == 1  # what is remembered stays bounded


def test_slices_are_grouped_by_unit_in_their_order():
    keys = [
        SliceKey("c1", "2026-11", unit, kind, "sms", "i1")
        for unit, kind in [("u2", "citizen"), ("u1", "citizen"), ("u2", "organisation")]
    ]

    grouped = by_unit(dict.fromkeys(keys, Tally()))

    assert grouped == {"u2": [keys[0], keys[2]], "u1": [keys[1]]}
