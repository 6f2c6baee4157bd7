from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from pydantic import ValidationError

from sipas_contracts.units import load_sample_hierarchy
from sipas_scoring.domain import ProfileError, PublicationError
from sipas_scoring.domain.funnel import FunnelCounts, funnel_rows
from sipas_scoring.domain.profile import ProfileSettings, check_against
from sipas_scoring.domain.publication import digest, transition
from sipas_scoring.testing import C1001, C2640

HIERARCHY = load_sample_hierarchy()


def test_a_draft_is_approved_by_someone_else_then_published():
    state = transition("draft", "approve", actor="lan", drafted_by="minh")

    assert state == "approved"
    assert transition(state, "publish", actor="minh", drafted_by="minh") == "published"


def test_the_drafter_cannot_approve_their_own_draft():
    with pytest.raises(PublicationError, match="another person must approve"):
        transition("draft", "approve", actor="minh", drafted_by="minh")


@pytest.mark.parametrize(
    ("state", "action"),
    [("draft", "publish"), ("published", "approve"), ("published", "withdraw"),
     ("withdrawn", "publish"), ("superseded", "publish")],
)  # fmt: skip
def test_publication_moves_only_forward_through_its_states(state, action):
    with pytest.raises(PublicationError, match=f"cannot {action}"):
        transition(state, action, actor="lan", drafted_by="minh")


def test_digest_is_stable_under_key_order_and_keeps_vietnamese_text():
    assert digest({"b": 1, "a": "Xã Cổ Đạm"}) == digest({"a": "Xã Cổ Đạm", "b": 1})
    assert digest({"a": "Xã Cổ Đạm"}) != digest({"a": "Xa Co Dam"})


def test_funnel_rate_is_responded_over_invited_per_channel_and_rolls_up():
    counts = {
        "ht-nx-co-dam": FunnelCounts(
            eligible={"direct": 40, "online": 10},
            invited={"sms": 20, "zalo": 5},
            responded={"sms": 8, "zalo": 5},
            responses={"online": 13, "kiosk": 7},
        ),
        "ht-nx-xuan-an": FunnelCounts(invited={"sms": 10}, responded={"sms": 2}),
    }

    rows = {r.unit: r for r in funnel_rows(counts, HIERARCHY, date(2026, 11, 30))}

    co_dam = rows["ht-nx-co-dam"]
    assert co_dam.eligible_total == 50
    assert co_dam.channels["sms"].rate.value == 40
    assert co_dam.rate.value == Fraction(1300, 25)
    province = rows["ht"]
    assert province.rollup
    assert province.invited_total == 35
    assert province.responded_total == 15
    assert province.channels["sms"].rate.value == Fraction(1000, 30)
    assert province.responses == {"kiosk": 7, "online": 13}


def test_profile_defaults_keep_kiosk_answers_apart_from_the_sampled_index():
    profile = ProfileSettings()

    assert "kiosk" not in profile.modes
    assert profile.n_min_item == 10
    assert profile.n_min_unit == 30
    assert profile.rules().z == pytest.approx(1.959964, abs=1e-6)


def test_profile_rejects_components_its_instrument_lacks_naming_them():
    with pytest.raises(ProfileError, match=r"HL\.XX are not aspects of sipas-1001-2023"):
        check_against(ProfileSettings(sipas_components=("HL.DV", "HL.XX")), C1001)
    check_against(ProfileSettings(sipas_components=("E1", "E5")), C2640)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"modes": ["online", "online"]}, "each collection mode may appear once"),
        ({"window_start": "2026-02-01", "window_end": "2026-01-01"}, "window_end"),
        ({"n_min_item": 0}, "greater than or equal to 1"),
        ({"modes": ["fax"]}, "Input should be"),
    ],
)
def test_profile_errors_name_the_field_and_the_reason(fields, message):
    with pytest.raises(ValidationError, match=message):
        ProfileSettings.model_validate(fields)
