from __future__ import annotations

from datetime import UTC, date, datetime
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipas_scoring.domain import PeriodError
from sipas_scoring.domain.periods import Period, day_bucket, month_bucket, parse_period, period_of
from sipas_scoring.domain.stats import competition_ranks, wilson, z_for


def test_months_are_bucketed_in_vietnam_local_time():
    late_evening_utc = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)  # 00:30 on 1 Dec in Hà Nội

    assert month_bucket(late_evening_utc) == "2026-12"


@pytest.mark.parametrize(
    ("label", "previous"),
    [("2026-01", "2025-12"), ("2026-11", "2026-10"), ("2026-Q1", "2025-Q4"), ("2026", "2025")],
)
def test_previous_period_is_the_calendar_period_before(label, previous):
    assert parse_period(label).previous().label == previous


def test_campaign_period_has_no_previous_and_contains_every_month():
    campaign = parse_period("campaign")

    assert campaign.previous() is None
    assert campaign.contains("2019-03")
    assert campaign.last_day(["2026-02", "2026-01"]) == date(2026, 2, 28)


def test_quarters_contain_their_three_months():
    q4 = parse_period("2026-Q4")

    assert [q4.contains(f"2026-{m:02d}") for m in (9, 10, 11, 12)] == [False, True, True, True]
    assert q4.last_day() == date(2026, 12, 31)
    assert period_of("2026-11", "quarter") == q4


@pytest.mark.parametrize("label", ["2026-13", "2026-Q5", "26", "last-month", ""])
def test_unknown_period_labels_are_refused_with_the_accepted_forms(label):
    with pytest.raises(PeriodError, match="YYYY-Qn"):
        parse_period(label)


@given(st.integers(min_value=0, max_value=500), st.integers(min_value=1, max_value=500))
def test_wilson_interval_contains_the_share(successes, n):
    successes = min(successes, n)

    low, high = wilson(successes, n)

    assert 0 <= low <= 100 * successes / n <= high <= 100


def test_wilson_interval_matches_a_textbook_value():
    # Newcombe (1998), Stat. Med. 17:857, example 81/263: Wilson score 0.2553 to 0.3662
    low, high = wilson(81, 263)

    assert low == pytest.approx(25.53, abs=5e-3)
    assert high == pytest.approx(36.62, abs=5e-3)
    assert z_for(0.95) == pytest.approx(1.959964, abs=1e-6)


def test_competition_ranking_shares_ties_and_skips_the_next_rank():
    values = {"a": Fraction(90), "b": Fraction(85), "c": Fraction(85), "d": Fraction(80)}

    assert competition_ranks(values) == {"a": 1, "b": 2, "c": 2, "d": 4}


def test_ranking_uses_unrounded_values():
    values = {"x": Fraction(844501, 10000), "y": Fraction(844549, 10000)}  # both show 84.45

    assert competition_ranks(values) == {"y": 1, "x": 2}


def test_a_day_contains_only_its_own_day_bucket_and_has_no_previous_period():
    day = Period.of_day(date(2026, 12, 7))

    assert day.label == "2026-12-07"
    buckets = ("2026-12-07", "2026-12-06", "2026-12")
    assert [day.contains(b) for b in buckets] == [True, False, False]
    assert day.previous() is None
    assert day.last_day() == date(2026, 12, 7)
    assert period_of(day.label, "month").label == "2026-12"


def test_days_are_bucketed_in_vietnam_local_time():
    late_evening_utc = datetime(2026, 12, 6, 17, 30, tzinfo=UTC)  # 00:30 on 7 Dec in Hà Nội

    assert day_bucket(late_evening_utc) == "2026-12-07"
