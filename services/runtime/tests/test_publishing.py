"""Atomic batch publishing against a real nats-server (sync_interval: always)."""

from __future__ import annotations

import uuid

import pytest
from nats.aio.client import Client
from nats.js import api

from sipas_contracts.testing import dossier, response
from sipas_runtime.metrics import RuntimeMetrics, new_registry
from sipas_runtime.publishing import (
    BatchRefusedError,
    EventPublisher,
    Outgoing,
    publish_atomic,
    publish_batched,
)
from sipas_runtime.streams import ensure_streams

pytestmark = [pytest.mark.nats]


def publisher(nc: Client, *, batch: int = 500) -> EventPublisher:
    metrics = RuntimeMetrics("probe", new_registry())
    return EventPublisher(nc.jetstream(), metrics, nc=nc, batch=batch)


async def messages_in(nc: Client, stream: str) -> int:
    return (await nc.jetstream().stream_info(stream)).state.messages


async def test_events_of_several_types_are_stored_in_order_in_their_streams(nc):
    await ensure_streams(nc.jetstream(), replicas=1)
    events = [dossier() for _ in range(7)] + [response() for _ in range(3)] + [dossier()]

    count = await publisher(nc, batch=3).publish_many(events, atomic=True)

    assert count == 11
    assert await messages_in(nc, "SIPAS_DOSSIERS") == 8
    assert await messages_in(nc, "SIPAS_RESPONSES") == 3
    stored = [await nc.jetstream().get_msg("SIPAS_DOSSIERS", seq) for seq in range(1, 9)]
    expected = [e for e in events if e.event_type == "dossier.completed"]
    assert [m.headers["Nats-Msg-Id"] for m in stored] == [str(e.event_id) for e in expected]


async def test_a_batch_with_an_already_stored_event_falls_back_to_one_by_one(nc):
    await ensure_streams(nc.jetstream(), replicas=1)
    seen = dossier()
    await publisher(nc).publish_many([seen])
    fresh = [dossier() for _ in range(4)]

    await publisher(nc).publish_many([fresh[0], seen, *fresh[1:], fresh[2]], atomic=True)

    assert await messages_in(nc, "SIPAS_DOSSIERS") == 5


async def test_the_server_refusal_names_the_reason(nc):
    js = nc.jetstream()
    await js.add_stream(api.StreamConfig(name="PLAIN", subjects=["plain.>"]))
    message = Outgoing("plain.x", b"{}", {"Nats-Msg-Id": uuid.uuid4().hex})

    with pytest.raises(BatchRefusedError) as info:
        await publish_atomic(nc, [message])

    assert info.value.err_code == 10174
    await publish_batched(js, nc, [message, message])
    assert await messages_in(nc, "PLAIN") == 1


async def test_without_atomic_each_event_is_acked_on_its_own(nc):
    await ensure_streams(nc.jetstream(), replicas=1)
    events = [dossier() for _ in range(5)]

    assert await publisher(nc).publish_many([*events, events[0]]) == 6

    assert await messages_in(nc, "SIPAS_DOSSIERS") == 5


async def test_an_empty_or_oversized_atomic_batch_is_refused_before_sending(nc):
    with pytest.raises(ValueError, match="1 to 1000"):
        await publish_atomic(nc, [])
