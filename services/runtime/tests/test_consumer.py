"""The idempotent consumer against a real nats-server and Mongo-wire server."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any, ClassVar

import nats.errors
import pytest
from nats.aio.client import Client
from nats.js import api
from pymongo.errors import AutoReconnect, PyMongoError

from sipas_contracts import subjects
from sipas_contracts.events import ResponseRecorded
from sipas_contracts.streams import DOSSIERS, RESPONSES, ConsumerSpec
from sipas_contracts.testing import dossier, response
from sipas_runtime import frames
from sipas_runtime.batches import Batch
from sipas_runtime.consumer import IdempotentConsumer
from sipas_runtime.decoding import RejectedError
from sipas_runtime.dlq.letters import decode_reason
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.service import ServiceRuntime
from sipas_runtime.settings import ServiceSettings
from sipas_runtime.streams import consumer_config, ensure_streams
from sipas_runtime.testing import eventually

pytestmark = [pytest.mark.nats, pytest.mark.mongo]


class ProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "probe"


def spec(durable: str = "probe-responses", **overrides: Any) -> ConsumerSpec:
    fields = {
        "durable": durable,
        "stream": RESPONSES.name,
        "filter_subjects": (subjects.RESPONSES_RECORDED,),
        "owner": "probe",
        "ack_wait": timedelta(seconds=2),
    }
    return ConsumerSpec(**{**fields, **overrides})


def decode(data: bytes) -> ResponseRecorded:
    return ResponseRecorded.model_validate_json(data)


class Effects:
    """A handler whose effect is one document per response, in the same transaction."""

    def __init__(
        self, runtime: ServiceRuntime, fail_on: Callable[[ResponseRecorded], bool] | None = None
    ) -> None:
        self.runtime = runtime
        self.fail_on = fail_on or (lambda _e: False)
        self.calls = 0
        self.transient_failures = 0

    async def __call__(self, batch: Batch[ResponseRecorded], session: Any) -> list[Any]:
        self.calls += 1
        if self.transient_failures:
            self.transient_failures -= 1
            raise AutoReconnect("simulated failover")
        for delivery in batch.fresh:
            await self.runtime.db["effects"].insert_one(
                {"response_id": str(delivery.event.response_id)}, session=session
            )
            if self.fail_on(delivery.event):
                raise ValueError(f"cannot score unit {delivery.event.unit}")
        return []


@pytest.fixture
async def runtime(nats_url: str, mongo_url: str, db_name: str) -> AsyncIterator[ServiceRuntime]:
    settings = ProbeSettings(
        nats_url=nats_url, mongo_url=mongo_url, database=db_name, batch_timeout=0.01
    )
    rt = ServiceRuntime(settings, title="probe")
    yield rt
    if rt.ready:
        await rt.stop()


async def publish(nc: Client, event: ResponseRecorded, *, msg_id: str | None = None) -> None:
    headers = event_headers(event)
    if msg_id is not None:
        headers["Nats-Msg-Id"] = msg_id
    await nc.jetstream().publish(
        subjects.response_recorded(event.unit), encode(event), headers=headers
    )


async def publish_raw(nc: Client, data: bytes, unit: str = "ht-nx-co-dam") -> None:
    await nc.jetstream().publish(subjects.response_recorded(unit), data)


async def effect_count(runtime: ServiceRuntime) -> int:
    return await runtime.db["effects"].count_documents({})


async def dead_letters(nc: Client) -> list[Any]:
    js = nc.jetstream()
    info = await js.stream_info("SIPAS_DLQ")
    return [await js.get_msg("SIPAS_DLQ", seq) for seq in range(1, info.state.messages + 1)]


def counter(runtime: ServiceRuntime, outcome: str, consumer: str = "probe-responses") -> float:
    return (
        runtime.registry.get_sample_value(
            "sipas_events_consumed_total",
            {"service": "probe", "consumer": consumer, "outcome": outcome},
        )
        or 0.0
    )


async def test_a_republished_event_has_one_effect(runtime, nc):
    effects = Effects(runtime)
    runtime.consume(spec(), decode=decode, handler=effects)
    await runtime.start()
    event = response()

    await publish(nc, event)
    await publish(nc, event, msg_id="another-id-beyond-the-dedup-window")

    await eventually(lambda: counter(runtime, "duplicate") == 1)
    assert await effect_count(runtime) == 1
    assert counter(runtime, "applied") == 1


async def test_malformed_json_goes_to_the_dlq_with_the_reason(runtime, nc):
    runtime.consume(spec(), decode=decode, handler=Effects(runtime))
    await runtime.start()

    await publish_raw(nc, b'{"not json')
    await publish(nc, response())

    await eventually(lambda: counter(runtime, "applied") == 1)
    [letter] = await dead_letters(nc)
    assert letter.headers["Sipas-Dlq-Kind"] == "malformed"
    assert "Invalid JSON" in letter.headers["Sipas-Dlq-Reason"]
    assert letter.data == b'{"not json'
    assert letter.headers["Sipas-Dlq-Consumer"] == "probe-responses"


async def test_a_schema_violation_names_the_field(runtime, nc):
    runtime.consume(spec(), decode=decode, handler=Effects(runtime))
    await runtime.start()
    payload = response().model_dump(mode="json")
    del payload["unit"]
    payload["applicant_kind"] = "robot"

    await publish_raw(nc, json.dumps(payload).encode())

    await eventually(lambda: counter(runtime, "dead_lettered") == 1)
    [letter] = await dead_letters(nc)
    reason = decode_reason(letter.headers["Sipas-Dlq-Reason"])
    assert letter.headers["Sipas-Dlq-Kind"] == "schema"
    assert "unit: Field required" in reason
    assert "applicant_kind: Input should be 'individual' or 'organisation'" in reason


async def test_a_failing_event_is_isolated_and_its_partial_effect_rolled_back(runtime, nc):
    runtime.consume(
        spec(), decode=decode, handler=Effects(runtime, fail_on=lambda e: e.unit == "ht-nx-co-dam")
    )
    good = [response(unit="ht-nx-xuan-hoi") for _ in range(5)]
    bad = response(unit="ht-nx-co-dam")
    await ensure_streams(nc.jetstream(), replicas=1)  # publish first so they arrive as one batch
    for event in [*good[:2], bad, *good[2:]]:
        await publish(nc, event)

    await runtime.start()

    await eventually(lambda: counter(runtime, "dead_lettered") == 1)
    await eventually(lambda: counter(runtime, "applied") == 5)
    assert await effect_count(runtime) == 5
    assert await runtime.db["effects"].count_documents({"response_id": str(bad.response_id)}) == 0
    [letter] = await dead_letters(nc)
    assert letter.headers["Sipas-Dlq-Kind"] == "handler_error"
    assert "cannot score unit ht-nx-co-dam" in decode_reason(letter.headers["Sipas-Dlq-Reason"])


async def test_transient_database_errors_are_retried_not_dead_lettered(runtime, nc):
    effects = Effects(runtime)
    effects.transient_failures = 2
    runtime.consume(spec(), decode=decode, handler=effects)
    await runtime.start()

    await publish(nc, response())

    await eventually(lambda: counter(runtime, "applied") == 1)
    assert effects.calls == 3
    assert counter(runtime, "dead_lettered") == 0
    assert (
        runtime.registry.get_sample_value(
            "sipas_transient_errors_total", {"service": "probe", "consumer": "probe-responses"}
        )
        == 2
    )


async def test_a_crash_between_commit_and_ack_causes_no_second_effect(runtime, nc, monkeypatch):
    effects = Effects(runtime)
    consumer = runtime.consume(spec(), decode=decode, handler=effects)
    original = consumer.process
    crashed = asyncio.Event()
    lost: list[Any] = []  # the process "dies" after committing these, before acking them
    acknowledge = frames.ack

    async def ack_unless_lost(messages: list[Any]) -> None:
        await acknowledge([m for m in messages if not any(m is x for x in lost)])

    monkeypatch.setattr(frames, "ack", ack_unless_lost)

    async def crash_once_before_ack(messages: list[Any], **options: Any) -> None:
        if crashed.is_set():
            await original(messages, **options)
            return
        lost.extend(messages)
        await original(messages, **options)
        crashed.set()

    consumer.process = crash_once_before_ack  # type: ignore[method-assign]
    await runtime.start()

    await publish(nc, response())

    await eventually(lambda: counter(runtime, "duplicate") == 1, seconds=15)  # after ack_wait
    assert await effect_count(runtime) == 1


async def test_sequence_mode_skips_what_the_watermark_covers(runtime, nc, db_name):
    runtime.consume(spec(), decode=decode, handler=Effects(runtime), dedup="sequence")
    await runtime.start()
    await publish(nc, response())
    await eventually(lambda: counter(runtime, "applied") == 1)

    await runtime.db["consumer_watermarks"].update_one(
        {"_id": "probe-responses"}, {"$set": {"seq": 5}}
    )
    for _ in range(5):
        await publish(nc, response())

    await eventually(lambda: counter(runtime, "applied") == 2)
    assert counter(runtime, "duplicate") == 4
    assert await effect_count(runtime) == 2


async def test_sequence_mode_numbers_committed_batches_and_stores_the_number(runtime, nc):
    versions: list[int | None] = []
    effects = Effects(runtime)

    async def handler(batch: Batch[ResponseRecorded], session: Any) -> list[Any]:
        versions.append(batch.version)
        batch.on_commit(lambda: committed.append(batch.version))
        return await effects(batch, session)

    committed: list[int | None] = []
    runtime.consume(spec(), decode=decode, handler=handler, dedup="sequence")
    await runtime.start()
    for _ in range(3):
        await publish(nc, response())
        await eventually(lambda: len(committed) == len(versions) and len(versions) > 0)
    await eventually(lambda: counter(runtime, "applied") == 3)

    assert versions == committed  # every attempt committed, callbacks after the commit
    assert versions == list(range(1, len(versions) + 1))
    stored = await runtime.db["consumer_watermarks"].find_one({"_id": "probe-responses"})
    assert stored is not None
    assert stored["v"] == len(versions)
    assert stored["seq"] == 3


async def test_a_rolled_back_batch_leaves_no_trace_in_the_kept_applied_set(runtime, nc):
    """The driver retries a transaction whose handler failed after the set was written.

    If the rolled-back set were kept, the retry would take its own message for a replay
    and its effect would be lost.
    """
    effects = Effects(runtime)
    attempts = {"n": 0}
    callbacks: list[int | None] = []

    async def handler(batch: Batch[ResponseRecorded], session: Any) -> list[Any]:
        attempts["n"] += 1
        await effects(batch, session)
        batch.on_commit(lambda: callbacks.append(batch.version))
        if attempts["n"] % 2 == 1:  # every other attempt aborts after writing everything
            raise PyMongoError("write conflict", error_labels=["TransientTransactionError"])
        return []

    runtime.consume(spec(), decode=decode, handler=handler, dedup="sequence")
    await runtime.start()
    for _ in range(4):
        await publish(nc, response())
        await eventually(lambda: attempts["n"] % 2 == 0 and attempts["n"] > 0)

    await eventually(lambda: counter(runtime, "applied") == 4)
    assert await effect_count(runtime) == 4
    assert counter(runtime, "duplicate") == 0
    assert callbacks == list(range(1, len(callbacks) + 1))  # only committed attempts


async def test_two_instances_on_one_durable_apply_every_message_once(
    nats_url, mongo_url, db_name, nc
):
    """Each instance keeps its own copy of the applied set; under real concurrency every
    message is still applied exactly once (the deterministic case is the next test)."""
    settings = ProbeSettings(
        nats_url=nats_url, mongo_url=mongo_url, database=db_name, batch_timeout=0.01, batch_size=5
    )
    instances = [ServiceRuntime(settings, title="probe") for _ in range(2)]
    for instance in instances:
        instance.consume(spec(), decode=decode, handler=Effects(instance), dedup="sequence")
        await instance.start()
    try:
        total = 120
        for i in range(total):
            await publish(nc, response())
            if i % 10 == 0:
                await asyncio.sleep(0.02)  # let both instances take turns

        def applied() -> float:
            return sum(counter(instance, "applied") for instance in instances)

        await eventually(lambda: applied() == total, seconds=30)
        assert await effect_count(instances[0]) == total
        ids = await instances[0].db["effects"].distinct("response_id")
        assert len(ids) == total
        assert all(counter(instance, "applied") > 0 for instance in instances)
    finally:
        for instance in instances:
            await instance.stop()


async def test_a_kept_applied_set_made_stale_by_another_instance_is_noticed(runtime, nc):
    """Deterministic interleaving: A keeps the set, B writes behind its back, A again."""
    await runtime.start()
    js = nc.jetstream()
    await js.add_consumer(RESPONSES.name, consumer_config(spec(), max_deliver=10))
    for _ in range(3):
        await publish(nc, response())
    sub = await js.pull_subscribe_bind("probe-responses", stream=RESPONSES.name)
    first, second, third = await sub.fetch(3, timeout=5)

    def instance() -> IdempotentConsumer[ResponseRecorded]:
        return IdempotentConsumer(
            spec=spec(),
            decode=decode,
            handler=Effects(runtime),
            client=lambda: runtime.mongo,
            database=runtime.settings.database_name,
            publisher=lambda: runtime.publisher,
            dead_letters=lambda: runtime.dead_letters,
            metrics=runtime.metrics,
            dedup="sequence",
        )

    a, b = instance(), instance()
    await a.process([first])  # A reads, commits version 1 and keeps the set
    await b.process([second])  # B reads version 1, commits version 2
    await a.process([third])  # A's kept set is stale: noticed, re-read, applied once

    assert await effect_count(runtime) == 3
    assert counter(runtime, "applied") == 3
    stale = runtime.registry.get_sample_value(
        "sipas_consumer_stale_applied_sets_total",
        {"service": "probe", "consumer": "probe-responses"},
    )
    assert stale == 1
    stored = await runtime.db["consumer_watermarks"].find_one({"_id": "probe-responses"})
    assert stored is not None
    assert (stored["seq"], stored["v"]) == (3, 3)


async def test_messages_redelivered_too_often_go_to_the_dlq(nats_url, mongo_url, db_name, nc):
    settings = ProbeSettings(
        nats_url=nats_url, mongo_url=mongo_url, database=db_name, max_deliveries=2
    )
    runtime = ServiceRuntime(settings, title="probe")
    runtime.consume(spec(), decode=decode, handler=Effects(runtime))
    await runtime.start()
    await runtime.stop()  # streams and the durable consumer now exist
    await publish(nc, response())
    sub = await nc.jetstream().pull_subscribe_bind("probe-responses", stream=RESPONSES.name)
    for _ in range(2):  # two deliveries that never succeed
        [msg] = await sub.fetch(1, timeout=5)
        await msg.nak()
    runtime = ServiceRuntime(settings, title="probe")
    runtime.consume(spec(), decode=decode, handler=Effects(runtime))
    await runtime.start()
    try:
        await eventually(lambda: counter(runtime, "dead_lettered") == 1)
        [letter] = await dead_letters(nc)
        assert letter.headers["Sipas-Dlq-Kind"] == "max_deliveries"
        assert await effect_count(runtime) == 0
    finally:
        await runtime.stop()


async def test_pull_loop_delivers_every_message_promptly(runtime, nc):
    seen: dict[str, float] = {}
    loop = asyncio.get_running_loop()

    async def handler(batch: Batch[ResponseRecorded], session: Any) -> list[Any]:
        for delivery in batch.fresh:
            seen[str(delivery.event.response_id)] = loop.time()
        return []

    runtime.consume(spec(), decode=decode, handler=handler)
    await runtime.start()
    sent: dict[str, float] = {}
    for i in range(200):
        event = response()
        sent[str(event.response_id)] = loop.time()
        await publish(nc, event)
        if i % 10 == 0:
            await asyncio.sleep(0.03)  # idle gaps: where a fetch timeout could lose one

    await eventually(lambda: len(seen) == 200, seconds=10)
    slowest = max(seen[k] - sent[k] for k in sent)
    assert slowest < 1.0, f"a message waited {slowest:.2f}s (redelivery instead of delivery)"


async def test_a_paced_consumer_takes_what_arrives_meanwhile_in_one_batch(runtime, nc):
    pace = 0.4
    loop = asyncio.get_running_loop()
    batches: list[tuple[float, int]] = []

    async def handler(batch: Batch[ResponseRecorded], session: Any) -> list[Any]:
        batches.append((loop.time(), len(batch.fresh)))
        return []

    runtime.consume(spec(), decode=decode, handler=handler, dedup="sequence", pace=pace)
    await runtime.start()
    first = loop.time()
    for _ in range(60):  # one every 20 ms for 1.2 s: unpaced, that is dozens of batches
        await publish(nc, response())
        await asyncio.sleep(0.02)
    publishing = loop.time() - first  # longer than 1.2 s on a loaded machine

    await eventually(lambda: sum(n for _, n in batches) == 60, seconds=10)
    starts = [at for at, _ in batches]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # One batch at the start, one per pace while messages arrive, one that drains the rest.
    assert len(batches) <= math.ceil(publishing / pace) + 2, (publishing, batches)
    assert len(batches) < 60 / 4, batches  # unpaced, nearly every message is a batch
    # Batches begin ``pace`` apart; the handler sees each after decoding it, which a loaded
    # machine may slow for one batch more than the next (seen: 0.379 s apart). Unpaced, the
    # gaps are the publisher's 20 ms.
    assert all(gap >= pace / 2 for gap in gaps), gaps


async def test_a_paced_consumer_with_a_backlog_takes_full_batches_without_waiting(runtime, nc):
    # The first batch is held until 100 more wait: 10 batches of 10, which at a pace of 2 s
    # would take 18 s more; full batches do not wait for the pace.
    batches: list[int] = []
    backlog = asyncio.Event()

    async def handler(batch: Batch[ResponseRecorded], session: Any) -> list[Any]:
        batches.append(len(batch.fresh))
        await backlog.wait()
        return []

    runtime.consume(
        spec(), decode=decode, handler=handler, dedup="sequence", pace=2.0, batch_size=10
    )
    await runtime.start()
    await publish(nc, response())
    await eventually(lambda: batches == [1])
    for _ in range(100):
        await publish(nc, response())
    released = time.monotonic()
    backlog.set()

    await eventually(lambda: sum(batches) == 101, seconds=25)
    # the second batch waits for the pace (the first was not full), the full ones do not
    assert time.monotonic() - released < 8, batches
    assert len(batches) <= 13, batches


def test_consumer_config_bounds_redelivery_above_the_dlq_threshold():
    config = consumer_config(spec(), max_deliver=10)

    assert config.max_deliver == 11
    assert config.ack_policy == api.AckPolicy.EXPLICIT


async def test_a_message_decoder_sees_the_subject_and_headers(runtime, nc):
    seen: list[tuple[str, str]] = []

    def decode_message(msg: Any) -> ResponseRecorded:
        seen.append((msg.subject, (msg.headers or {}).get("Sipas-Format", "")))
        if msg.subject.endswith("ht-nx-co-dam"):
            raise RejectedError("this unit is closed", kind="rejected")
        return decode(msg.data)

    runtime.consume(spec(), decode_message=decode_message, handler=Effects(runtime))
    await runtime.start()
    good = response(unit="ht-nx-xuan-hoi")
    headers = {**event_headers(good), "Sipas-Format": "probe"}
    await nc.jetstream().publish(
        subjects.response_recorded(good.unit), encode(good), headers=headers
    )
    await publish(nc, response(unit="ht-nx-co-dam"))

    await eventually(lambda: counter(runtime, "applied") == 1)
    await eventually(lambda: counter(runtime, "dead_lettered") == 1)
    assert seen[0] == ("sipas.response.recorded.ht-nx-xuan-hoi", "probe")


def test_a_consumer_needs_exactly_one_decoder(runtime):
    with pytest.raises(TypeError, match="exactly one"):
        runtime.consume(spec(), handler=Effects(runtime))
    with pytest.raises(TypeError, match="exactly one"):
        runtime.consume(spec(), decode=decode, decode_message=lambda m: m, handler=Effects(runtime))


async def test_a_handler_that_dedups_itself_sees_every_delivery_as_fresh(runtime, nc):
    seen: list[int] = []

    async def handler(batch: Batch[ResponseRecorded], session: Any) -> list[Any]:
        seen.extend(d.seq for d in batch.fresh)
        assert not batch.replayed
        return []

    runtime.consume(spec(), decode=decode, handler=handler, dedup="handler")
    await runtime.start()
    event = response()

    await publish(nc, event)
    await publish(nc, event, msg_id="the-same-event-again")

    await eventually(lambda: len(seen) == 2)
    assert await runtime.db["consumer_watermarks"].count_documents({}) == 0  # nothing shared
    written = await runtime.db["processed_events"].find().to_list()
    assert all(doc["_id"].startswith("probe-responses|") for doc in written)  # position only


class Relay:
    """A handler whose effect is one document per response and whose output is one
    dossier event per response; replays re-emit it (rebuilt from the stored effect)."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def __call__(self, batch: Batch[ResponseRecorded], session: Any) -> list[Any]:
        for delivery in batch.fresh:
            await self.runtime.db["effects"].insert_one({"_id": delivery.seq}, session=session)
        return [
            dossier(event_id=uuid.uuid5(uuid.NAMESPACE_OID, str(d.seq)), dossier_id=f"D-{d.seq}")
            for d in [*batch.fresh, *batch.replayed]
        ]


