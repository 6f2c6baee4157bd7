"""A batch's frames, against a real nats-server: what publish and ack would do, at once."""

from __future__ import annotations

import pytest
from nats import errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api
from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

from sipas_runtime import frames

pytestmark = [pytest.mark.nats]

HEADERS = {
    "Nats-Msg-Id": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    "ce-type": "vn.sipas.dossier.completed.v1",
    " padded ": "  kept as nats-py keeps it  ",
    "broken": "a\r\nline",
    "empty": "",
}


async def received(nc: Client, subject: str, send: object) -> list[Msg]:
    sub = await nc.subscribe(subject)
    await send()  # type: ignore[operator]
    await nc.flush()
    got = [await sub.next_msg(timeout=2) for _ in range(3)]
    await sub.unsubscribe()
    return got


async def test_a_subscriber_gets_from_frames_exactly_what_publish_gives_it(nc):
    payloads = [b'{"n": 1}', b"", "việt".encode()]

    async def by_publish() -> None:
        for i, payload in enumerate(payloads):
            await nc.publish(f"probe.{i}", payload, headers=HEADERS)

    async def by_frames() -> None:
        batch = frames.Frames()
        for i, payload in enumerate(payloads):
            batch.publish(f"probe.{i}", payload, HEADERS)
        await frames.send(nc, batch)

    expected = await received(nc, "probe.>", by_publish)
    got = await received(nc, "probe.>", by_frames)

    assert [(m.subject, m.data, m.headers) for m in got] == [
        (m.subject, m.data, m.headers) for m in expected
    ]


async def test_frames_refuse_what_publish_refuses(nc):
    with pytest.raises(errors.BadHeaderError):
        frames.Frames().publish("probe.x", b"", {"bad name": "x"})
    with pytest.raises(errors.BadSubjectError):
        frames.Frames().publish("probe x", b"", {})
    batch = frames.Frames()
    batch.publish("probe.x", b"x" * (nc.max_payload + 1), {})
    with pytest.raises(errors.MaxPayloadError):
        await frames.send(nc, batch)


async def test_messages_acked_together_are_each_acked_and_not_redelivered(nc):
    js = nc.jetstream()
    await js.add_stream(api.StreamConfig(name="FRAMES", subjects=["frames.>"]))
    for i in range(5):
        await js.publish(f"frames.{i}", b"x")
    config = api.ConsumerConfig(ack_wait=1, ack_policy=api.AckPolicy.EXPLICIT)
    sub = await js.pull_subscribe("frames.>", "probe", config=config)
    fetched = await sub.fetch(5, timeout=2)

    await frames.ack(fetched[1:4])

    async for attempt in AsyncRetrying(stop=stop_after_delay(5), wait=wait_fixed(0.05)):
        with attempt:
            assert (await js.consumer_info("FRAMES", "probe")).num_ack_pending == 2
    with pytest.raises(errors.MsgAlreadyAckdError):
        await fetched[1].ack()
    again = [*await sub.fetch(1, timeout=3), *await sub.fetch(1, timeout=3)]  # after ack_wait
    assert sorted(m.metadata.sequence.stream for m in again) == [1, 5]
