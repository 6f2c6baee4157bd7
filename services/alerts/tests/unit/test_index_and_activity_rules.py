from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipas_alerts.domain.activity import DayCount, evaluate_activity, lookback_days, z_score
from sipas_alerts.domain.index_rules import Figure, evaluate_index
from sipas_alerts.domain.policy import RuleSet
from sipas_alerts.domain.windows import previous_period, window_key
from sipas_contracts.events import IndexFigure, IndexUpdated
from sipas_contracts.ids import uuid7

RULES = RuleSet()  # threshold 70, max drop 5 points
AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def figure(value, *, period="2026-11", n=120, sufficient=True, ci=4.0, version=1):
    return Figure(
        campaign_id="c2026",
        unit="ht-nx-co-dam",
        period=period,
        version=version,
        value=value,
        ci_low=None if value is None else value - ci,
        ci_high=None if value is None else value + ci,
        n=n,
        sufficient=sufficient,
    )


def rules_hit(current, **kwargs):
    found = evaluate_index(current, RULES, source_event_id=uuid7(), occurred_at=AT, **kwargs)
    return {hit.rule: hit for hit in found}


def test_an_index_below_the_threshold_alerts_once_per_period():
    first = rules_hit(figure(62.5))
    again = rules_hit(figure(61.0, version=2), before=figure(62.5))

    assert first["index_below_threshold"].severity == "critical"  # CI 58.5-66.5 < 70
    assert first["index_below_threshold"].window == "c2026:2026-11"
    assert again == {}


def test_an_index_near_the_threshold_is_a_warning():
    assert rules_hit(figure(68.0))["index_below_threshold"].severity == "warning"


def test_an_insufficient_sample_never_alerts():
    assert rules_hit(figure(20.0, n=8, sufficient=False)) == {}
    assert rules_hit(figure(None, n=0, sufficient=False)) == {}


def test_a_significant_drop_versus_last_period_alerts():
    found = rules_hit(figure(80.0, ci=3.0), previous=figure(90.0, period="2026-10"))

    assert set(found) == {"index_drop"}
    assert found["index_drop"].details["previous_period"] == "2026-10"
    assert found["index_drop"].details["drop"] == pytest.approx(10.0)
    assert "90.00% (2026-10) → 80.00% (2026-11)" in found["index_drop"].summary_vi


def test_a_drop_within_the_confidence_interval_is_noise():
    assert rules_hit(figure(80.0, ci=12.0), previous=figure(90.0, period="2026-10")) == {}


def test_a_small_drop_is_not_an_alert():
    assert rules_hit(figure(86.0, ci=1.0), previous=figure(90.0, period="2026-10")) == {}


def test_no_drop_against_an_insufficient_previous_period():
    previous = figure(95.0, period="2026-10", n=5, sufficient=False)

    assert rules_hit(figure(80.0, ci=3.0), previous=previous) == {}


def test_a_figure_reads_an_index_updated_event():
    event = IndexUpdated(
        event_id=uuid7(),
        occurred_at=AT,
        producer="scoring",
        campaign_id="c2026",
        unit="ht-nx-co-dam",
        period="2026-11",
        instrument_id="sipas-1001-2023",
        version=3,
        responses=40,
        sipas=IndexFigure(value=75.0, ci_low=70.0, ci_high=80.0, n=40, sufficient=True),
    )

    assert Figure.of(event) == figure(75.0, n=40, ci=5.0, version=3)


def test_previous_period_compares_like_with_like():
    known = ["2026-09", "2026-10", "2026-Q3", "campaign", "2026-12"]

    assert previous_period("2026-11", known) == "2026-10"
    assert previous_period("2026-Q4", known) == "2026-Q3"
    assert previous_period("campaign", known) is None
    assert previous_period("2026-09", known) is None


def test_window_labels():
    day = date(2026, 11, 20)

    assert window_key(day, "day") == "2026-11-20"
    assert window_key(day, "week") == "2026-W47"
    assert window_key(day, "month") == "2026-11"
    assert window_key(day, "quarter") == "2026-Q4"
    assert window_key(day, "campaign") == "campaign"


TODAY = date(2026, 11, 20)


def days(per_day: dict[int, tuple[int, int]]) -> dict[date, DayCount]:
    """{days ago: (invitations, responses)}"""
    return {TODAY - timedelta(days=ago): DayCount(*counts) for ago, counts in per_day.items()}


def activity(counts):
    found = evaluate_activity("c2026", "ht-nx-co-dam", counts, today=TODAY, tz=VN, rules=RULES)
    return {hit.rule: hit for hit in found}


def test_a_unit_with_invitations_but_no_responses_for_a_week_alerts():
    found = activity(days({7: (3, 0), 5: (4, 0), 1: (6, 0)}))

    assert set(found) == {"silent_unit"}
    assert found["silent_unit"].details == {"day": "2026-11-20", "invitations": 13}
    assert found["silent_unit"].window == "2026-W47"


def test_one_response_or_too_recent_invitations_keep_a_unit_from_being_silent():
    assert activity(days({7: (3, 0), 5: (4, 0), 0: (0, 1)})) == {}
    assert activity(days({1: (20, 0), 0: (20, 0)})) == {}


def test_the_same_day_gives_the_same_alert_ids():
    counts = days({6: (10, 0)})

    assert activity(counts)["silent_unit"].alert_id == activity(counts)["silent_unit"].alert_id


def test_a_collapse_of_the_response_rate_alerts():
    before = dict.fromkeys(range(9, 16), (10, 6))  # 60% answered
    now = dict.fromkeys(range(2, 9), (10, 1))  # 10% answered

    found = activity(days({**before, **now}))

    assert set(found) == {"response_rate_collapse"}
    assert found["response_rate_collapse"].details["rate_before"] == pytest.approx(0.6)
    assert found["response_rate_collapse"].details["rate_now"] == pytest.approx(0.1)


def test_a_small_sample_or_a_mild_dip_is_not_a_collapse():
    assert activity(days({9: (10, 6), 2: (10, 1)})) == {}  # 10 invitations per window
    mild = {**dict.fromkeys(range(9, 16), (10, 6)), **dict.fromkeys(range(2, 9), (10, 4))}
    assert activity(days(mild)) == {}


def test_the_rules_read_enough_history():
    assert lookback_days(RULES) == 17


@given(st.floats(0.01, 0.99), st.integers(1, 500), st.floats(0.01, 0.99), st.integers(1, 500))
def test_z_score_is_antisymmetric(p1, n1, p2, n2):
    assert z_score(p1, n1, p2, n2) == pytest.approx(-z_score(p2, n2, p1, n1))
