"""Each store's behaviour, run against its in-memory fake and the real Mongo-wire server.

One abstract suite per store (eventsourcing's ``tests/persistence.py`` pattern); the Mongo
subclass shares the session's server (``mongo_url``) with a fresh database per test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from services.intake.tests.fakes import InMemoryDraftStore, InMemoryOutbox

from sipas_contracts.testing import response
from sipas_intake.store.drafts import DraftStore, MongoDraftStore, StoredDraft
from sipas_intake.store.outbox import MongoOutbox, Outbox

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
LATER = NOW + timedelta(days=7)


class DraftStoreContract:
    """What intake asks of its draft store: versioned saves that never overwrite a newer one."""

    @pytest.fixture
    def store(self) -> DraftStore:
        raise NotImplementedError

    async def test_a_token_without_a_draft_reads_empty_at_version_0(self, store):
        assert await store.get("t1") == StoredDraft(None, 0)

    async def test_a_saved_draft_reads_back_one_version_up(self, store):
        assert await store.put("t1", b"one", read_at=0, expires_at=LATER, now=NOW)

        assert await store.get("t1") == StoredDraft(b"one", 1)

    async def test_a_save_from_a_stale_read_is_refused_and_keeps_the_newer_draft(self, store):
        await store.put("t1", b"one", read_at=0, expires_at=LATER, now=NOW)
        await store.put("t1", b"two", read_at=1, expires_at=LATER, now=NOW)

        assert not await store.put("t1", b"stale", read_at=1, expires_at=LATER, now=NOW)
        assert not await store.put("t1", b"first", read_at=0, expires_at=LATER, now=NOW)
        assert await store.get("t1") == StoredDraft(b"two", 2)

    async def test_a_deleted_draft_reads_empty_and_others_stay(self, store):
        await store.put("t1", b"one", read_at=0, expires_at=LATER, now=NOW)
        await store.put("t2", b"other", read_at=0, expires_at=LATER, now=NOW)

        await store.delete("t1")
        await store.delete("never-saved")

        assert await store.get("t1") == StoredDraft(None, 0)
        assert await store.get("t2") == StoredDraft(b"other", 1)


class TestInMemoryDraftStore(DraftStoreContract):
    @pytest.fixture
    def store(self) -> DraftStore:
        return InMemoryDraftStore()


@pytest.mark.mongo
class TestMongoDraftStore(DraftStoreContract):
    @pytest.fixture
    def store(self, mongo, db_name) -> DraftStore:
        return MongoDraftStore(mongo[db_name])


class OutboxContract:
    """What intake asks of its outbox: committed responses wait until JetStream has them."""

    @pytest.fixture
    def outbox(self) -> Outbox:
        raise NotImplementedError

    async def test_queued_responses_are_pending_once_older_than_the_cutoff(self, outbox):
        first, second = response(), response()

        await outbox.add([first, second], NOW)

        assert await outbox.pending(NOW) == []
        waiting = await outbox.pending(NOW + timedelta(seconds=1))
        assert {e.event_id for e in waiting} == {first.event_id, second.event_id}
        assert waiting[0] in (first, second)
        assert await outbox.count_pending() == 2

    async def test_published_responses_are_no_longer_pending(self, outbox):
        first, second = response(), response()
        await outbox.add([first, second], NOW)

        await outbox.mark_published([first.event_id])
        await outbox.mark_published([])

        assert await outbox.pending(LATER) == [second]
        assert await outbox.count_pending() == 1

    async def test_pending_gives_at_most_the_limit(self, outbox):
        await outbox.add([response() for _ in range(3)], NOW)

        assert len(await outbox.pending(LATER, limit=2)) == 2


class TestInMemoryOutbox(OutboxContract):
    @pytest.fixture
    def outbox(self) -> Outbox:
        return InMemoryOutbox()


@pytest.mark.mongo
class TestMongoOutbox(OutboxContract):
    @pytest.fixture
    def outbox(self, mongo, db_name) -> Outbox:
        return MongoOutbox(mongo[db_name])
