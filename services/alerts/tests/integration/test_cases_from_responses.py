"""Responses become cases on the right unit; duplicates do not; deadlines escalate."""

from __future__ import annotations

import asyncio
import email
import re
from datetime import timedelta
from email import policy

import pytest

from sipas_alerts.store.cases import ALERTS
from sipas_contracts.testing import NOW, response
from sipas_runtime.channels import verify_signature
from sipas_runtime.privacy import seal

pytestmark = [pytest.mark.nats, pytest.mark.mongo]


async def cases(harness, who="snv", **params):
    answer = await harness.get("/v1/cases", who, **params)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def metric(harness, name, labels):
    return harness.service.runtime.registry.get_sample_value(name, labels) or 0.0


async def test_a_rating_of_one_becomes_a_case_on_the_right_unit(harness):
    event = response(unit="ht-nx-co-dam", answers={"HL.DV.E3.1": 1, "HL.DV.E1.1": 5})

    await harness.publish(event)

    [case] = await harness.eventually(lambda: cases(harness))
    assert case["unit"] == "ht-nx-co-dam"
    assert case["unit_name"] == "Xã Cổ Đạm"
    assert case["rule"] == "low_rating"
    assert case["severity"] == "critical"
    assert case["state"] == "open"
    assert case["alerts"] == 1
    assert case["acknowledge_due_at"] == "2026-11-17T02:00:00Z"  # Tuesday 09:00 local
    await harness.eventually(lambda: harness.events("case.updated"))
    [opened] = harness.events("case.updated")
    assert opened["change"] == "opened"
    assert opened["case_id"] == case["case_id"]
    [alert] = await harness.eventually(lambda: harness.events("alert.raised"))
    assert alert["case_id"] == case["case_id"]
    assert alert["source_event_id"] == str(event.event_id)
    labels = {"rule": "low_rating", "unit": "ht-nx-co-dam"}
    assert metric(harness, "sipas_alerts_cases_opened_total", labels) == 1


async def test_a_duplicate_delivery_does_not_create_a_second_case(harness):
    event = response(unit="ht-nx-co-dam", answers={"HL.DV.E1.1": 1})

    await harness.publish(event)
    await harness.publish(event, msg_id="redelivered-after-the-dedup-window")
    await harness.publish(response(unit="ht-nx-xuan-an", answers={"HL.DV.E1.1": 5}))

    runtime = harness.service.runtime
    consumed = {"service": "alerts", "consumer": "alerts-responses"}
    await harness.eventually(
        lambda: (
            metric(harness, "sipas_events_consumed_total", {**consumed, "outcome": "applied"}) == 2
        )
    )
    await harness.eventually(
        lambda: (
            metric(harness, "sipas_events_consumed_total", {**consumed, "outcome": "duplicate"})
            == 1
        )
    )
    [case] = await cases(harness)
    assert case["alerts"] == 1
    assert await runtime.db["alerts"].count_documents({}) == 1
    assert await runtime.db["cases"].count_documents({}) == 1
    # The redelivery re-published the same events (same ids: JetStream drops the copies).
    alerts = await harness.eventually(
        lambda: len(harness.events("alert.raised")) == 2 and harness.events("alert.raised")
    )
    opened = await harness.eventually(
        lambda: len(harness.events("case.updated")) == 2 and harness.events("case.updated")
    )
    assert alerts[0]["event_id"] == alerts[1]["event_id"]
    assert alerts[0]["case_id"] == alerts[1]["case_id"] == case["case_id"]
    assert opened[0] == opened[1]


async def test_ratings_of_one_unit_in_one_week_share_a_case(harness):
    for _ in range(3):
        await harness.publish(response(unit="ht-nx-co-dam", answers={"HL.DV.E1.1": 2}))
    await harness.publish(response(unit="ht-nx-co-dam", answers={"ND.6": 3}))
    await harness.publish(response(unit="ht-nx-xuan-hoi", answers={"HL.DV.E1.1": 1}))

    found = await harness.eventually(lambda: _settled(harness, expected_alerts=5), seconds=15)

    by_key = {(c["unit"], c["rule"]): c for c in found}
    assert set(by_key) == {
        ("ht-nx-co-dam", "low_rating"),
        ("ht-nx-co-dam", "extra_payment"),
        ("ht-nx-xuan-hoi", "low_rating"),
    }
    assert by_key["ht-nx-co-dam", "low_rating"]["alerts"] == 3
    assert by_key["ht-nx-co-dam", "extra_payment"]["severity"] == "critical"


