"""What enumerators' devices rely on: an interview sent again is recorded once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from sipas_contracts import subjects
from sipas_contracts.events import InvitationSent
from sipas_contracts.ids import uuid7
from sipas_contracts.testing import closure
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.testing import bearer, eventually

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
ENUMERATOR = bearer("enumerator", subject="dtv-07")
ANSWERS = {"HL.DV.E1.1": 5, "ND.5": 1}


async def close(intake, *invitations: InvitationSent) -> None:
    """Publish closures as sampling does; wait until intake took the last (stream order)."""
    for invitation in invitations:
        event = closure(invitation, occurred_at=datetime.now(UTC), replaced_by=uuid7())
        await intake.nc.jetstream().publish(
            subjects.for_event(event), encode(event), headers=event_headers(event)
        )

    async def claimed() -> bool:
        last = invitations[-1].invitation_id
        return await intake.db["claims"].find_one({"_id": last}) is not None

    await eventually(claimed)


def interview(invitation, submission, **extra) -> dict:
    return {
        "invitation_id": str(invitation.invitation_id),
        "mode": "face_to_face",
        "answers": ANSWERS,
        "submission_id": str(submission),
        **extra,
    }


async def test_an_interview_sent_again_by_the_same_device_is_recorded_once(intake, eventually_fn):
    _, invitation = await intake.invite(channel="enumerator", draw_list="official")
    submission = uuid7()

    first, again, concurrent = (
        await intake.http.post(
            "/v1/interviews", json=interview(invitation, submission), headers=ENUMERATOR
        ),
        await intake.http.post(
            "/v1/interviews", json=interview(invitation, submission), headers=ENUMERATOR
        ),
        await asyncio.gather(
            *(
                intake.http.post(
                    "/v1/interviews", json=interview(invitation, submission), headers=ENUMERATOR
                )
                for _ in range(5)
            )
        ),
    )
    someone_else = await intake.http.post(
        "/v1/interviews", json=interview(invitation, uuid7(), mode="phone"), headers=ENUMERATOR
    )

    assert first.status_code == 201
    assert (again.status_code, again.json()["status"]) == (200, "already_recorded")
    assert again.json()["response_id"] == first.json()["response_id"]
    assert {a.status_code for a in concurrent} == {200}
    assert someone_else.status_code == 409
    await eventually_fn(lambda: len(intake.collected("response.recorded")) == 1)
    assert await intake.db["outbox"].count_documents({}) == 1
    counts = await intake.http.get(f"/v1/fieldwork/{invitation.campaign_id}", headers=ENUMERATOR)
    assert counts.status_code == 200
    mine = next(u for u in counts.json()["units"] if u["unit"] == invitation.unit)
    assert mine["invited"]["face_to_face"] == 1  # the one interview, counted once
    assert (await intake.http.get("/v1/fieldwork/ht-2026")).status_code == 401


async def test_a_replaced_invitation_takes_no_answer_unless_one_was_recorded_first(intake):
    token, replaced = await intake.invite(channel="enumerator", draw_list="official")
    _, answered = await intake.invite(channel="enumerator", draw_list="official")
    first = await intake.http.post(
        "/v1/interviews", json=interview(answered, uuid7()), headers=ENUMERATOR
    )

    # Both replaced from the reserve meanwhile: too late for the one interviewed already.
    await close(intake, answered, replaced)
    refused = await intake.http.post(
        "/v1/interviews", json=interview(replaced, uuid7()), headers=ENUMERATOR
    )
    link = await intake.http.get(f"/s/{token}")
    by_app = await intake.http.post("/v1/responses", json={"token": token, "answers": ANSWERS})

    assert first.status_code == 201
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["type"] == "urn:sipas:problem:invitation-replaced"
    assert problem["detail"].startswith("Lời mời này đã được thay bằng người dự phòng")
    assert [e["field"] for e in problem["errors"]] == ["invitation_id"]
    assert link.status_code == 409
    assert "Khảo sát này đã đóng" in link.text
    assert by_app.status_code == 409
    assert [e["field"] for e in by_app.json()["errors"]] == ["token"]
    claim = await intake.db["claims"].find_one({"_id": answered.invitation_id})
    assert str(claim["response_id"]) == first.json()["response_id"]  # the first recorded wins
    assert await intake.db["outbox"].count_documents({}) == 1
