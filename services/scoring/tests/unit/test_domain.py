from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipas_contracts.instrument import load_catalogue
from sipas_contracts.testing import response
from sipas_scoring.domain import compute_index, fold, item_figure, wilson

C2640 = load_catalogue("sipas-2640-2017")
C1001 = load_catalogue("sipas-1001-2023")
levels = st.sampled_from([1, 2, 3, 4, 5, "na"])


@given(
    st.lists(
        st.dictionaries(st.sampled_from(["C01", "C02", "C05"]), levels, min_size=1), max_size=30
    )
)
def test_folding_is_independent_of_event_order(answer_sets):
    events = [response(instrument_id="sipas-2640-2017", answers=a) for a in answer_sets]
    shuffled = events[:]
    random.Random(7).shuffle(shuffled)

    forward, backward = fold(events), fold(shuffled)

    assert {k: (v.responses, v.counts) for k, v in forward.items()} == {
        k: (v.responses, v.counts) for k, v in backward.items()
    }


def test_item_index_is_the_share_of_levels_4_and_5_among_valid_answers():
    figure = item_figure(C2640, "C01", {"5": 3, "4": 3, "3": 2, "1": 2, "na": 5}, n_min=10)

    assert figure.value == pytest.approx(60.0)
    assert figure.n == 10
    assert figure.sufficient


def test_below_n_min_an_item_is_marked_insufficient():
    figure = item_figure(C2640, "C01", {"5": 3}, n_min=10)

    assert not figure.sufficient


@given(st.integers(min_value=0, max_value=500), st.integers(min_value=1, max_value=500))
def test_wilson_interval_contains_the_share(successes, n):
    successes = min(successes, n)

    low, high = wilson(successes, n)

    assert 0 <= low <= 100 * successes / n <= high <= 100


def test_2640_sipas_is_the_mean_of_the_five_elements():
    # Published 2019 element indices (methodology §3.2): 86.48, 86.54, 85.62, 88.56, 75.05.
    targets = {"E1": 8648, "E2": 8654, "E3": 8562, "E4": 8856, "E5": 7505}
    counts = {}
    for element_id, positive in targets.items():
        for item in C2640.elements[element_id].items:
            counts[item] = {"5": positive, "2": 10_000 - positive}

    index = compute_index(C2640, counts, responses=10_000, n_min=10)

    assert round(index.sipas.value, 2) == 84.45
    assert round(index.elements["E5"].value, 2) == 75.05


def test_1001_sipas_only_averages_aspects_with_data():
    counts = {
        item: {"4": 20}
        for item in C1001.aspects["HL.DV"].elements
        for item in C1001.elements[item].items
    }

    index = compute_index(C1001, counts, responses=20, n_min=10)

    assert index.aspects["HL.CS"].value is None
    assert index.sipas.value == pytest.approx(100.0)
