from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sipas_sampling.domain.allocation import (
    AllocationError,
    fixed_with_transfer,
    precision_size,
    proportional,
    slovin,
    split_by_kind,
)

UNITS = st.dictionaries(
    st.from_regex(r"u[0-9]{1,3}", fullmatch=True), st.integers(0, 50_000), min_size=1, max_size=40
)


def test_slovin_matches_the_textbook_example():
    assert slovin(1000, 0.05) == 286  # 1000 / (1 + 1000 * 0.0025) = 285.7
    assert slovin(0, 0.05) == 0
    assert slovin(10, 0.05) == 10


def test_precision_target_with_finite_population_correction():
    assert precision_size(10**9, 0.05) == 385  # 1.96² · 0.25 / 0.05² = 384.1
    assert precision_size(500, 0.05) == 218


@given(n=st.integers(1, 10**7), e=st.floats(0.005, 0.3))
def test_sample_sizes_never_exceed_the_population(n, e):
    assert 1 <= slovin(n, e) <= n
    assert 1 <= precision_size(n, e) <= n


@given(weights=UNITS, total=st.integers(0, 20_000), floor=st.integers(0, 40))
def test_proportional_sums_to_the_total_and_respects_bounds(weights, total, floor):
    assume(floor * len(weights) <= total)

    result = proportional(total, weights, floor=floor, populations=weights)

    assert result.total == min(total, sum(weights.values()))
    for unit, quota in result.quotas.items():
        assert quota <= weights[unit]
        assert quota >= min(floor, weights[unit])


@given(weights=UNITS, total=st.integers(0, 5_000), cap=st.integers(1, 400))
def test_proportional_never_goes_above_the_cap(weights, total, cap):
    result = proportional(total, weights, cap=cap)

    assert all(q <= cap for q in result.quotas.values())
    assert result.total + result.shortfall == total


BOUNDED = st.dictionaries(
    st.from_regex(r"u[0-9]{1,2}", fullmatch=True),
    st.tuples(st.integers(0, 3_000), st.integers(0, 3_000)),
    min_size=1,
    max_size=25,
)


@given(
    units=BOUNDED,
    total=st.integers(0, 20_000),
    floor=st.integers(0, 30),
    cap=st.none() | st.integers(1, 2_000),
)
def test_proportional_places_the_whole_total_whatever_the_weights(units, total, floor, cap):
    weights = {u: w for u, (w, _) in units.items()}
    populations = {u: p for u, (_, p) in units.items()}
    cap = None if cap is None else max(cap, floor)
    highs = {u: min(p, cap if cap is not None else p) for u, p in populations.items()}
    assume(sum(min(floor, h) for h in highs.values()) <= total)

    result = proportional(total, weights, floor=floor, cap=cap, populations=populations)

    assert result.total == min(total, sum(highs.values()))
    assert result.shortfall == total - result.total
    for unit, quota in result.quotas.items():
        assert min(floor, highs[unit]) <= quota <= highs[unit]


def test_a_unit_left_out_of_the_weights_takes_what_the_others_cannot():
    result = proportional(10, {"a": 1, "b": 0}, populations={"a": 5, "b": 10})

    assert result.quotas == {"a": 5, "b": 5}
    assert result.shortfall == 0


def test_what_the_weights_cannot_place_goes_to_the_spare_population_in_proportion():
    result = proportional(
        40, {"a": 1, "b": 0, "c": 0}, floor=2, populations={"a": 10, "b": 32, "c": 12}
    )

    # a takes its 10; the 26 left over go 3:1 to b and c (spare 30 and 10 above their floors)
    assert result.quotas == {"a": 10, "b": 22, "c": 8}


def test_a_total_above_every_cap_is_reported_as_shortfall():
    result = proportional(100, {"a": 3, "b": 0}, cap=20)

    assert result.quotas == {"a": 20, "b": 20}
    assert result.shortfall == 60


def test_equal_remainders_go_to_the_larger_weight_then_the_unit_code():
    assert proportional(3, {"b": 2, "a": 2, "c": 2}).quotas == {"a": 1, "b": 1, "c": 1}
    assert proportional(1, {"b": 2, "a": 2}).quotas == {"a": 1, "b": 0}
    assert proportional(2, {"a": 1, "b": 1, "c": 2}).quotas == {"a": 1, "b": 0, "c": 1}


def test_proportional_uses_largest_remainder():
    result = proportional(10, {"a": 1, "b": 1, "c": 1})

    assert result.quotas == {"a": 4, "b": 3, "c": 3}


def test_the_floor_lifts_small_units_and_the_rest_follows_proportion():
    result = proportional(100, {"big": 900, "mid": 90, "tiny": 10}, floor=10)

    assert result.quotas == {"big": 80, "mid": 10, "tiny": 10}


def test_an_impossible_floor_names_the_field():
    with pytest.raises(AllocationError, match="floor"):
        proportional(50, {"a": 1, "b": 1, "c": 1}, floor=20)


def test_organisation_shortfall_moves_to_individuals():
    share = fixed_with_transfer(
        {"individual": 15, "organisation": 10}, {"individual": 40, "organisation": 4}
    )

    assert share.quotas == {"individual": 21, "organisation": 4}
    assert share.transferred == {"individual": 6}


def test_individual_shortfall_moves_to_organisations():
    share = fixed_with_transfer(
        {"individual": 15, "organisation": 10}, {"individual": 9, "organisation": 30}
    )

    assert share.quotas == {"individual": 9, "organisation": 16}


@given(
    ind=st.integers(0, 60),
    org=st.integers(0, 60),
    want_i=st.integers(0, 30),
    want_o=st.integers(0, 30),
)
def test_transfer_keeps_the_total_when_the_unit_can_afford_it(ind, org, want_i, want_o):
    share = fixed_with_transfer(
        {"individual": want_i, "organisation": want_o}, {"individual": ind, "organisation": org}
    )

    assert share.total == min(want_i + want_o, ind + org)
    assert share.quotas["individual"] <= ind
    assert share.quotas["organisation"] <= org


def test_a_unit_quota_is_split_between_kinds_by_population():
    share = split_by_kind(30, {"individual": 300, "organisation": 100})

    assert share.quotas == {"individual": 23, "organisation": 7}  # 22.5 / 7.5: tie to the larger
