"""Campaign templates (plans written for one day, run on another) and the ranking threshold
a plan carries to scoring."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from sipas_contracts.units import load_sample_hierarchy
from sipas_sampling.campaigns import CampaignFileError, parse_campaign, shipped_campaign
from sipas_sampling.domain.plan import planned
from sipas_sampling.domain.scope import units_in_scope
from sipas_sampling.domain.template import instantiate


def test_seed_002_as_written_is_the_2020_plan_with_its_published_seed():
    plan = shipped_campaign("ha-tinh-nghi-xuan-2020")

    assert plan.id == "ht-nx-2020"
    assert plan.seed == "ht-nx-2020/boc-tham-ngay-2020-09-01"
    assert (plan.window.start, plan.window.end) == (date(2020, 1, 2), date(2020, 8, 31))
    assert plan.closes_on == date(2020, 10, 31)
    assert "năm 2020" in plan.name_vi


def test_seed_002_for_another_day_keeps_its_shape_around_that_day():
    plan = shipped_campaign("ha-tinh-nghi-xuan-2020", as_of=date(2026, 12, 7))

    assert plan.id == "ht-nx-2026"
    assert plan.seed == "ht-nx-2026/boc-tham-ngay-2026-12-07"
    assert plan.window.end == date(2026, 12, 6)  # the day before the draw, as in 2020
    assert (plan.window.end - plan.window.start).days == 242
    assert (plan.closes_on - date(2026, 12, 7)).days == 60
    assert plan.as_of == date(2026, 12, 7)
    assert len(units_in_scope(plan, load_sample_hierarchy())) == 17  # after the district ended


def test_seed_003_for_today_runs_a_year_from_today():
    plan = shipped_campaign("dong-nai-2025", as_of=date(2026, 12, 7))

    assert plan.id == "dn-2026"
    assert plan.window.start == date(2026, 12, 7)
    assert plan.closes_on > plan.window.end


def test_a_document_without_as_of_keeps_its_dates(make_campaign):
    document = make_campaign().model_dump(mode="json")
    del document["as_of"]

    assert instantiate(document, date(2030, 1, 1)) is document


def test_a_template_date_that_is_not_a_date_is_named(make_campaign):
    document = {**make_campaign().model_dump(mode="json"), "as_of": "first of May"}

    with pytest.raises(CampaignFileError, match=r"as_of: 'first of May' is not a date"):
        parse_campaign(document, as_of=date(2026, 5, 1))


def test_a_threshold_above_the_plans_forms_per_unit_names_both_numbers(make_campaign):
    document = {
        **make_campaign().model_dump(mode="json"),
        "sample_size": None,
        "allocation": {"fixed_per_unit": {"individual": 15, "organisation": 10}},
        "n_min_unit": 30,
    }

    with pytest.raises(CampaignFileError, match=r"n_min_unit: 30 respondents .* samples 25 per"):
        parse_campaign(document)


def test_planned_per_unit_is_the_fixed_quota_or_the_proportional_floor():
    batch = shipped_campaign("ha-tinh-nghi-xuan-2020")
    continuous = shipped_campaign("dong-nai-2025")

    assert batch.planned_per_unit == 25
    assert batch.n_min_unit == 25
    assert continuous.planned_per_unit == 30
    assert continuous.n_min_unit is None


def test_the_announced_plan_carries_names_window_units_and_threshold():
    plan = shipped_campaign("ha-tinh-nghi-xuan-2020")
    units = units_in_scope(plan, load_sample_hierarchy())
    stored_at = datetime(2020, 9, 1, 2, tzinfo=UTC)

    event = planned(plan, units, stored_at)

    assert event.campaign_id == "ht-nx-2020"
    assert event.name_vi == plan.name_vi
    assert (event.window_start, event.window_end) == (date(2020, 1, 2), date(2020, 8, 31))
    assert len(event.units) == 17
    assert (event.planned_per_unit, event.n_min_unit) == (25, 25)
    assert event.event_id == planned(plan, units, stored_at).event_id  # re-announced = dedup
