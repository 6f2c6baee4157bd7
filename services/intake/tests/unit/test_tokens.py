"""What a stored survey token allows, and the invitation events intake's consumer reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from sipas_contracts.events import InvitationClosed, InvitationSent
from sipas_contracts.ids import uuid7
from sipas_intake.handlers import decode_invitation
from sipas_intake.store.tokens import TokenProblem, grant_or_problem

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
HASH = "a" * 64


def token(**changes: object) -> dict[str, object]:
    """A token document as ``TokenStore.register`` stores it (one day left, unused)."""
    return {
        "_id": HASH,
        "invitation_id": uuid7(),
        "campaign_id": "field-2026",
        "unit": "ht-nx-xuan-hoi",
        "stratum": "individual",
        "instrument_id": "sipas-2640-2017",
        "channel": "enumerator",
        "draw_list": "official",
        "used_at": None,
        "expires_at": NOW + timedelta(days=1),
        **changes,
    }


def test_an_open_token_grants_its_invitation():
    grant = grant_or_problem(token(), NOW)
    assert not isinstance(grant, TokenProblem)
    assert grant.unit == "ht-nx-xuan-hoi"


def test_a_closed_token_takes_no_answer():
    assert grant_or_problem(token(closed_at=NOW - timedelta(minutes=1)), NOW) is (
        TokenProblem.CLOSED
    )


def test_a_token_used_before_it_was_closed_says_used():
    used = token(used_at=NOW - timedelta(hours=1), closed_at=NOW - timedelta(minutes=1))
    assert grant_or_problem(used, NOW) is TokenProblem.USED


def test_a_closed_token_past_its_expiry_says_closed():
    late = token(closed_at=NOW - timedelta(days=2), expires_at=NOW - timedelta(days=1))
    assert grant_or_problem(late, NOW) is TokenProblem.CLOSED


def test_unknown_and_expired_tokens_keep_their_problems():
    assert grant_or_problem(None, NOW) is TokenProblem.UNKNOWN
    assert grant_or_problem(token(expires_at=NOW), NOW) is TokenProblem.EXPIRED


def invitation() -> dict[str, object]:
    """What an invitation's events share: envelope, invitation, campaign, unit, token."""
    return {
        "event_id": uuid7(),
        "occurred_at": NOW,
        "producer": "sampling",
        "invitation_id": uuid7(),
        "campaign_id": "field-2026",
        "unit": "ht-nx-xuan-hoi",
        "token_hash": HASH,
    }


def _closed() -> InvitationClosed:
    return InvitationClosed.model_validate({**invitation(), "reason": "unreachable"})


def test_the_invitation_consumer_reads_closures_and_invitations():
    closed = _closed()
    sent = InvitationSent.model_validate(
        {
            **invitation(),
            "stratum": "individual",
            "channel": "enumerator",
            "draw_list": "official",
            "instrument_id": "sipas-2640-2017",
            "expires_at": NOW + timedelta(days=60),
        }
    )
    assert decode_invitation(closed.model_dump_json().encode()) == closed
    assert decode_invitation(sent.model_dump_json().encode()) == sent


def test_a_closure_without_its_reason_goes_to_the_dead_letters():
    body = _closed().model_dump(mode="json")
    del body["reason"]
    with pytest.raises(ValidationError, match="reason"):
        decode_invitation(json.dumps(body).encode())
