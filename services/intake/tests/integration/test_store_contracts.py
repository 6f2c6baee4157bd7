"""Each store's behaviour, run against its in-memory fake and the real Mongo-wire server.

One abstract suite per store (eventsourcing's ``tests/persistence.py`` pattern); the Mongo
subclass shares the session's server (``mongo_url``) with a fresh database per test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from services.intake.tests.fakes import (
    InMemoryDossierLedger,
    InMemoryDraftStore,
    InMemoryKioskStore,
    InMemoryOutbox,
    InMemoryPaperLedger,
)

from sipas_contracts.testing import response
from sipas_intake.domain.revisions import Applied, LedgerEntry
from sipas_intake.store.collections import KIOSK_NONCES, KIOSKS, OUTBOX, PAPER_FORMS
from sipas_intake.store.drafts import DraftStore, MongoDraftStore, StoredDraft
from sipas_intake.store.kiosks import KioskExistsError, KioskStore, MongoKioskStore
from sipas_intake.store.ledger import DossierLedger, MongoDossierLedger
from sipas_intake.store.outbox import MongoOutbox, Outbox
from sipas_intake.store.paper import MongoPaperLedger, PaperLedger
from sipas_runtime.mongo import ensure_collections

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


class PaperLedgerContract:
    """What the paper import asks of its ledger: each form once, its event queued with it."""

    @pytest.fixture
    def ledger(self) -> tuple[PaperLedger, Outbox]:
        raise NotImplementedError

    async def test_imported_forms_are_known_by_key_with_their_content(self, ledger):
        paper, outbox = ledger
        first, second = response(), response()

        await paper.add([("c1|u1|1", "h1", first), ("c1|u1|2", "h2", second)], outbox, NOW)

        assert await paper.known(["c1|u1|2", "c1|u1|1", "c1|u1|3"]) == {
            "c1|u1|1": "h1",
            "c1|u1|2": "h2",
        }
        waiting = await outbox.pending(LATER)
        assert {e.event_id for e in waiting} == {first.event_id, second.event_id}

    async def test_nothing_imported_leaves_both_empty(self, ledger):
        paper, outbox = ledger

        await paper.add([], outbox, NOW)

        assert await paper.known(["c1|u1|1"]) == {}
        assert await outbox.count_pending() == 0


class TestInMemoryPaperLedger(PaperLedgerContract):
    @pytest.fixture
    def ledger(self) -> tuple[PaperLedger, Outbox]:
        return InMemoryPaperLedger(), InMemoryOutbox()


@pytest.mark.mongo
class TestMongoPaperLedger(PaperLedgerContract):
    @pytest.fixture
    async def ledger(self, mongo, db_name) -> tuple[PaperLedger, Outbox]:
        await ensure_collections(mongo[db_name], [PAPER_FORMS, OUTBOX])
        return MongoPaperLedger(mongo[db_name]), MongoOutbox(mongo[db_name])


PACE = timedelta(seconds=20)


def tablet(device_id: str = "quay-1") -> dict[str, str]:
    return {"device_id": device_id, "unit": "u1", "label": "Quầy 1"}


class KioskStoreContract:
    """What the counter tablet asks of its store: one key per device, paced, each form once."""

    @pytest.fixture
    def kiosks(self) -> tuple[KioskStore, Outbox]:
        raise NotImplementedError

    async def test_a_registered_device_is_found_by_key_until_revoked(self, kiosks):
        store, _ = kiosks
        await store.register("k1", tablet("quay-1"), NOW)
        await store.register("k2", tablet("quay-2"), LATER)

        assert (await store.get("k1"))["device_id"] == "quay-1"
        assert [d["device_id"] for d in await store.devices()] == ["quay-2", "quay-1"]
        assert all("_id" not in d for d in await store.devices())
        assert await store.revoke("quay-1", LATER)
        assert not await store.revoke("quay-1", LATER)
        assert await store.get("k1") is None

    async def test_a_device_id_is_registered_once(self, kiosks):
        store, _ = kiosks
        await store.register("k1", tablet("quay-1"), NOW)

        with pytest.raises(KioskExistsError):
            await store.register("k2", tablet("quay-1"), NOW)

    async def test_an_answer_is_queued_once_per_nonce_and_paced(self, kiosks):
        store, outbox = kiosks
        await store.register("k1", tablet(), NOW)
        first, soon, later, again = response(), response(), response(), response()

        accepted = await store.record("k1", "n1", first, outbox, now=NOW, interval=PACE)
        too_soon = await store.record("k1", "n2", soon, outbox, now=NOW + PACE / 2, interval=PACE)
        paced = await store.record("k1", "n3", later, outbox, now=NOW + PACE, interval=PACE)
        repeat = await store.record("k1", "n1", again, outbox, now=LATER, interval=PACE)

        assert (accepted, too_soon, paced, repeat) == (None, "too_soon", None, "already_recorded")
        waiting = {e.event_id for e in await outbox.pending(LATER + PACE)}
        assert waiting == {first.event_id, later.event_id}

    async def test_an_unknown_or_revoked_device_records_nothing(self, kiosks):
        store, outbox = kiosks
        await store.register("k1", tablet(), NOW)
        await store.revoke("quay-1", NOW)

        assert await store.record("k1", "n1", response(), outbox, now=NOW, interval=PACE)
        assert await store.record("k9", "n2", response(), outbox, now=NOW, interval=PACE)
        assert await outbox.count_pending() == 0


class TestInMemoryKioskStore(KioskStoreContract):
    @pytest.fixture
    def kiosks(self) -> tuple[KioskStore, Outbox]:
        return InMemoryKioskStore(), InMemoryOutbox()


@pytest.mark.mongo
class TestMongoKioskStore(KioskStoreContract):
    @pytest.fixture
    async def kiosks(self, mongo, db_name) -> tuple[KioskStore, Outbox]:
        db = mongo[db_name]
        await ensure_collections(db, [KIOSKS, KIOSK_NONCES, OUTBOX])
        await db[KIOSKS].create_index("device_id", unique=True)  # as prepare_database makes it
        return MongoKioskStore(db), MongoOutbox(db)


def revised(dossier_id: str, revision: int, seq: int) -> LedgerEntry:
    history = tuple(Applied(r, f"fp{r}", seq - revision + r) for r in range(1, revision + 1))
    return LedgerEntry(dossier_id, revision, f"fp{revision}", seq, history)


class DossierLedgerContract:
    """What the raw-dossier consumer asks of its ledger: each dossier's revisions, and a status."""

    @pytest.fixture
    def ledger(self) -> DossierLedger:
        raise NotImplementedError

    async def test_saved_entries_read_back_among_those_asked(self, ledger):
        first, second = revised("d1", 1, 10), revised("d2", 1, 11)

        await ledger.save([(first, "u1"), (second, "u2")], [], NOW, None)

        assert await ledger.entries(["d2", "d1", "d9", "d1"], None) == {"d1": first, "d2": second}
        assert await ledger.entries([], None) == {}

    async def test_a_changed_entry_replaces_the_old_and_keeps_when_it_was_first_seen(self, ledger):
        await ledger.save([(revised("d1", 1, 10), "u1")], [], NOW, None)
        newer = revised("d1", 2, 12)

        await ledger.save([], [(newer, "u2")], LATER, None)

        assert await ledger.entries(["d1"], None) == {"d1": newer}
        assert await ledger.status("d1") == {
            "_id": "d1",
            "revision": 2,
            "unit": "u2",
            "first_at": NOW,
            "updated_at": LATER,
        }
        assert await ledger.status("d9") is None


class TestInMemoryDossierLedger(DossierLedgerContract):
    @pytest.fixture
    def ledger(self) -> DossierLedger:
        return InMemoryDossierLedger()


@pytest.mark.mongo
class TestMongoDossierLedger(DossierLedgerContract):
    @pytest.fixture
    def ledger(self, mongo, db_name) -> DossierLedger:
        return MongoDossierLedger(mongo[db_name])  # no transaction: no collection to make first