async def _settled(harness, *, expected_alerts):
    found = await cases(harness)
    return found if sum(c["alerts"] for c in found) == expected_alerts else None


async def test_a_hit_after_the_case_was_resolved_opens_a_follow_up_case(harness):
    await harness.publish(response(unit="ht-nx-co-dam", answers={"HL.DV.E1.1": 1}))
    [case] = await harness.eventually(lambda: cases(harness))
    for action, note in (("acknowledge", None), ("start", None), ("resolve", "Đã xử lý")):
        answer = await harness.post(
            f"/v1/cases/{case['case_id']}/transitions",
            "handler-co-dam",
            {"action": action, "note": note},
        )
        assert answer.status_code == 200, answer.text

    later = NOW + timedelta(hours=1)
    await harness.publish(
        response(unit="ht-nx-co-dam", occurred_at=later, answers={"HL.DV.E1.1": 1})
    )

    both = await harness.eventually(lambda: _two(harness))
    newest, older = both
    assert older["state"] == "resolved"
    assert newest["state"] == "open"
    detail = (await harness.get(f"/v1/cases/{newest['case_id']}", "snv")).json()
    assert detail["follows"] == case["case_id"]


async def _two(harness):
    found = await cases(harness)
    return found if len(found) == 2 else None


async def test_an_unacknowledged_case_escalates_when_its_deadline_passes(harness):
    await harness.publish(response(unit="ht-nx-co-dam", answers={"HL.DV.E1.1": 1}))
    [case] = await harness.eventually(lambda: cases(harness))
    sweeper = harness.service.sweeper

    harness.clock.advance(hours=23)  # Tuesday 08:00 local: still within one working day
    assert await sweeper.deadlines() == 0
    harness.clock.advance(hours=1, seconds=1)  # past Tuesday 09:00
    assert await sweeper.deadlines() == 1
    assert await sweeper.deadlines() == 0  # escalated once only

    detail = (await harness.get(f"/v1/cases/{case['case_id']}", "snv")).json()
    assert detail["escalated_to"] == ["snv"]
    assert detail["overdue"] is True
    assert [b["kind"] for b in detail["breaches"]] == ["acknowledge"]
    assert detail["audit"][-1]["action"] == "escalated"
    escalated = await harness.eventually(
        lambda: [e for e in harness.events("case.updated") if e["change"] == "escalated"]
    )
    assert escalated[0]["breach"] == "acknowledge"
    assert escalated[0]["escalated_to"] == ["snv"]
    labels = {"kind": "acknowledge", "unit": "ht-nx-co-dam"}
    assert metric(harness, "sipas_alerts_sla_breaches_total", labels) == 1
    assert metric(harness, "sipas_alerts_overdue_cases", {}) == 1
    queued = {n["recipient"] for n in detail["notifications"] if n["kind"] == "escalated"}
    assert "snv@example.gov.vn" in queued


async def test_two_instances_sweeping_at_once_escalate_once(harness, settings, smtp):
    from sipas_alerts.app import AlertsService

    other = AlertsService(settings.model_copy(update={"instance_id": "other"}), clock=harness.clock)
    await other.runtime.start()
    try:
        await harness.publish(response(unit="ht-nx-co-dam", answers={"HL.DV.E1.1": 1}))
        [case] = await harness.eventually(lambda: cases(harness))
        harness.clock.advance(days=2)

        stored = await harness.service.stores.cases.get(case["case_id"])
        results = await asyncio.gather(
            harness.service.desk.advance(stored), other.desk.advance(stored)
        )
        swept = await asyncio.gather(harness.service.sweeper.deadlines(), other.sweeper.deadlines())
    finally:
        await other.runtime.stop()

    assert sorted(len(steps) for steps in results) == [0, 1]
    assert swept == [0, 0]  # nothing left to do for either
    final = await harness.service.stores.cases.get(case["case_id"])
    assert len(final.breaches) == 1
    assert final.version == 2


