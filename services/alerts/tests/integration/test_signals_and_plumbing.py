"""Index and activity rules end to end; the outbox relay; Alertmanager; the DLQ."""

from __future__ import annotations

import email
import json
from datetime import timedelta
from email import policy
from typing import Any

import pytest

from sipas_contracts.events import IndexFigure, IndexUpdated, InvitationSent
from sipas_contracts.ids import uuid7
from sipas_contracts.testing import NOW, response
from sipas_runtime.dlq.letters import decode_reason
from sipas_runtime.publishing import EventPublisher

pytestmark = [pytest.mark.nats, pytest.mark.mongo]


def index(value, *, period, version=1, n=150, ci=3.0, unit="ht-nx-co-dam"):
    return IndexUpdated(
        event_id=uuid7(),
        occurred_at=NOW,
        producer="scoring",
        campaign_id="c2026",
        unit=unit,
        period=period,
        instrument_id="sipas-1001-2023",
        version=version,
        responses=n,
        sipas=IndexFigure(value=value, ci_low=value - ci, ci_high=value + ci, n=n, sufficient=True),
    )


def invitation(days_ago, unit="ht-nx-xuan-lam", attempt=1):
    return InvitationSent(
        event_id=uuid7(),
        occurred_at=NOW - timedelta(days=days_ago),
        producer="sampling",
        invitation_id=uuid7(),
        campaign_id="c2026",
        unit=unit,
        stratum="individual",
        channel="sms",
        draw_list="continuous",
        instrument_id="sipas-1001-2023",
        token_hash="a" * 64,
        expires_at=NOW + timedelta(days=30),
        attempt=attempt,
    )


async def cases(harness) -> list[dict[str, Any]]:
    return (await harness.get("/v1/cases", "snv")).json()["items"]


def applied_indexes(harness) -> float | None:
    consumed = {"service": "alerts", "consumer": "alerts-indexes", "outcome": "applied"}
    registry = harness.service.runtime.registry
    return registry.get_sample_value("sipas_events_consumed_total", consumed)


async def test_a_significant_drop_versus_last_month_opens_an_index_case(harness):
    figures = [
        index(90.0, period="2026-10"),
        index(88.0, period="2026-11", ci=6.0),  # within noise
        index(80.0, period="2026-11", version=2),  # CI 77-83 excludes 90
        index(79.0, period="2026-11", version=3),  # still dropped: no repeat
    ]
    # The index stream keeps the latest figure per (campaign, unit, period): a version
    # published before alerts read the previous one replaces it, so each waits its turn.
    for count, figure in enumerate(figures, start=1):
        await harness.publish(figure)
        await harness.eventually(lambda count=count: applied_indexes(harness) == count)

    [case] = await cases(harness)
    assert case["rule"] == "index_drop"
    assert case["window"] == "c2026:2026-11"
    assert case["alerts"] == 1
    assert "90.00% (2026-10) → 80.00% (2026-11)" in case["summary"]["vi"]


async def test_an_index_below_the_threshold_opens_a_case(harness):
    await harness.publish(index(64.0, period="campaign", unit="ht-nx-xuan-hoi"))

    [case] = await harness.eventually(lambda: cases(harness))

    assert case["rule"] == "index_below_threshold"
    assert case["severity"] == "critical"
    assert case["unit"] == "ht-nx-xuan-hoi"


async def test_a_unit_with_invitations_but_no_responses_is_flagged(harness):
    for days_ago in (6, 5, 5, 4, 3, 3):
        await harness.publish(invitation(days_ago))
    await harness.publish(invitation(4, attempt=2))  # a reminder is not a new invitation
    for days_ago in (6, 5, 4, 3, 3):
        await harness.publish(invitation(days_ago, unit="ht-nx-xuan-an"))
    await harness.publish(response(unit="ht-nx-xuan-an", occurred_at=NOW - timedelta(days=1)))

    activity = harness.service.runtime.db["activity"]

    async def counted() -> bool:
        docs = [d async for d in activity.find({})]
        return sum(d.get("invitations", 0) for d in docs) == 11 and any(
            d.get("responses") for d in docs
        )

    await harness.eventually(counted)
    harness.clock.now = NOW
    raised = await harness.service.sweeper.activity_rules()
    again = await harness.service.sweeper.activity_rules()

    [case] = await cases(harness)
    assert raised == 2  # the alert and the case it opened
    assert again == 0
    assert case["rule"] == "silent_unit"
    assert case["unit"] == "ht-nx-xuan-lam"
    assert "6 lời mời" in case["summary"]["vi"]
    await harness.eventually(lambda: harness.events("alert.raised"))


