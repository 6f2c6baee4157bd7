"""Responses by API (token, enumerators): single use, concurrency, expiry, callbacks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sipas_contracts.ids import uuid7
from sipas_runtime.privacy import unseal
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.testing import bearer

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
ENUMERATOR = bearer("enumerator", subject="dtv-07")
ANSWERS = {"HL.DV.E1.1": 5, "HL.DV.E3.1": 2, "NC.1": "na", "ND.5": 1}


async def answer(intake, token: str, answers: dict[str, Any] | None = None, **extra: Any):
    body = {"token": token, "answers": answers or ANSWERS, **extra}
    return await intake.http.post("/v1/responses", json=body)


async def test_a_response_carries_the_invitation_context_and_no_identity(intake, eventually_fn):
    token, invitation = await intake.invite(stratum="organisation")

    first = await answer(intake, token, comment="Cán bộ nhiệt tình")
    second = await answer(intake, token)

    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["type"] == "urn:sipas:problem:token-used"
    await eventually_fn(lambda: len(intake.collected("response.recorded")) == 1)
    [event] = intake.collected("response.recorded")
    assert event["response_id"] == first.json()["response_id"]
    assert (event["campaign_id"], event["unit"], event["instrument_id"]) == (
        "ht-2026", "ht-nx-xuan-hoi", "sipas-1001-2023"
    )  # fmt: skip
    assert (event["collection_mode"], event["applicant_kind"]) == ("online", "organisation")
    assert event["answers"] == ANSWERS
    assert event["invitation_id"] == str(invitation.invitation_id)
    assert event["sealed_callback"] is None
    assert token not in str(event)
    assert invitation.token_hash not in str(event)


async def test_fifty_concurrent_submits_record_exactly_one(intake, eventually_fn):
    token, _ = await intake.invite()

    answers = await asyncio.gather(*(answer(intake, token) for _ in range(50)))

    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 1
    assert set(codes) == {201, 409}
    await eventually_fn(lambda: len(intake.collected("response.recorded")) == 1)
    await asyncio.sleep(0.3)
    assert len(intake.collected("response.recorded")) == 1
    assert await intake.db["outbox"].count_documents({}) == 1


async def test_expired_and_unknown_tokens_are_refused_and_nothing_is_written(intake):
    token, _ = await intake.invite(expires_at=datetime.now(UTC) - timedelta(seconds=1))

    expired = await answer(intake, token)
    unknown = await answer(intake, "A" * 22)

    assert (expired.status_code, unknown.status_code) == (410, 404)
    assert await intake.db["outbox"].count_documents({}) == 0


async def test_a_reminder_token_cannot_answer_the_same_invitation_twice(intake):
    token, invitation = await intake.invite()
    reminder, _ = await intake.invite(invitation_id=invitation.invitation_id, attempt=2)

    assert (await answer(intake, token)).status_code == 201
    refused = await answer(intake, reminder)

    assert refused.status_code == 409


async def test_answers_outside_the_form_are_refused_and_the_token_stays_usable(intake):
    token, _ = await intake.invite()

    refused = await answer(intake, token, {"HL.CS.A1": 4, "HL.DV.E1.1": 9})
    accepted = await answer(intake, token)

    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"field": "answers.HL.DV.E1.1", "reason": "9 is not one of 1, 2, 3, 4, 5 or 'na'"},
        {"field": "answers.HL.CS.A1", "reason": "is not asked on this form"},
    ]
    assert accepted.status_code == 201


async def test_an_opt_in_callback_travels_sealed_to_alerts_only(intake, eventually_fn):
    token, _ = await intake.invite()

    recorded = await answer(intake, token, callback_phone="0912 345 678")

    assert recorded.status_code == 201
    await eventually_fn(lambda: len(intake.collected("response.recorded")) == 1)
    sealed = intake.collected("response.recorded")[0]["sealed_callback"]
    assert unseal(intake.keys.alerts.secret_key, sealed) == {"phone": "0912345678"}
    with pytest.raises(ValueError, match="cannot be opened"):
        unseal(intake.keys.sampling.secret_key, sealed)


async def test_an_enumerator_enters_answers_against_the_list_with_mode_and_id(
    intake, eventually_fn
):
    _, invitation = await intake.invite(channel="enumerator", draw_list="official")
    body = {
        "invitation_id": str(invitation.invitation_id),
        "mode": "face_to_face",
        "answers": ANSWERS,
    }

    anonymous = await intake.http.post("/v1/interviews", json=body)
    elsewhere = await intake.http.post(
        "/v1/interviews", json=body, headers=bearer("enumerator", units=["ht-nx-co-dam"])
    )
    impersonating = await intake.http.post(
        "/v1/interviews", json={**body, "interviewer_id": "other"}, headers=ENUMERATOR
    )
    recorded = await intake.http.post("/v1/interviews", json=body, headers=ENUMERATOR)
    again = await intake.http.post("/v1/interviews", json=body, headers=ENUMERATOR)
    off_list = await intake.http.post(
        "/v1/interviews", json={**body, "invitation_id": str(uuid7())}, headers=ENUMERATOR
    )

    assert anonymous.status_code == 401
    assert elsewhere.status_code == 403  # the invitation is Xuân Hội's, not Cổ Đạm's
    assert impersonating.status_code == 422
    assert recorded.status_code == 201
    assert (again.status_code, off_list.status_code) == (409, 404)
    assert off_list.json()["errors"][0]["field"] == "invitation_id"
    assert "người dự phòng" in off_list.json()["detail"]  # Vietnamese first
    await eventually_fn(lambda: len(intake.collected("response.recorded")) == 1)
    event = intake.collected("response.recorded")[0]
    assert (event["collection_mode"], event["interviewer_id"]) == ("face_to_face", "dtv-07")
    assert event["invitation_id"] == str(invitation.invitation_id)


async def test_a_response_left_in_the_outbox_by_a_broker_outage_is_published_later(
    intake, eventually_fn, monkeypatch
):
    token, _ = await intake.invite()
    publisher = intake.service.runtime.publisher

    async def broker_down(_events):
        raise TimeoutError  # fault injection: JetStream does not answer

    with monkeypatch.context() as patch:
        patch.setattr(publisher, "publish_many", broker_down)
        recorded = await answer(intake, token)
        assert recorded.status_code == 201  # committed: the respondent is done
        assert await intake.db["outbox"].count_documents({"published": False}) == 1

    async def nothing_pending() -> bool:
        return await intake.db["outbox"].count_documents({"published": False}) == 0

    await eventually_fn(nothing_pending)
    await eventually_fn(lambda: len(intake.collected("response.recorded")) == 1)
    event = intake.collected("response.recorded")[0]
    assert event["response_id"] == recorded.json()["response_id"]


async def test_a_reminder_re_sending_the_same_token_extends_its_expiry(intake, eventually_fn):
    token, invitation = await intake.invite(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    assert (await answer(intake, token)).status_code == 410
    reminder = invitation.model_copy(
        update={
            "event_id": uuid7(),
            "attempt": 2,
            "expires_at": datetime.now(UTC) + timedelta(days=2),
        }
    )
    await intake.nc.jetstream().publish(
        f"sipas.invitation.sent.{reminder.unit}", encode(reminder), headers=event_headers(reminder)
    )

    async def extended() -> bool:
        doc = await intake.db["tokens"].find_one({"_id": invitation.token_hash})
        return doc["expires_at"] > datetime.now(UTC)

    await eventually_fn(extended)
    assert (await answer(intake, token)).status_code == 201


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Fifty submits from the test's one address: above the default per-address limit.
    return {
        "form_profiles": "ht-2026=tthc_user,kiosk-only=kiosk,typo=nope",
        "submit_rate": "1000/minute",
    }


async def test_each_campaign_answers_its_own_form_profile(intake):
    short, _ = await intake.invite(campaign_id="kiosk-only")
    mistaken, _ = await intake.invite(campaign_id="typo")

    off_profile = await answer(intake, short, {"NC.1": 3})
    in_profile = await answer(intake, short, {"HL.DV.E3.1": 4})
    fallback = await answer(intake, mistaken, {"NC.1": 3})

    assert off_profile.status_code == 422
    assert off_profile.json()["errors"] == [
        {"field": "answers.NC.1", "reason": "is not asked on this form"}
    ]
    assert (in_profile.status_code, fallback.status_code) == (201, 201)
