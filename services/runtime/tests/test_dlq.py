"""Dead letters can be read back with their reasons and replayed after the cause is fixed."""

from __future__ import annotations

import json

import pytest

from sipas_contracts.testing import response
from sipas_runtime.dlq import read_dead_letters, replay
from sipas_runtime.publishing import encode

pytestmark = [pytest.mark.nats]


async def test_a_dead_letter_is_listed_and_replayed_to_its_source(nc):
    from sipas_runtime.consumer import DeadLetters
    from sipas_runtime.metrics import RuntimeMetrics, new_registry
    from sipas_runtime.streams import ensure_streams

    js = nc.jetstream()
    await ensure_streams(js, replicas=1)
    event = response(unit="ht-nx-co-dam")
    await js.publish("sipas.response.recorded.ht-nx-co-dam", encode(event))
    sub = await js.pull_subscribe("sipas.response.recorded.>", stream="SIPAS_RESPONSES")
    [msg] = await sub.fetch(1, timeout=5)
    dead = DeadLetters(js, RuntimeMetrics("scoring", new_registry()))
    await dead.send(
        msg,
        consumer="scoring-responses",
        kind="rejected",
        reason="đơn vị 'Xã Cổ Đạm' chưa được cấu hình",
    )

    [letter] = await read_dead_letters(js, service="scoring")
    new_seq = await replay(js, letter, delete=True)

    assert letter.reason == "đơn vị 'Xã Cổ Đạm' chưa được cấu hình"
    assert letter.source_subject == "sipas.response.recorded.ht-nx-co-dam"
    assert json.loads(letter.data)["response_id"] == str(event.response_id)
    replayed = await js.get_msg("SIPAS_RESPONSES", new_seq)
    assert replayed.data == encode(event)
    assert await read_dead_letters(js) == []
