"""The profile in force: service defaults, then the campaign's plan, then an operator."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from sipas_contracts.events import CampaignPlanned
from sipas_contracts.testing import plan as planned
from sipas_scoring.domain import ProfileError
from sipas_scoring.domain.profile import (
    ProfileSettings,
    check_plan,
    effective_profile,
    plan_threshold,
)

DEFAULTS = ProfileSettings(n_min_unit=30)


def plan(planned_per_unit: int | None = 25, n_min_unit: int | None = None) -> CampaignPlanned:
    return planned(
        campaign_id="ht-nx-2026",
        name_vi="Khảo sát 17 xã",
        planned_per_unit=planned_per_unit,
        n_min_unit=n_min_unit,
        occurred_at=datetime(2026, 12, 7, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("planned", "stated", "expected"),
    [(25, None, 25), (40, None, 30), (None, None, 30), (25, 20, 20), (None, 12, 12)],
)
def test_the_unit_threshold_follows_a_plan_that_samples_fewer(planned, stated, expected):
    assert plan_threshold(30, plan(planned, stated)) == expected


def test_the_plan_names_the_report_and_sets_the_window_and_threshold():
    profile = effective_profile("ht-nx-2026", DEFAULTS, plan(), {})

    assert profile.title_vi == "Khảo sát 17 xã"
    assert profile.instrument_id == "sipas-2640-2017"
    assert (profile.window_start, profile.window_end) == (date(2026, 4, 8), date(2026, 12, 6))
    assert profile.n_min_unit == 25
    assert profile.planned_per_unit == 25
    assert profile.planned_units == ("ht-nx-co-dam",)


def test_what_an_operator_set_wins_over_the_plan():
    profile = effective_profile(
        "ht-nx-2026", DEFAULTS, plan(), {"title_vi": "Báo cáo riêng"}, revision=2
    )

    assert profile.title_vi == "Báo cáo riêng"
    assert profile.n_min_unit == 25
    assert profile.revision == 2


def test_without_a_plan_the_defaults_apply():
    profile = effective_profile("c", DEFAULTS, None, {})

    assert profile.n_min_unit == 30
    assert profile.title_vi is None
    assert profile.planned_units == ()


def test_a_threshold_no_unit_of_the_plan_could_reach_names_both_numbers():
    with pytest.raises(ProfileError, match=r"n_min_unit: 30 respondents .* samples 25 per unit"):
        check_plan(ProfileSettings(n_min_unit=30), plan())

    check_plan(ProfileSettings(n_min_unit=25), plan())
    check_plan(ProfileSettings(n_min_unit=30), None)
