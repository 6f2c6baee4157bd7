"""Dispatch claims on a real Mongo-wire server: a sender never takes what another has sent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sipas_sampling.store import prepare
from sipas_sampling.store.dev_outbox import MongoDevOutbox
from sipas_sampling.store.invitations import MongoInvitationStore
from sipas_sampling.store.states import NO_LEASE

pytestmark = [pytest.mark.mongo]
NOW = datetime(2026, 3, 2, 8, tzinfo=UTC)
LEASE = timedelta(seconds=10)


def invitation(**fields) -> dict:
    return {
        "_id": uuid.uuid4(),
        "state": "queued",
        "reminders": [],
        "next_attempt_at": NOW - timedelta(minutes=1),
        "lease_until": NO_LEASE,
        **fields,
    }


async def test_a_sender_that_found_an_invitation_late_does_not_claim_it_once_sent(mongo, db_name):
    store = MongoInvitationStore(mongo[db_name])
    doc = invitation()
    await store.add([doc])
    found_by_slow = await store.due(NOW, 10)

    [taken] = await store.claim_due(NOW, owner="fast", limit=10, lease=LEASE)
    await store.update(
        taken["_id"], {"state": "sent", "next_attempt_at": NOW + timedelta(days=9999)}
    )
    claimed_late = await store.claim(found_by_slow, NOW, owner="slow", lease=LEASE)

    assert found_by_slow == [doc["_id"]]
    assert claimed_late == []


async def test_a_deferred_invitation_is_not_claimed_by_a_sender_that_found_it_due(mongo, db_name):
    store = MongoInvitationStore(mongo[db_name])
    await store.add([invitation()])
    found_by_slow = await store.due(NOW, 10)

    [taken] = await store.claim_due(NOW, owner="fast", limit=10, lease=LEASE)
    await store.update(taken["_id"], {"next_attempt_at": NOW + timedelta(hours=9)})

    assert await store.claim(found_by_slow, NOW, owner="slow", lease=LEASE) == []


async def test_a_renewed_lease_keeps_a_long_round_and_a_released_one_stays_free(mongo, db_name):
    store = MongoInvitationStore(mongo[db_name])
    await store.add([invitation()])
    [taken] = await store.claim_due(NOW, owner="long", limit=10, lease=LEASE)
    later = NOW + 2 * LEASE

    await store.renew(taken["lease_owner"], later + LEASE)
    kept = await store.claim_due(later, owner="other", limit=10, lease=LEASE)
    await store.update(taken["_id"], {"state": "retry", "next_attempt_at": NOW})
    await store.renew(taken["lease_owner"], later + 2 * LEASE)
    freed = await store.claim_due(later, owner="other", limit=10, lease=LEASE)

    assert kept == []
    assert [d["_id"] for d in freed] == [taken["_id"]]


async def test_the_development_outbox_forgets_a_message_after_a_day(mongo, db_name):
    db = mongo[db_name]
    await prepare(db)
    outbox = MongoDevOutbox(db)

    await outbox.add([{"_id": "m1", "recipient": "0912345678", "link": "L"}], NOW)

    [kept] = await outbox.messages(None, 10)
    ttl = [
        i for i in (await db["outbox"].index_information()).values() if "expireAfterSeconds" in i
    ]
    assert [(i["key"], i["expireAfterSeconds"]) for i in ttl] == [([("expires_at", 1)], 0)]
    left = kept["expires_at"] - datetime.now(UTC)
    assert timedelta(hours=23) < left <= timedelta(days=1)