async def relayed(nc: Client) -> list[str]:
    """Dossier ids stored on the dossier stream, in stream order."""
    js = nc.jetstream()
    count = (await js.stream_info(DOSSIERS.name)).state.messages
    return [
        json.loads((await js.get_msg(DOSSIERS.name, seq)).data)["dossier_id"]
        for seq in range(1, count + 1)
    ]


async def ack_pending(nc: Client, durable: str = "probe-responses") -> int:
    return (await nc.jetstream().consumer_info(RESPONSES.name, durable)).num_ack_pending


async def test_a_slow_publish_holds_up_neither_the_next_batches_nor_the_order_of_events(
    nats_url, mongo_url, db_name, nc
):
    settings = ProbeSettings(nats_url=nats_url, mongo_url=mongo_url, database=db_name, batch_size=1)
    runtime = ServiceRuntime(settings, title="probe")
    runtime.consume(spec(), decode=decode, handler=Relay(runtime), dedup="sequence")
    await runtime.start()
    try:
        publisher, gate = runtime.publisher, asyncio.Event()
        real = publisher.publish_many

        async def first_waits(events: Any, **options: Any) -> int:
            await gate.wait()  # the event server is slow to store the first batch's events
            return await real(events, **options)

        publisher.publish_many = first_waits  # type: ignore[method-assign]
        for _ in range(3):
            await publish(nc, response())

        await eventually(lambda: _equals(effect_count(runtime), 3))  # all three committed
        assert await relayed(nc) == []  # nothing published yet ...
        assert await ack_pending(nc) == 3  # ... so nothing acked
        gate.set()
        await eventually(lambda: _equals(relayed(nc), ["D-1", "D-2", "D-3"]))  # batch order
        await eventually(lambda: _equals(ack_pending(nc), 0))
    finally:
        await runtime.stop()


async def test_a_batch_whose_events_fail_to_publish_is_redelivered_and_published_once(runtime, nc):
    runtime.consume(spec(), decode=decode, handler=Relay(runtime), dedup="sequence")
    await runtime.start()
    publisher, failures = runtime.publisher, [1]
    real = publisher.publish_many

    async def first_fails(events: Any, **options: Any) -> int:
        if failures:
            failures.pop()
            raise nats.errors.TimeoutError  # committed, but the events were not stored
        return await real(events, **options)

    publisher.publish_many = first_fails  # type: ignore[method-assign]
    await publish(nc, response())

    await eventually(lambda: _equals(relayed(nc), ["D-1"]), seconds=15)  # after the nak delay
    await eventually(lambda: counter(runtime, "duplicate") == 1)
    assert await effect_count(runtime) == 1
    await eventually(lambda: _equals(ack_pending(nc), 0))
    await asyncio.sleep(0.5)
    assert await relayed(nc) == ["D-1"]


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)
