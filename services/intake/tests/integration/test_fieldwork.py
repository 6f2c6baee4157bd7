"""What enumerators' devices rely on: an interview sent again is recorded once."""

from __future__ import annotations

import asyncio

import pytest

from sipas_contracts.ids import uuid7
from sipas_runtime.testing import bearer

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
ENUMERATOR = bearer("enumerator", subject="dtv-07")
ANSWERS = {"HL.DV.E1.1": 5, "ND.5": 1}


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
