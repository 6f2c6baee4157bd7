"""Upgrading from two durables of responses to one: no invitation loses its mark (issue #22)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from nats.js.errors import NotFoundError

from sipas_contracts.streams import SCORING_FUNNEL_RESPONSES
from sipas_runtime.positions import WATERMARKS
from sipas_runtime.streams import consumer_config
from sipas_scoring.store.funnel import INVITATIONS
from sipas_scoring.testing import C2640, answers_for, resp

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
AT = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
RETIRED = SCORING_FUNNEL_RESPONSES


def answering(invitation: UUID):
    return resp(
        answers_for(C2640, 5), unit="ht-nx-co-dam", occurred_at=AT, invitation_id=invitation
    )


def counted(harness) -> int:
    return sum(c["responses"] for c in harness.scoring.counts.summary())


async def test_an_upgrade_marks_what_the_retired_funnel_durable_left_and_deletes_it(
    settings, make_harness, nc, mongo, wait
):
    invitations = [uuid4() for _ in range(7)]
    funnel = mongo[settings.database][INVITATIONS]
    first = await make_harness(settings)
    await first.publish(*map(answering, invitations[:6]))
    await wait(lambda: counted(first) == 6)
    await first.scoring.runtime.stop()  # its last checkpoint holds the six
    # What an earlier version leaves: its funnel durable marked and acked the first two only.
    await funnel.delete_many({"_id": {"$in": [str(i) for i in invitations[2:]]}})
    js = nc.jetstream()
    await js.add_consumer(RETIRED.stream, consumer_config(RETIRED))
    old = await js.pull_subscribe_bind(RETIRED.durable, stream=RETIRED.stream)
    for msg in await old.fetch(2, timeout=5):
        await msg.ack_sync()
    await mongo[settings.database][WATERMARKS].insert_one({"_id": RETIRED.durable, "seq": 2})

    second = await make_harness(settings)
    await second.publish(answering(invitations[6]))  # pins the counts to the new version

    async def all_marked() -> bool:
        return await funnel.count_documents({"responded": True}) == len(invitations)

    await wait(all_marked)
    marked = {doc["_id"] async for doc in funnel.find({"responded": True})}
    assert marked == {str(i) for i in invitations}
    assert await funnel.count_documents({}) == len(invitations)
    assert counted(second) == 7  # the six were not counted again
    with pytest.raises(NotFoundError):
        await js.consumer_info(RETIRED.stream, RETIRED.durable)
    assert await mongo[settings.database][WATERMARKS].find_one({"_id": RETIRED.durable}) is None
