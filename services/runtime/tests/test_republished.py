"""A sequence-mode consumer refuses an event id it applied, published again after the window."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from sipas_contracts import subjects
from sipas_contracts.ids import uuid7
from sipas_contracts.streams import RESPONSES, ConsumerSpec
from sipas_contracts.testing import response
from sipas_runtime.batches import Batch, Delivery
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.republished import RepublishedGuard, made_at
from sipas_runtime.service import ServiceRuntime
from sipas_runtime.settings import ServiceSettings
from sipas_runtime.streams import ensure_streams
from sipas_runtime.testing import eventually
from sipas_runtime.writes import Writes

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
SPEC = ConsumerSpec(durable="probe-responses", stream=RESPONSES.name,
                    filter_subjects=(subjects.RESPONSES_RECORDED,), owner="probe",
                    ack_wait=timedelta(seconds=2))  # fmt: skip


class ProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "probe"


async def publish(nc: Any, event: Any, msg_id: str) -> int:
    headers = {**event_headers(event), "Nats-Msg-Id": msg_id}
    ack = await nc.jetstream().publish(
        subjects.response_recorded(event.unit), encode(event), headers=headers
    )
    return int(ack.seq)


async def test_a_copy_published_again_late_is_not_applied_twice(nats_url, mongo_url, db_name, nc):
    settings = ProbeSettings(nats_url=nats_url, mongo_url=mongo_url, database=db_name,
                             batch_timeout=0.01)  # fmt: skip
    runtime = ServiceRuntime(settings, title="probe")
    applied: list[int] = []

    async def handler(batch: Batch[Any], session: Any) -> list[Any]:
        applied.extend(d.seq for d in batch.fresh)
        return []

    runtime.consume(SPEC, decode=lambda data: response().model_validate_json(data),
                    handler=handler, dedup="sequence")  # fmt: skip
    await runtime.start()
    ten_minutes_ago = int((time.time() - 600) * 1000)
    old = response(event_id=uuid7(ten_minutes_ago))  # e.g. left in an outbox during an outage
    try:
        first = await publish(nc, old, str(old.event_id))
        again = await publish(nc, old, "re-sent-after-the-window")  # JetStream stores it again
        await eventually(
            lambda: runtime.registry.get_sample_value(
                "sipas_events_consumed_total",
                {"service": "probe", "consumer": SPEC.durable, "outcome": "duplicate"},
            )
        )
    finally:
        await runtime.stop()

    assert again == first + 1
    assert applied == [first]


async def test_a_late_copy_of_an_event_first_stored_on_time_is_found_in_the_stream(
    nc, mongo, db_name
):
    await ensure_streams(nc.jetstream(), replicas=1)
    event = response()  # made now, stored now: on time
    first = await publish(nc, event, str(event.event_id))
    again = await publish(nc, event, "re-sent-after-the-window")
    late = made_at(event.event_id) + timedelta(minutes=5)  # as if stored five minutes later
    lone = response(event_id=uuid7(int((time.time() - 600) * 1000)))
    alone = await publish(nc, lone, str(lone.event_id))
    guard = RepublishedGuard(SPEC.durable, RESPONSES.name, lambda: nc, lambda: mongo, db_name)
    batch: Batch[Any] = Batch(writes=Writes(db_name))
    subject = subjects.response_recorded(event.unit)
    batch.fresh += [Delivery(event, again, subject, 1, late), Delivery(lone, alone, subject, 1,
                    datetime.now(UTC))]  # fmt: skip

    async with mongo.start_session() as session:
        await guard.check(batch, session)

    assert [d.seq for d in batch.replayed] == [again]  # its first copy, #first, is on time
    assert first < again
    assert [d.seq for d in batch.fresh] == [alone]  # late, but nothing before it
    assert len(batch.writes) == 1  # a marker for the late event it keeps, none for others


async def test_an_on_time_delivery_costs_no_check(nc, mongo, db_name):
    guard = RepublishedGuard(SPEC.durable, RESPONSES.name, lambda: nc, lambda: mongo, db_name)
    event = response()
    batch: Batch[Any] = Batch(writes=Writes(db_name))
    batch.fresh.append(Delivery(event, 7, "sipas.response.recorded.u", 1, datetime.now(UTC)))

    async with mongo.start_session() as session:
        await guard.check(batch, session)

    assert len(batch.fresh) == 1
    assert len(batch.writes) == 0


def test_the_time_of_a_uuid7_is_read_back():
    at = datetime(2026, 11, 20, 9, 30, 0, 123000, tzinfo=UTC)

    assert made_at(uuid7(int(at.timestamp() * 1000))) == at
    assert made_at("not a uuid") is None
