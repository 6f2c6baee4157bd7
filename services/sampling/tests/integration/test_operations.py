"""Campaign API, opt-outs, quiet hours and the development campaign, on real servers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
import yaml

from sipas_contracts.events import InvitationSent

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
VN = timezone(timedelta(hours=7))
UNIT = "ht-nx-xuan-hoi"


def plan(**changes) -> dict:
    document = {
        "id": "ops-2026",
        "name_vi": "Chiến dịch vận hành",
        "instrument_id": "sipas-1001-2023",
        "mode": "continuous",
        "seed": "ops-seed-2026",
        "window": {"start": "2026-01-01", "end": "2026-12-31"},
        "scope": {"units": [UNIT, "ht-nx-co-dam"]},
        "sample_size": {"rate": 1.0},
        "channels": ["sms", "email"],
        "quiet_hours": {"start": "21:00", "end": "07:00"},
    }
    return {**document, **changes}


async def test_campaigns_need_a_key_and_a_role(tools, harness):
    h = await harness()

    assert (await h.http.get("/v1/campaigns")).status_code == 401
    assert (
        await h.http.get("/v1/campaigns", headers={"Authorization": "Bearer nope"})
    ).status_code == 401
    answer = await h.http.post("/v1/campaigns", json=plan(), headers=tools.auth("observer"))
    assert answer.status_code == 403
    listed = await h.http.get("/v1/campaigns", headers=tools.auth("observer"))
    assert [c["id"] for c in listed.json()] == ["demo"]  # the development campaign


async def test_an_invalid_campaign_is_refused_field_by_field(tools, harness):
    h = await harness()
    body = yaml.safe_dump(plan(window={"start": "2026-05-01", "end": "2026-01-01"}, channels=[]))

    answer = await h.http.post(
        "/v1/campaigns",
        content=body,
        headers={**tools.auth("operator"), "Content-Type": "application/yaml"},
    )

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in answer.json()["errors"]}
    assert fields == {"window", "channels"}


async def test_a_shipped_plan_read_from_the_api_creates_its_campaign_for_a_day(tools, harness):
    h = await harness()

    plans = await h.http.get("/v1/plans", headers=tools.auth("operator"))
    refused = await h.http.get("/v1/plans", headers=tools.auth("observer"))

    assert plans.status_code == 200, plans.text
    assert refused.status_code == 403
    by_name = {p["name"]: p["template"] for p in plans.json()}
    assert set(by_name) == {"ha-tinh-nghi-xuan-2020", "dong-nai-2025"}
    assert by_name["ha-tinh-nghi-xuan-2020"]["mode"] == "batch"
    created = await h.http.post(
        "/v1/campaigns",
        params={"as_of": "2026-09-01"},
        json=by_name["ha-tinh-nghi-xuan-2020"],
        headers=tools.auth("operator"),
    )
    assert created.status_code == 200, created.text
    assert created.json()["id"] == "ht-nx-2026"
    page = await h.http.get("/v1/campaigns/ht-nx-2026", headers=tools.auth("observer"))
    # the 243 days before the draw day, as in the plan (2020 was a leap year)
    assert page.json()["campaign"]["window"] == {"start": "2026-01-01", "end": "2026-08-31"}


async def test_a_campaign_that_decided_keeps_its_design(tools, harness):
    h = await harness()
    operator = tools.auth("operator")
    assert (await h.http.post("/v1/campaigns", json=plan(), headers=operator)).status_code == 200
    await h.publish([tools.completed(1, UNIT, delivered_at=datetime(2026, 3, 2, 3, tzinfo=UTC))])
    await h.eventually(lambda: h.decided("ops-2026"))

    reseeded = await h.http.post("/v1/campaigns", json=plan(seed="another-seed"), headers=operator)
    renamed = await h.http.post("/v1/campaigns", json=plan(name_vi="Tên mới"), headers=operator)

    assert reseeded.status_code == 409
    assert "seed" in reseeded.json()["detail"]
    assert renamed.status_code == 200


async def test_opted_out_people_are_not_invited_and_say_why(tools, harness):
    h = await harness()
    operator = tools.auth("operator")
    await h.http.post("/v1/campaigns", json=plan(id="optout-2026"), headers=operator)
    registered = await h.http.post(
        "/v1/optouts", json={"phone": "+84 912 000 001"}, headers=operator
    )
    assert registered.status_code == 201
    when = datetime(2026, 3, 2, 3, tzinfo=UTC)

    await h.publish(
        [
            tools.completed(1, UNIT, delivered_at=when, contact={"phone": "0912000001"}),
            tools.completed(2, UNIT, delivered_at=when, contact={"phone": "0912000002"}),
        ]
    )

    await h.eventually(lambda: _outcomes(h, "optout-2026", 2))
    outcomes = {
        row[0][-1]: row[4] for row in await h.sampling.stores.decisions.decisions("optout-2026")
    }
    assert outcomes == {"1": "opted_out", "2": "invited"}
    bad = await h.http.post("/v1/optouts", json={"channels": ["all"]}, headers=operator)
    assert bad.status_code == 422


async def _outcomes(h, campaign: str, n: int) -> bool:
    return len(await h.sampling.stores.decisions.decisions(campaign)) == n


async def test_nothing_is_sent_in_quiet_hours_and_it_goes_out_in_the_morning(tools, harness):
    h = await harness()
    await h.http.post("/v1/campaigns", json=plan(id="night-2026"), headers=tools.auth("operator"))
    late = datetime.now(VN).replace(hour=22, minute=30) + timedelta(days=1)
    h.sampling.dispatcher.clock = lambda: late.astimezone(UTC)

    await h.publish([tools.completed(7, UNIT, delivered_at=datetime(2026, 3, 2, 3, tzinfo=UTC))])
    await h.eventually(lambda: h.sampling.stores.invitations.by_campaign("night-2026"))
    await h.sampling.dispatcher.run_once()  # or the periodic dispatcher: one of them claims it

    async def deferred_to_morning() -> bool:
        [doc] = await h.sampling.stores.invitations.by_campaign("night-2026")
        return doc["state"] == "queued" and doc["next_attempt_at"].astimezone(VN).hour == 7

    await h.eventually(deferred_to_morning)
    [doc] = await h.sampling.stores.invitations.by_campaign("night-2026")
    outbox = await h.sampling.stores.dev_outbox.messages(None, 100)
    assert not [m for m in outbox if m["invitation_id"] == str(doc["_id"])]

    h.sampling.dispatcher.clock = lambda: doc["next_attempt_at"] + timedelta(seconds=1)
    await h.sampling.dispatcher.run_once()

    async def sent() -> list:
        outbox = await h.sampling.stores.dev_outbox.messages(None, 100)
        return [m for m in outbox if m["invitation_id"] == str(doc["_id"])]

    await h.eventually(sent)
    [message] = await sent()
    assert message["channel"] == "sms"
    assert message["text"].isascii()  # SMS text without diacritics


async def test_the_development_campaign_invites_what_its_seed_draws(tools, harness):
    h = await harness(sampling_rate=0.5, seed="dev-seed")
    when = datetime.now(UTC) - timedelta(minutes=1)
    events = [tools.completed(i, UNIT, delivered_at=when) for i in range(60)]

    await h.publish(events)

    from sipas_sampling.domain.continuous import draw

    expected = sorted(e.dossier_id for e in events if draw("dev-seed", e.dossier_id) < 0.5)
    await h.eventually(lambda: len(h.sent) == len(expected))

    async def stored() -> list[str]:  # decided from memory, stored at the next checkpoint
        invited = await h.sampling.stores.invitations.by_campaign("demo")
        return sorted(d["dossier_id"] for d in invited)

    async def all_stored() -> bool:
        return await stored() == expected

    await h.eventually(all_stored)
    assert all(isinstance(e, InvitationSent) and e.channel == "zalo" for e in h.sent)


async def test_counter_slips_print_each_persons_qr_link_for_field_roles(tools, harness):
    h = await harness()
    await h.http.post(
        "/v1/campaigns",
        json=plan(id="counter-2026", channels=["counter"]),
        headers=tools.auth("operator"),
    )
    await h.publish([tools.completed(3, UNIT, delivered_at=datetime(2026, 3, 2, 3, tzinfo=UTC))])
    await h.eventually(lambda: h.sampling.stores.invitations.by_campaign("counter-2026"))

    assert (
        await h.http.get("/v1/campaigns/counter-2026/counter-slips", headers=tools.auth("observer"))
    ).status_code == 403
    page = await h.http.get(
        "/v1/campaigns/counter-2026/counter-slips", headers=tools.auth("enumerator")
    )

    assert page.status_code == 200
    assert page.text.count("<svg") == 1
    assert "https://ks.example.gov.vn/s/" in page.text
    assert "Xã Xuân Hội" in page.text
    [doc] = await h.sampling.stores.invitations.by_campaign("counter-2026")
    assert doc["state"] == "sent"


async def test_gateway_delivery_reports_are_recorded_and_forgeries_refused(tools, harness):
    from sipas_runtime.channels.zalo import zalo_signature

    h = await harness(zalo_app_id="app-1", zalo_oa_secret="oa-secret", zalo_app_secret="s")
    await h.http.post(
        "/v1/campaigns", json=plan(id="dlr-2026", quiet_hours=None), headers=tools.auth("operator")
    )
    await h.publish(
        [tools.completed(i, UNIT, delivered_at=datetime(2026, 3, 2, 3, tzinfo=UTC)) for i in (1, 2)]
    )

    async def sent() -> bool:
        states = [d["state"] for d in await h.sampling.stores.invitations.by_campaign("dlr-2026")]
        return states == ["sent", "sent"]

    await h.eventually(sent)
    first, second = await h.sampling.stores.invitations.by_campaign("dlr-2026")
    token = h.sampling.callback_token
    query = {"RequestId": f"{first['_id']}-1", "SendStatus": "5", "SendSuccess": "1", "SMSID": "x"}
    assert (await h.http.get(f"/v1/callbacks/esms/{token}", params=query)).json() == {"known": True}
    assert (await h.http.get("/v1/callbacks/esms/wrong", params=query)).status_code == 404
    body = (
        '{"event_name":"user_received_message","timestamp":"1708765433000",'
        f'"message":{{"msg_id":"m1","delivery_time":"1708765433000","tracking_id":"{second["_id"]}-1"}}}}'
    ).encode()
    mac = zalo_signature("app-1", body, "1708765433000", "oa-secret")
    good = await h.http.post(
        "/v1/callbacks/zalo", content=body, headers={"X-ZEvent-Signature": f"mac={mac}"}
    )
    forged = await h.http.post(
        "/v1/callbacks/zalo", content=body, headers={"X-ZEvent-Signature": "mac=00"}
    )

    assert good.json() == {"known": True}
    assert forged.status_code == 401
    reports = {
        str(d["_id"]): d.get("last_report")
        for d in await h.sampling.stores.invitations.by_campaign("dlr-2026")
    }
    assert reports[str(first["_id"])]["delivered"] is True
    assert reports[str(second["_id"])]["provider_id"] == "m1"


async def test_a_deciding_instance_only_decides_and_a_dispatching_one_sends(tools, harness):
    deciding = await harness(role="decide", sampling_rate=1.0, seed="split-seed")
    when = datetime.now(UTC) - timedelta(minutes=1)
    events = [tools.completed(i, UNIT, delivered_at=when) for i in range(5)]

    await deciding.publish(events)
    await deciding.eventually(lambda: len(deciding.sent) == len(events))

    async def stored():  # decided from memory, stored at the next checkpoint
        invited = await deciding.sampling.stores.invitations.by_campaign("demo")
        return invited if len(invited) == len(events) else []

    await deciding.eventually(stored)
    await asyncio.sleep(0.5)  # ten dispatch intervals: an "all" instance would have sent
    invited = await deciding.sampling.stores.invitations.by_campaign("demo")
    assert {d["state"] for d in invited} == {"queued"}
    assert await deciding.sampling.stores.dev_outbox.messages(None, 100) == []

    sending = await harness(role="dispatch", sampling_rate=1.0, seed="split-seed")

    async def all_sent() -> bool:
        return len(await sending.sampling.stores.dev_outbox.messages(None, 100)) == len(events)

    await sending.eventually(all_sent)
    outbox = await sending.sampling.stores.dev_outbox.messages(None, 100)
    assert {m["invitation_id"] for m in outbox} == {str(e.invitation_id) for e in deciding.sent}

    await deciding.sampling.runtime.stop()
    await sending.publish([tools.completed(99, UNIT, delivered_at=when)])
    await asyncio.sleep(0.5)
    assert len(await sending.sampling.stores.invitations.by_campaign("demo")) == len(events)
