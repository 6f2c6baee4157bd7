"""A pull loop that is inactive (its partition belongs to another instance, #22) pulls
nothing, and takes its messages again as soon as it is active."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api

from sipas_contracts import subjects
from sipas_contracts.streams import RESPONSES
from sipas_runtime.pull import IDLE_SECONDS, PullLoop
from sipas_runtime.streams import ensure_streams
from sipas_runtime.testing import eventually

pytestmark = [pytest.mark.nats]


async def test_an_inactive_loop_pulls_nothing_until_it_is_active(nc: Client):
    js = nc.jetstream()
    await ensure_streams(js, replicas=1)
    config = api.ConsumerConfig(
        durable_name="probe-inactive",
        filter_subject=subjects.RESPONSES_RECORDED,
        ack_policy=api.AckPolicy.EXPLICIT,
    )
    received: list[Msg] = []
    active = False

    async def handle(messages: list[Msg]) -> None:
        for msg in messages:
            received.append(msg)
            await msg.ack()

    loop = PullLoop(
        nc, js, stream=RESPONSES.name, config=config, handler=handle, batch=10,
        linger=0.01, max_wait=0.2, active=lambda: active,
    )  # fmt: skip
    await loop.start()
    try:
        await js.publish(subjects.RESPONSES_RECORDED.replace(">", "ht-nx-a"), b"{}")
        await asyncio.sleep(IDLE_SECONDS * 5)  # rounds an active loop would have delivered in

        assert received == []

        active = True
        await eventually(lambda: len(received) == 1, 5, interval=0.05)
    finally:
        await loop.stop()
