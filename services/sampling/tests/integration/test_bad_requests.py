"""Requests and events that could give 500s or poison a list are refused clearly."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from sipas_contracts import subjects
from sipas_contracts.ids import uuid7
from sipas_runtime.privacy import seal
from sipas_runtime.publishing import encode, event_headers

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
UNIT = "ht-nx-xuan-hoi"


async def test_a_callback_token_outside_ascii_is_an_unknown_callback(harness):
    h = await harness()

    answer = await h.http.get("/v1/callbacks/esms/%C3%A9", params={"RequestId": "x"})
    english = await h.http.get(
        "/v1/callbacks/esms/%C3%A9", headers={"Accept-Language": "en-GB,en;q=0.9,vi;q=0.5"}
    )

    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    # in the caller's language: Vietnamese unless asked otherwise
    assert answer.json()["title"] == "Không tìm thấy"
    assert answer.json()["detail"] == "Không có địa chỉ nhận báo cáo này."
    assert (english.json()["title"], english.json()["detail"]) == ("Not found", "Unknown callback.")


@pytest.mark.parametrize("field", ["SendSuccess", "SendFailed"])
async def test_an_esms_report_with_a_count_that_is_not_a_number_is_refused(harness, field):
    h = await harness()
    query = {"RequestId": "x-1", "SendStatus": "5", "SendSuccess": "1", field: "abc"}

    answer = await h.http.get(f"/v1/callbacks/esms/{h.sampling.callback_token}", params=query)

    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"] == [{"field": field, "reason": "must be a whole number"}]


async def test_a_zalo_webhook_with_a_strange_signature_or_message_is_refused(harness):
    from sipas_runtime.channels.zalo import zalo_signature

    h = await harness(zalo_app_id="app-1", zalo_oa_secret="oa-secret", zalo_app_secret="s")
    body = b'{"event_name":"user_received_message","timestamp":"1","message":[1]}'
    mac = zalo_signature("app-1", body, "1", "oa-secret")

    async def post(signature: str):
        headers = {"X-ZEvent-Signature": signature.encode()}
        return await h.http.post("/v1/callbacks/zalo", content=body, headers=headers)

    assert (await post("mac=\u00e9")).status_code == 401
    signed = await post(f"mac={mac}")
    assert signed.status_code == 200, signed.text
    assert signed.json() == {"known": False}


async def test_a_dossier_id_with_a_control_character_is_dead_lettered_not_listed(
    tools, harness, nc
):
    h = await harness()
    letters = []

    async def collect(msg) -> None:
        letters.append(msg)

    await nc.subscribe(subjects.dead_letter("sampling"), cb=collect)
    event = tools.completed(1, UNIT, delivered_at=datetime(2026, 3, 2, 3, tzinfo=UTC))
    raw = json.loads(event.model_dump_json())
    raw["dossier_id"] = "H42-\x00-1"
    await h.js.publish(subjects.for_event(event), json.dumps(raw).encode())

    await h.eventually(lambda: letters)
    assert "dossier_id" in letters[0].headers["Sipas-Dlq-Reason"]
    assert "U+0000" in letters[0].headers["Sipas-Dlq-Reason"]
    assert await h.sampling.stores.invitations.by_campaign("demo") == []


async def test_a_correction_of_an_invited_dossier_is_not_decided_again_nor_dead_lettered(
    tools, harness, nc
):
    h = await harness(sampling_rate=1.0)
    letters = []

    async def collect(msg) -> None:
        letters.append(msg)

    await nc.subscribe(subjects.dead_letter("sampling"), cb=collect)
    when = datetime(2026, 3, 2, 3, tzinfo=UTC)
    first = tools.completed(7, UNIT, delivered_at=when, contact={"phone": "0912000007"})
    await h.publish([first])
    await h.eventually(lambda: len(h.sent) == 1)
    corrected = first.model_copy(
        update={
            "event_id": uuid7(),
            "revision": 2,
            "applicant_pseudonym": "f" * 64,  # identified by the new phone number
            "sealed_contact": seal(tools.key_pair.public_key, {"phone": "0987000007"}),
        }
    )
    marker = tools.completed(8, UNIT, delivered_at=when)

    await h.publish([corrected, marker])

    await h.eventually(lambda: len(h.sent) == 2)  # the marker's: the batch went through
    assert h.sent[0].invitation_id != h.sent[1].invitation_id

    async def stored() -> bool:  # decided from memory, they are stored at the next checkpoint
        return len(await h.sampling.stores.invitations.by_campaign("demo")) == 2

    await h.eventually(stored)
    assert letters == []


async def test_a_dossier_event_published_again_after_the_window_is_not_decided_again(
    tools, harness
):
    h = await harness(sampling_rate=1.0)
    when = datetime(2026, 3, 2, 3, tzinfo=UTC)
    first = tools.completed(9, UNIT, delivered_at=when, contact={"phone": "0912000009"})
    await h.publish([first])
    await h.eventually(lambda: len(h.sent) == 1)
    again = {**event_headers(first), "Nats-Msg-Id": "re-sent-after-the-window"}
    await h.js.publish(subjects.for_event(first), encode(first), headers=again)  # stored again
    marker = tools.completed(10, UNIT, delivered_at=when, contact={"phone": "0912000010"})

    await h.publish([marker])

    await h.eventually(lambda: len(h.sent) == 2)  # the marker's: the copy went through first

    async def logged() -> list[str]:  # decided from memory, logged at the next checkpoint
        decided = [row[0] for row in await h.sampling.stores.decisions.decisions("demo")]
        return decided if marker.dossier_id in decided else []

    await h.eventually(logged)
    assert (await logged()).count(first.dossier_id) == 1


async def test_a_zalo_webhook_signed_with_an_empty_secret_is_refused(harness):
    from sipas_runtime.channels.zalo import zalo_signature

    h = await harness(zalo_app_id="app-1", zalo_oa_secret="", zalo_app_secret="s")
    body = (
        b'{"event_name":"user_received_message","timestamp":"1",'
        b'"message":{"msg_id":"m","delivery_time":"1","tracking_id":"x-1"}}'
    )
    mac = zalo_signature("app-1", body, "1", "")  # anyone can compute this one

    answer = await h.http.post(
        "/v1/callbacks/zalo", content=body, headers={"X-ZEvent-Signature": f"mac={mac}"}
    )

    assert answer.status_code == 401, answer.text
