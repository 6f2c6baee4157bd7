from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from sipas_alerts.domain.access import Principal, Scope, authenticate, hash_key, subtree
from sipas_alerts.domain.errors import OutOfScopeError
from sipas_alerts.domain.policy import Contact, Policy, Routing
from sipas_contracts.units import load_sample_hierarchy

HIERARCHY = load_sample_hierarchy()
IN_2020 = date(2020, 6, 1)
IN_2026 = date(2026, 6, 1)


def principal(role, unit=None, key="k"):
    return Principal(id=f"{role}-1", role=role, unit=unit, key_sha256=hash_key(key))


def test_a_commune_handler_sees_only_its_commune():
    scope = Scope(principal("handler", "ht-nx-co-dam"), HIERARCHY, IN_2026)

    assert scope.covers("ht-nx-co-dam")
    assert not scope.covers("ht-nx-xuan-hoi")
    with pytest.raises(OutOfScopeError, match="ht-nx-xuan-hoi"):
        scope.check("ht-nx-xuan-hoi")


def test_a_district_handler_saw_its_communes_while_the_district_existed():
    scope = Scope(principal("handler", "ht-nx"), HIERARCHY, IN_2020)

    assert scope.covers("ht-nx-co-dam")
    assert scope.units is not None
    assert len(scope.units) == 18


def test_supervisors_and_observers_see_every_unit():
    assert Scope(principal("supervisor"), HIERARCHY, IN_2026).units is None
    assert Scope(principal("observer"), HIERARCHY, IN_2026).covers("ht-nx-co-dam")


def test_a_unit_filter_is_narrowed_to_the_scope():
    handler = Scope(principal("handler", "ht-nx"), HIERARCHY, IN_2020)
    supervisor = Scope(principal("supervisor"), HIERARCHY, IN_2026)

    assert handler.narrow("ht-nx-co-dam") == {"ht-nx-co-dam"}
    assert supervisor.narrow(None) is None
    assert supervisor.narrow("ht", include_subtree=False) == {"ht"}
    assert len(supervisor.narrow("ht") or ()) == 18  # province + 17 communes since 2025-07
    with pytest.raises(OutOfScopeError):
        handler.narrow("ht")


def test_subtree_of_a_leaf_is_itself():
    assert subtree(HIERARCHY, "ht-nx-co-dam", IN_2026) == {"ht-nx-co-dam"}


def test_keys_authenticate_by_their_hash_only():
    people = [
        principal("handler", "ht-nx-co-dam", key="sak_one"),
        principal("observer", key="sak_two"),
    ]

    assert authenticate("sak_two", people) == people[1]
    assert authenticate("sak_three", people) is None
    assert "sak_one" not in repr(people[0])


def test_a_handler_needs_a_unit():
    with pytest.raises(ValidationError, match="needs a unit"):
        principal("handler")


def test_campaign_overrides_merge_over_the_defaults():
    policy = Policy.model_validate(
        {
            "rules": {"low_rating": {"max_level": 1}},
            "campaigns": {"c2026": {"harassment": {"enabled": False}}},
        }
    )

    rules = policy.rules_for("c2026")

    assert rules.low_rating.max_level == 1
    assert not rules.harassment.enabled
    assert rules.harassment.items == ("ND.5", "ND.HARASS")
    assert policy.rules_for("other").harassment.enabled


def test_a_bad_rule_setting_names_the_field():
    with pytest.raises(ValidationError, match=r"low_rating\.max_level"):
        Policy.model_validate({"rules": {"low_rating": {"max_level": 9}}})


def test_escalation_targets_must_be_known_agencies():
    with pytest.raises(ValidationError, match=r"escalates to \['vp-ubnd'\]"):
        Policy.model_validate({"sla": {"escalate_resolve_to": ["vp-ubnd"]}})


def test_contacts_are_checked_against_their_channel():
    with pytest.raises(ValidationError, match="not an e-mail address"):
        Contact(channel="email", address="https://x.example")
    with pytest.raises(ValidationError, match="not an http"):
        Contact(channel="webhook", address="ops@example.vn")


def test_a_unit_without_contacts_falls_back_to_its_ancestors_then_the_default():
    commune = Contact(channel="email", address="xa@example.vn")
    province = Contact(channel="email", address="tinh@example.vn")
    fallback = Contact(channel="webhook", address="https://hook.example/x")
    routing = Routing(units={"ht-nx-co-dam": (commune,), "ht": (province,)}, default=(fallback,))

    assert routing.contacts_for("ht-nx-co-dam", ["ht"]) == (commune,)
    assert routing.contacts_for("ht-nx-xuan-an", ["ht"]) == (province,)
    assert routing.contacts_for("elsewhere") == (fallback,)
