from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from sipas_alerts.api.scope import CaseScope, case_role
from sipas_alerts.domain.errors import OutOfScopeError
from sipas_alerts.domain.policy import Contact, Policy, Routing
from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.identity import Principal

HIERARCHY = load_sample_hierarchy()
IN_2020 = date(2020, 6, 1)
IN_2026 = date(2026, 6, 1)


def caller(*roles, units=("ht",)):
    return Principal("p-1", "Cán bộ", "person", frozenset(roles), frozenset(units))


def scope_of(who, on):
    return CaseScope(who, who.scope(HIERARCHY, on), province=HIERARCHY.province)


def test_the_case_role_follows_the_permissions():
    assert case_role(caller("supervisor")) == "supervisor"
    assert case_role(caller("handler")) == "handler"
    assert case_role(caller("observer")) == "observer"
    assert case_role(caller("viewer", "handler")) == "handler"


def test_a_commune_handler_sees_only_its_commune():
    scope = scope_of(caller("handler", units=["ht-nx-co-dam"]), IN_2026)

    assert scope.covers("ht-nx-co-dam")
    assert not scope.covers("ht-nx-xuan-hoi")
    with pytest.raises(OutOfScopeError, match="ht-nx-xuan-hoi"):
        scope.check("ht-nx-xuan-hoi")
    assert scope.actor.id == "p-1"
    assert scope.actor.role == "handler"


def test_a_district_handler_saw_its_communes_while_the_district_existed():
    scope = scope_of(caller("handler", units=["ht-nx"]), IN_2020)

    assert scope.covers("ht-nx-co-dam")
    assert len(scope.narrow(None) or ()) == 18


def test_the_province_sees_every_unit_without_a_unit_filter():
    supervisor = scope_of(caller("supervisor"), IN_2026)

    assert supervisor.narrow(None) is None
    assert supervisor.covers("ht-nx-co-dam")
    assert supervisor.narrow("ht", include_subtree=False) == {"ht"}
    assert len(supervisor.narrow("ht") or ()) == 18  # province + 17 communes since 2025-07


def test_a_unit_filter_is_narrowed_to_the_scope():
    handler = scope_of(caller("handler", units=["ht-nx"]), IN_2020)

    assert handler.narrow("ht-nx-co-dam") == {"ht-nx-co-dam"}
    with pytest.raises(OutOfScopeError):
        handler.narrow("ht")


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