class BrokenPublisher(EventPublisher):
    def __init__(self) -> None:
        pass  # never reaches a server: every publish fails as if NATS were down

    async def publish_many(self, events, *, atomic=False):
        raise ConnectionError("nats is down")


async def test_events_a_failed_publish_left_behind_are_relayed(harness):
    await harness.publish(response(unit="ht-nx-co-dam", answers={"HL.DV.E1.1": 1}))
    [case] = await harness.eventually(lambda: cases(harness))
    desk = harness.service.desk
    working = desk._publisher
    desk._publisher = BrokenPublisher

    answer = await harness.post(
        f"/v1/cases/{case['case_id']}/transitions", "snv", {"action": "acknowledge"}
    )
    desk._publisher = working

    assert answer.status_code == 200  # committed: the publish is retried later
    assert await harness.service.sweeper.relay() == 0  # too fresh to be called lost
    harness.clock.advance(seconds=11)
    assert await harness.service.sweeper.relay() == 1
    await harness.eventually(
        lambda: [e for e in harness.events("case.updated") if e["change"] == "acknowledged"]
    )
    assert await harness.service.sweeper.relay() == 0


async def test_alertmanager_groups_reach_the_operators_once(harness):
    payload = {
        "version": "4",
        "groupKey": '{}:{alertname="SipasConsumerLagging"}',
        "status": "firing",
        "receiver": "sipas-alerts",
        "commonLabels": {"alertname": "SipasConsumerLagging", "service": "scoring"},
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "SipasConsumerLagging"},
                "annotations": {"summary": "scoring is 12k messages behind"},
                "startsAt": "2026-11-16T01:00:00Z",
                "fingerprint": "abc123",
            }
        ],
    }

    anonymous = await harness.http.post("/v1/hooks/alertmanager", json=payload)
    handler = await harness.post("/v1/hooks/alertmanager", "handler-co-dam", payload)
    first = await harness.post("/v1/hooks/alertmanager", "alertmanager", payload)
    repeat = await harness.post("/v1/hooks/alertmanager", "alertmanager", payload)
    await harness.service.dispatcher.run_once()

    assert (anonymous.status_code, handler.status_code) == (401, 403)
    assert first.json() == {"accepted": 1, "notifications": 1}
    assert repeat.status_code == 200
    [mail] = harness.inbox.messages
    assert mail.rcpt_tos == ["ops@example.gov.vn"]
    parsed = email.message_from_bytes(mail.content, policy=policy.default)
    assert parsed["Subject"] == "[SIPAS vận hành] FIRING: SipasConsumerLagging scoring"
    assert "scoring is 12k messages behind" in parsed.get_body(("plain",)).get_content()


async def test_a_malformed_alertmanager_payload_names_the_field(harness):
    answer = await harness.post("/v1/hooks/alertmanager", "alertmanager", {"version": "4"})

    assert answer.status_code == 422
    assert {e["field"] for e in answer.json()["errors"]} >= {"groupKey", "status", "alerts"}


async def test_a_response_on_an_unknown_instrument_is_dead_lettered_with_the_reason(harness):
    await harness.publish(response(instrument_id="sipas-9999", answers={"HL.DV.E1.1": 1}))
    await harness.publish(response(unit="ht-nx-co-dam", answers={"HL.DV.E1.1": 1}))

    await harness.eventually(lambda: cases(harness))
    js = harness.nc.jetstream()
    await harness.eventually(lambda: _dlq_count(js))
    letter = await js.get_msg("SIPAS_DLQ", 1)
    assert letter.headers["Sipas-Dlq-Kind"] == "rejected"
    assert "instrument_id: unknown instrument 'sipas-9999'" in decode_reason(
        letter.headers["Sipas-Dlq-Reason"]
    )
    assert json.loads(letter.data)["instrument_id"] == "sipas-9999"


async def _dlq_count(js) -> bool:
    return (await js.stream_info("SIPAS_DLQ")).state.messages == 1
