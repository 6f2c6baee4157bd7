"""The event that closes a replaced member's survey token, as a substitution stores it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sipas_contracts import subjects
from sipas_contracts.ids import uuid7
from sipas_sampling.inviting import closed, closed_event_id

AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
INVITATION = {
    "_id": uuid7(),
    "campaign": "field-2026",
    "unit": "ht-nx-xuan-hoi",
    "dossier_id": "000.00.31.H42-261104-0004",
    "event": {"token_hash": "b" * 64},
}


def test_the_closure_names_the_replaced_invitation_its_token_and_the_reserve():
    reserve = uuid7()
    event = closed(INVITATION, "refused", reserve, AT)
    assert (event.invitation_id, event.token_hash, event.replaced_by) == (
        INVITATION["_id"],
        "b" * 64,
        reserve,
    )
    assert (event.campaign_id, event.unit, event.reason) == (
        "field-2026",
        "ht-nx-xuan-hoi",
        "refused",
    )
    assert subjects.for_event(event) == "sipas.invitation.closed.ht-nx-xuan-hoi"


def test_the_closure_id_is_fixed_by_the_member_and_the_substitution_time():
    first = closed(INVITATION, "refused", uuid7(), AT)
    again = closed(INVITATION, "refused", uuid7(), AT)
    assert (
        first.event_id
        == again.event_id
        == closed_event_id("field-2026", INVITATION["dossier_id"], AT)
    )
    assert closed_event_id("field-2026", "another", AT) != first.event_id
    assert closed_event_id("field-2026", INVITATION["dossier_id"], AT + timedelta(seconds=1)) != (
        first.event_id
    )
