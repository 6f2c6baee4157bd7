from __future__ import annotations

import pytest

from sipas_contracts.units import load_sample_hierarchy
from sipas_sampling.campaigns import CampaignFileError, parse_campaign, shipped_campaign
from sipas_sampling.domain.campaign import changed_design_fields, design_digest
from sipas_sampling.domain.plan import continuous_quotas
from sipas_sampling.domain.scope import units_in_scope


def test_the_seed_002_plan_is_a_batch_of_17_communes_with_fixed_quotas():
    plan = shipped_campaign("ha-tinh-nghi-xuan-2020")

    assert plan.mode == "batch"
    assert len(units_in_scope(plan, load_sample_hierarchy())) == 17
    assert plan.allocation.fixed_per_unit.individual == 15
    assert plan.population.exclude.online
    assert plan.population.exclude.non_resident


def test_the_seed_003_plan_is_continuous_with_10000_proportional_forms():
    plan = shipped_campaign("dong-nai-2025")

    assert plan.mode == "continuous"
    assert plan.sample_size.total == 10_000
    assert plan.channels == ("zalo", "sms", "email")
    scope = units_in_scope(plan, load_sample_hierarchy("dong-nai-example"))
    assert "dn-thanh-tra" not in scope
    assert "dn-bien-hoa" in scope  # closed mid-2025, still in the 2025 window


def test_errors_name_the_field_and_the_reason(make_campaign):
    campaign = make_campaign
    with pytest.raises(CampaignFileError, match=r"window: Value error, end 2026-01-01 is before"):
        parse_campaign(
            {
                **campaign().model_dump(mode="json"),
                "window": {"start": "2026-02-01", "end": "2026-01-01"},
            }
        )


def test_a_quota_campaign_needs_an_allocation(make_campaign):
    campaign = make_campaign
    with pytest.raises(CampaignFileError, match="allocation is required"):
        parse_campaign({**campaign().model_dump(mode="json"), "sample_size": {"total": 10}})


def test_continuous_proportional_needs_a_basis(make_campaign):
    campaign = make_campaign
    document = {
        **campaign().model_dump(mode="json"),
        "sample_size": {"total": 100},
        "allocation": {"proportional": {"floor": 1}},
    }

    with pytest.raises(CampaignFileError, match="basis"):
        parse_campaign(document)


def test_templates_must_keep_the_link_and_known_placeholders(make_campaign):
    campaign = make_campaign
    document = campaign().model_dump(mode="json")
    document["templates"]["sms"] = "{unit} moi danh gia {phone}"

    with pytest.raises(CampaignFileError, match=r"unknown placeholder\(s\) \['phone'\]"):
        parse_campaign(document)


def test_unknown_units_in_scope_are_named(make_campaign):
    campaign = make_campaign
    with pytest.raises(CampaignFileError, match="unknown unit 'xa-khong-co'"):
        parse_campaign(
            {**campaign().model_dump(mode="json"), "scope": {"units": ["xa-khong-co"]}},
            hierarchy=load_sample_hierarchy(),
        )


def test_operational_changes_keep_the_design_but_a_new_seed_does_not(make_campaign):
    campaign = make_campaign
    base = campaign()
    quieter = campaign(quiet_hours={"start": "21:00", "end": "07:00"}, channels=["sms"])
    reseeded = campaign(seed="another-seed-value")

    assert design_digest(base) == design_digest(quieter)
    assert changed_design_fields(base, reseeded) == ["seed"]


def test_a_continuous_total_the_caps_cannot_place_fails_at_validation(make_campaign):
    document = {
        **make_campaign().model_dump(mode="json"),
        "sample_size": {"total": 100},
        "allocation": {"proportional": {"cap": 30, "basis": {"ht-nx-xuan-hoi": 10}}},
    }

    with pytest.raises(CampaignFileError, match=r"allocation.proportional.cap: .* 60 .* 100"):
        parse_campaign(document, hierarchy=load_sample_hierarchy())


def test_a_continuous_unit_left_out_of_the_basis_takes_what_the_cap_leaves(make_campaign):
    campaign = parse_campaign(
        {
            **make_campaign().model_dump(mode="json"),
            "sample_size": {"total": 50},
            "allocation": {"proportional": {"cap": 30, "basis": {"ht-nx-xuan-hoi": 10}}},
        },
        hierarchy=load_sample_hierarchy(),
    )

    quotas, _ = continuous_quotas(campaign, ("ht-nx-co-dam", "ht-nx-xuan-hoi"))

    assert quotas == {"ht-nx-co-dam": 20, "ht-nx-xuan-hoi": 30}
