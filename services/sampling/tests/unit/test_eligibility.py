from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from sipas_contracts.testing import dossier
from sipas_sampling.domain.campaign import ContactCap
from sipas_sampling.domain.eligibility import exclusion, usable_channels, within_contact_cap

VN = ZoneInfo("Asia/Ho_Chi_Minh")
UNITS = {"ht-nx-xuan-hoi"}
IN_WINDOW = datetime(2026, 6, 1, 3, tzinfo=UTC)


def hatinh(make_campaign, **population):
    return make_campaign(
        population={"exclude": {"online": True, "postal": True, "non_resident": True}, **population}
    )


def test_a_direct_resident_dossier_in_the_window_is_eligible(make_campaign):
    event = dossier(delivered_at=IN_WINDOW, resident_in_province=True)

    assert exclusion(event, hatinh(make_campaign), UNITS, VN) is None


def test_seed_002_exclusions_each_give_their_reason(make_campaign):
    plan = hatinh(make_campaign)

    assert (
        exclusion(dossier(delivered_at=IN_WINDOW, submission_channel="online"), plan, UNITS, VN)
        == "online"
    )
    assert (
        exclusion(dossier(delivered_at=IN_WINDOW, result_delivery="postal"), plan, UNITS, VN)
        == "postal"
    )
    assert (
        exclusion(dossier(delivered_at=IN_WINDOW, resident_in_province=False), plan, UNITS, VN)
        == "non_resident"
    )
    assert (
        exclusion(dossier(delivered_at=IN_WINDOW, unit="ht-nx-co-dam"), plan, UNITS, VN)
        == "out_of_scope"
    )


def test_the_window_is_read_in_local_time(make_campaign):
    # 2025-12-31 18:00 UTC is already 1 January 2026 in Vietnam.
    event = dossier(
        delivered_at=datetime(2025, 12, 31, 18, tzinfo=UTC),
        received_at=datetime(2025, 12, 1, tzinfo=UTC),
    )

    assert exclusion(event, make_campaign(), UNITS, VN) is None
    assert (
        exclusion(
            dossier(
                delivered_at=datetime(2025, 12, 31, 16, tzinfo=UTC),
                received_at=datetime(2025, 12, 1, tzinfo=UTC),
            ),
            make_campaign(),
            UNITS,
            VN,
        )
        == "outside_window"
    )


def test_procedure_fields_match_regardless_of_case_and_spacing(make_campaign):
    plan = make_campaign(population={"procedure_fields": ["Tư pháp - Hộ tịch"]})

    assert (
        exclusion(
            dossier(delivered_at=IN_WINDOW, procedure_field="tư pháp  - hộ tịch"), plan, UNITS, VN
        )
        is None
    )
    assert (
        exclusion(dossier(delivered_at=IN_WINDOW, procedure_field="Đất đai"), plan, UNITS, VN)
        == "other_field"
    )


def test_channels_follow_campaign_order_and_respect_opt_outs():
    assert usable_channels(["zalo", "sms", "email"], ["email", "sms", "zalo"]) == [
        "zalo",
        "sms",
        "email",
    ]
    assert usable_channels(["zalo", "sms", "email"], ["sms", "zalo"], {"zalo"}) == ["sms"]
    assert usable_channels(["zalo", "sms"], ["sms"], {"all"}) == []
    assert usable_channels(["enumerator"], []) == ["enumerator"]


@given(previous=st.lists(st.integers(0, 400), max_size=6), cap=st.integers(1, 4))
def test_the_contact_cap_counts_only_invitations_inside_its_period(previous, cap):
    now = datetime(2026, 6, 1, tzinfo=UTC)
    history = [now - timedelta(days=d) for d in previous]

    allowed = within_contact_cap(history, ContactCap(max_invitations=cap, days=90), now)

    assert allowed == (sum(d < 90 for d in previous) < cap)
