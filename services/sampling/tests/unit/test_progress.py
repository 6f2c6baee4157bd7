"""A batch campaign's unit rows and the delivery table, from counts (no I/O)."""

from __future__ import annotations

from sipas_sampling.domain.progress import InvitationCount, batch_units, delivery, total_quota

DRAW = {
    "export": {
        "population": {
            "xa-a": {"individual": ["a1", "a2", "a3", "a4"], "organisation": ["a5"]},
            "xa-b": {"individual": ["b1"], "organisation": []},
        },
        "lists": {
            "quotas": {
                "xa-a": {"individual": 2, "organisation": 1},
                "xa-b": {"individual": 1, "organisation": 0},
            },
            "lists": {
                "xa-a": {
                    "individual": {"official": ["a1", "a2"], "reserve": ["a3"]},
                    "organisation": {"official": ["a5"], "reserve": []},
                },
                "xa-b": {
                    "individual": {"official": ["b1"], "reserve": []},
                    "organisation": {"official": [], "reserve": []},
                },
            },
        },
    }
}


def count(unit: str, state: str, n: int, *, channel: str = "enumerator") -> InvitationCount:
    return InvitationCount(unit=unit, draw_list="official", channel=channel, state=state, n=n)


def test_before_the_draw_a_batch_campaign_shows_its_population_without_quotas():
    units = batch_units(eligible={"xa-a": 6, "xa-b": 2}, draw=None, invitations=[])

    assert units == [
        {
            "unit": unit,
            "quota": None,
            "eligible": n,
            "reachable": None,
            "reserve": None,
            "invited": 0,
            "reserved": 0,
            "answered": 0,
            "lapsed": 0,
            "substituted": 0,
        }
        for unit, n in (("xa-a", 6), ("xa-b", 2))
    ]
    assert total_quota(units) is None


def test_after_the_draw_quota_lists_and_outcomes_come_from_the_draw_and_invitations():
    invitations = [
        count("xa-a", "answered", 1),
        count("xa-a", "substituted", 1),
        count("xa-a", "listed", 2),
        count("xa-b", "lapsed", 1),
    ]

    units = {
        u["unit"]: u for u in batch_units(eligible={"xa-a": 6}, draw=DRAW, invitations=invitations)
    }

    assert units["xa-a"] == {
        "unit": "xa-a",
        "quota": 3,
        "eligible": 6,
        "reachable": 5,
        "reserve": 1,
        "invited": 4,
        "reserved": 3,
        "answered": 1,
        "lapsed": 0,
        "substituted": 1,
    }
    assert units["xa-b"]["eligible"] == 0  # drawn, but not in the population read
    assert units["xa-b"]["reserved"] == 0  # a lapsed invitation holds no place
    assert total_quota(units.values()) == 4


def test_delivery_counts_invitations_by_current_channel_and_state():
    invitations = [
        count("xa-a", "sent", 3, channel="zalo"),
        count("xa-b", "sent", 2, channel="zalo"),
        count("xa-a", "undeliverable", 1, channel="sms"),
        count("xa-a", "queued", 4, channel="email"),
    ]

    assert delivery(invitations) == {
        "email": {"queued": 4},
        "sms": {"undeliverable": 1},
        "zalo": {"sent": 5},
    }
