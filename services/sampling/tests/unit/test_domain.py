from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sipas_contracts.testing import dossier
from sipas_sampling.domain import decide, draw, render_invitation

ORDER = ["zalo", "sms", "email"]


@given(seed=st.text(min_size=1, max_size=20), dossier_id=st.text(min_size=1, max_size=40))
def test_draws_are_reproducible_and_in_the_unit_interval(seed, dossier_id):
    value = draw(seed, dossier_id)

    assert 0 <= value < 1
    assert value == draw(seed, dossier_id)


@settings(max_examples=20)
@given(rate=st.floats(min_value=0.05, max_value=0.95))
def test_the_share_drawn_matches_the_rate(rate):
    drawn = sum(draw("seed-x", f"D{i}") < rate for i in range(4000))

    assert abs(drawn / 4000 - rate) < 0.04


def test_a_dossier_without_a_usable_contact_is_not_invited():
    decision = decide(
        dossier(contact_channels=[], sealed_contact=None), seed="s", rate=1.0, channel_order=ORDER
    )

    assert not decision.invite
    assert decision.reason == "no_usable_contact"


def test_the_first_available_channel_in_campaign_order_is_used():
    event = dossier(contact_channels=["email", "sms"], sealed_contact="c2VhbGVk")

    decision = decide(event, seed="s", rate=1.0, channel_order=ORDER)

    assert decision.invite
    assert decision.channel == "sms"


def test_rate_zero_invites_nobody_and_says_why():
    decision = decide(
        dossier(contact_channels=["sms"], sealed_contact="c2VhbGVk"),
        seed="s",
        rate=0.0,
        channel_order=ORDER,
    )

    assert decision.reason == "not_drawn"


def test_the_invitation_names_the_unit_the_officer_and_the_link():
    text = render_invitation(
        unit_name="Xã Cổ Đạm", link="https://ks.example/s/abc", officer="Trần Thị C"
    )

    assert "Xã Cổ Đạm" in text
    assert "Trần Thị C" in text
    assert text.endswith("https://ks.example/s/abc")