async def test_the_unit_and_the_agency_are_notified_by_email_and_signed_webhook(harness):
    await harness.publish(response(unit="ht-nx-co-dam", answers={"HL.DV.E1.1": 1}))
    [case] = await harness.eventually(lambda: cases(harness))

    sent = await harness.service.dispatcher.run_once()

    assert sent == 2
    [mail] = harness.inbox.messages
    parsed = email.message_from_bytes(mail.content, policy=policy.default)
    assert parsed["Subject"] == "[SIPAS] Cảnh báo mới: Đánh giá không hài lòng — Xã Cổ Đạm"
    body = parsed.get_body(("plain",)).get_content()
    assert f"https://bangdieukhien.example.gov.vn/cases/{case['case_id']}" in body
    assert "Hạn tiếp nhận: 09:00 17/11/2026" in body
    assert mail.rcpt_tos == ["motcua.codam@example.gov.vn"]
    [(headers, payload)] = harness.webhooks
    assert verify_signature(b"w" * 32, headers["X-Sipas-Signature"], payload)
    assert headers["Idempotency-Key"].startswith(case["case_id"])
    assert await harness.service.dispatcher.run_once() == 0  # nothing sent twice

    harness.clock.advance(days=1, seconds=1)
    await harness.service.sweeper.deadlines()
    await harness.service.dispatcher.run_once()

    assert sorted(r for m in harness.inbox.messages for r in m.rcpt_tos) == [
        "motcua.codam@example.gov.vn",
        "motcua.codam@example.gov.vn",
        "snv@example.gov.vn",
    ]
    to_snv = next(m for m in harness.inbox.messages if m.rcpt_tos == ["snv@example.gov.vn"])
    subject = email.message_from_bytes(to_snv.content, policy=policy.default)["Subject"]
    assert subject.startswith("[SIPAS] Quá hạn, đã chuyển cấp trên: Đánh giá không hài lòng")


async def test_no_personal_data_reaches_events_or_notifications(harness):
    sealed = seal(harness.public_key, {"phone": "0912345678"})
    comment = "Cán bộ hách dịch, liên hệ tôi 0912 345 678 hoặc dan@example.vn"
    event = response(
        unit="ht-nx-co-dam",
        answers={"HL.DV.E1.1": 4},
        sealed_comment=seal(harness.public_key, {"comment": comment}),
        sealed_callback=sealed,
    )

    await harness.publish(event)
    [alert] = await harness.eventually(lambda: harness.events("alert.raised"))
    await harness.service.dispatcher.run_once()

    assert alert["rule"] == "negative_comment"
    assert alert["severity"] == "critical"
    published = str(harness.published)
    mails = "".join(
        m.content.decode("utf-8", "replace")  # as sent, headers included
        + "".join(  # and decoded: an encoded body would hide the number from the search
            part.get_content()
            for part in email.message_from_bytes(m.content, policy=policy.default).walk()
            if part.get_content_maintype() == "text"
        )
        for m in harness.inbox.messages
    )
    for text in (published, mails):
        # the number in any spacing (not a bare "0912": ids and hashes are hex)
        assert not re.search(r"0912\D{0,3}345\D{0,3}678", text)
        assert "dan@example.vn" not in text
        assert "hách dịch, liên" not in text
        assert sealed not in text
    stored = await harness.service.runtime.db[ALERTS].find_one({"_id": alert["alert_id"]})
    assert "0912" not in str({k: v for k, v in stored.items() if k != "sealed_comment"})
    shown = await harness.get(f"/v1/cases/{alert['case_id']}/alerts", "snv")
    assert shown.headers["X-Content-Type-Options"] == "nosniff"  # a comment is never a page
    assert shown.headers["Content-Security-Policy"].startswith("default-src 'none'")
    [reader_view] = shown.json()
    assert reader_view["details"]["comment"].startswith("Cán bộ hách dịch, liên hệ tôi [phone]")
    assert "dan@example.vn" not in reader_view["details"]["comment"]


async def test_a_version_1_comment_in_clear_is_stored_sealed(harness):
    event = response(
        schema_version=1, unit="ht-nx-co-dam", answers={"HL.DV.E1.1": 4},
        comment="Cán bộ hách dịch với chị Lan",
    )  # fmt: skip

    await harness.publish(event)

    [alert] = await harness.eventually(lambda: harness.events("alert.raised"))
    stored = await harness.service.runtime.db[ALERTS].find_one({"_id": alert["alert_id"]})
    assert "chị Lan" not in str({k: v for k, v in stored.items() if k != "sealed_comment"})
    assert harness.service.comments.open(stored["sealed_comment"]) == event.comment
