from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sipas_sampling.domain.continuous import (
    UnitProgress,
    adaptive_rate,
    decide,
    draw,
    granted_slots,
    rate_counts,
    reservations,
    response_rate,
    verify_decision,
)

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)


@given(seed=st.text(min_size=1, max_size=20), dossier_id=st.text(min_size=1, max_size=40))
def test_draws_are_reproducible_and_in_the_unit_interval(seed, dossier_id):
    value = draw(seed, dossier_id)

    assert 0 <= value < 1
    assert value == draw(seed, dossier_id)


def test_the_draw_is_the_documented_sha256_construction():
    import hashlib

    digest = hashlib.sha256(b"s\x1fD-1").digest()

    assert draw("s", "D-1") == int.from_bytes(digest[:8], "big") / 2**64


@settings(max_examples=20)
@given(rate=st.floats(min_value=0.05, max_value=0.95))
def test_the_share_drawn_matches_the_rate(rate):
    drawn = sum(decide("seed-x", f"D{i}", rate).drawn for i in range(4000))

    assert abs(drawn / 4000 - rate) < 0.04


def test_a_unit_at_its_quota_gets_rate_zero():
    progress = UnitProgress(quota=30, reserved=30, answered=10)

    assert adaptive_rate(progress, at=START, start=START, end=END, prior_response_rate=0.3) == 0.0


def test_the_rate_spreads_the_quota_over_the_expected_dossiers():
    # 36,500 reachable dossiers a year expected, 300 forms wanted, 30% answer:
    # 1,000 invitations needed out of 36,500 -> about 2.7%.
    progress = UnitProgress(quota=300, expected_total=36_500)

    rate = adaptive_rate(progress, at=START, start=START, end=END, prior_response_rate=0.3)

    assert abs(rate - 1000 / 36_500) < 0.001


def test_the_rate_rises_when_people_answer_less_than_expected():
    mid = START + timedelta(days=182)
    common = {"quota": 300, "reserved": 250, "reachable": 18_000, "expected_total": 36_500}
    answering = UnitProgress(answered=150, lapsed=50, **common)
    silent = UnitProgress(answered=30, lapsed=170, **common)

    eager = adaptive_rate(answering, at=mid, start=START, end=END, prior_response_rate=0.3)
    reluctant = adaptive_rate(silent, at=mid, start=START, end=END, prior_response_rate=0.3)

    assert reluctant > eager


def test_the_rate_rises_when_fewer_dossiers_arrive_than_expected():
    mid = START + timedelta(days=182)
    busy = UnitProgress(quota=300, reachable=18_000, expected_total=36_500)
    quiet = UnitProgress(quota=300, reachable=3_000, expected_total=36_500)

    assert adaptive_rate(quiet, at=mid, start=START, end=END, prior_response_rate=0.3) > (
        adaptive_rate(busy, at=mid, start=START, end=END, prior_response_rate=0.3)
    )


def test_a_campaign_without_quota_takes_everyone_drawn():
    assert (
        adaptive_rate(
            UnitProgress(quota=None), at=START, start=START, end=END, prior_response_rate=0.3
        )
        == 1.0
    )


@given(answered=st.integers(0, 500), lapsed=st.integers(0, 500), prior=st.floats(0.05, 0.95))
def test_response_rate_stays_a_probability(answered, lapsed, prior):
    assert 0 < response_rate(UnitProgress(quota=1, answered=answered, lapsed=lapsed), prior) < 1


def test_logged_decisions_can_be_verified_and_a_forged_one_is_caught():
    value = draw("s", "D-9")

    assert verify_decision("s", "D-9", value, value + 0.01, "invited") == ""
    assert "is not below rate" in verify_decision("s", "D-9", value, value, "invited")
    assert "differs from the recomputed" in verify_decision("s", "D-9", 0.5, 1.0, "invited")


@settings(max_examples=60, deadline=None)
@given(
    quota=st.none() | st.integers(0, 50),
    reserved=st.integers(0, 60),
    wanted=st.integers(0, 80),
)
def test_a_unit_is_granted_what_it_wants_up_to_what_its_quota_leaves(quota, reserved, wanted):
    progress = {"u1": UnitProgress(quota=quota, reserved=reserved)}

    granted = granted_slots(progress, {"u1": wanted, "u2": wanted})["u1"]

    assert 0 <= granted <= wanted
    if quota is not None:
        assert reserved + granted <= max(quota, reserved)  # never past the quota
        assert granted == max(0, min(wanted, quota - reserved))  # and nothing held back
    else:
        assert granted == wanted
    assert granted_slots(progress, {"u2": wanted}) == {"u2": wanted}  # no quota document


def test_a_batch_counts_dossiers_seen_reachable_and_invited_per_unit():
    assert rate_counts({"u1": (5, 3), "u2": (1, 0)}, {"u1": 2, "u3": 4}) == {
        "u1": {"eligible": 5, "reachable": 3, "invited": 2},
        "u2": {"eligible": 1, "reachable": 0, "invited": 0},
        "u3": {"eligible": 0, "reachable": 0, "invited": 4},
    }


def test_only_units_with_a_quota_and_granted_slots_reserve_against_what_was_read():
    progress = {
        "u1": UnitProgress(quota=5, reserved=2),
        "u2": UnitProgress(quota=None, reserved=0),
        "u3": UnitProgress(quota=4, reserved=4),
    }
    granted = granted_slots(progress, {"u1": 9, "u2": 3, "u3": 1, "u4": 2})

    assert reservations(progress, granted) == {"u1": (2, 3)}
