"""The invitation store's behaviour, against its fake and the real Mongo-wire server.

The pattern of ``test_store_contracts.py``: what the consumer, the dispatcher, the answers and
the upkeep ask of invitations (their state, leases and attempts).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.errors import BulkWriteError
from services.sampling.tests.fakes import InMemoryInvitationStore

from sipas_contracts.events import InvitationSent
from sipas_contracts.ids import uuid7
from sipas_runtime.mongo import Document, ensure_collections
from sipas_sampling.store.collections import INVITATIONS, POPULATION
from sipas_sampling.store.invitations import InvitationStore, MongoInvitationStore
from sipas_sampling.store.states import NO_LEASE, StateChange

NOW = datetime(2026, 12, 7, 3, tzinfo=UTC)
MINUTE, DAY = timedelta(minutes=1), timedelta(days=1)


def invitation(
    dossier: str, campaign: str = "c1", *, created: datetime = NOW, **fields: Any
) -> Document:
    """An invitation document as sampling writes one (queued, due now, not leased)."""
    invitation_id = uuid7()
    event = InvitationSent(
        event_id=uuid7(), occurred_at=created, producer="sampling",
        invitation_id=invitation_id, campaign_id=campaign, unit="u1", stratum="individual",
        channel="sms", draw_list="continuous", instrument_id="sipas-1001-2023",
        token_hash="a" * 64, expires_at=created + 30 * DAY,
    )  # fmt: skip
    return {
        "_id": invitation_id, "campaign": campaign, "unit": "u1", "dossier_id": dossier,
        "event": event.model_dump(mode="json"), "contact": "sealed-contact",
        "token": "sealed-token", "state": "queued", "next_attempt_at": created,
        "lease_until": NO_LEASE, "attempts": [], "reminders": [], "created_at": created,
        "expires_at": created + 30 * DAY, **fields,
    }  # fmt: skip


class InvitationStoreContract:
    """Invitations: added once, sent when due by one sender at a time, answered or lapsed once,
    their vault fields shredded when the campaign closes."""

    @pytest.fixture
    def store(self) -> InvitationStore:
        raise NotImplementedError

    async def test_an_invitation_is_added_once_and_its_event_found_again(self, store):
        first, second = invitation("d1"), invitation("d2", "c2")
        await store.add([first, second])

        with pytest.raises(BulkWriteError) as again:
            await store.add([first])
        assert again.value.details["writeErrors"][0]["code"] == 11000  # duplicate key
        events = await store.events_for([("c1", "d1"), ("c2", "d9")], None)
        assert [e.invitation_id for e in events] == [first["_id"]]
        assert (await store.get(first["_id"]))["state"] == "queued"
        assert await store.get(uuid7()) is None

    async def test_due_invitations_are_leased_by_one_sender_earliest_first(self, store):
        early = invitation("d1", next_attempt_at=NOW - MINUTE)
        late = invitation("d2")
        reminder = invitation("d3", state="sent", reminders=[NOW])
        later = invitation("d4", next_attempt_at=NOW + DAY)
        finished = invitation("d5", state="sent")
        await store.add([early, late, reminder, later, finished])

        due = await store.due(NOW, limit=10)
        assert (due[0], set(due)) == (early["_id"], {early["_id"], late["_id"], reminder["_id"]})
        mine = await store.claim_due(NOW, owner="a", limit=2, lease=MINUTE)
        theirs = await store.claim([d["_id"] for d in mine], NOW, owner="b", lease=MINUTE)

        assert early["_id"] in {d["_id"] for d in mine}  # the earliest due is among the first
        assert len(mine) == 2
        assert theirs == []  # leased: not due again until the lease ends
        assert len(await store.claim_due(NOW, owner="b", limit=10, lease=MINUTE)) == 1
        assert await store.due(NOW + 2 * MINUTE, limit=10) != []  # leases ran out

    async def test_a_renewed_lease_holds_and_an_update_releases_it_with_the_attempt(self, store):
        doc = invitation("d1")
        await store.add([doc])
        (leased,) = await store.claim_due(NOW, owner="a", limit=1, lease=MINUTE)

        await store.renew(leased["lease_owner"], NOW + 10 * MINUTE)
        assert await store.due(NOW + 5 * MINUTE, limit=10) == []
        attempt = {"channel": "sms", "at": NOW, "outcome": "sent"}
        await store.update(doc["_id"], {"state": "sent"}, attempt=attempt)
        await store.update_all([StateChange(doc["_id"], {"next_attempt_at": NOW + DAY})])

        stored = await store.get(doc["_id"])
        assert (stored["state"], stored["lease_until"], stored["attempts"]) == (
            "sent", NO_LEASE, [attempt],
        )  # fmt: skip
        assert stored["next_attempt_at"] == NOW + DAY

    async def test_an_invitation_is_answered_once_and_a_lapse_does_not_undo_it(self, store):
        answered, open_one = invitation("d1", state="sent"), invitation("d2", state="sent")
        await store.add([answered, open_one])

        before = await store.answer(answered["_id"], NOW, None)
        assert before["state"] == "sent"
        assert await store.answer(answered["_id"], NOW + MINUTE, None) is None
        expired = await store.expired(NOW + 31 * DAY)
        assert [d["_id"] for d in expired] == [open_one["_id"]]
        assert await store.mark_lapsed(open_one["_id"], NOW + 31 * DAY, None)
        assert not await store.mark_lapsed(answered["_id"], NOW + 31 * DAY, None)
        assert not await store.mark_lapsed(open_one["_id"], NOW + 32 * DAY, None)
        assert (await store.get(answered["_id"]))["answered_at"] == NOW

    async def test_a_send_that_ends_after_the_answer_or_the_lapse_leaves_it_settled(self, store):
        # A round leased these, then the person answered (or the token lapsed) while it sent.
        answered, lapsed = invitation("d1", state="sent"), invitation("d2", state="sent")
        await store.add([answered, lapsed])
        await store.claim_due(NOW, owner="a", limit=2, lease=MINUTE)
        await store.answer(answered["_id"], NOW, None)
        await store.mark_lapsed(lapsed["_id"], NOW, None)
        attempt = {"channel": "sms", "at": NOW, "outcome": "failed"}

        gave_up = {"state": "undeliverable"}
        assert not await store.update(answered["_id"], gave_up, attempt=attempt)
        await store.update_all([StateChange(lapsed["_id"], {"state": "sent"}, attempt)])
        assert await store.update(answered["_id"], {"last_report": {"at": NOW}})

        first, second = await store.get(answered["_id"]), await store.get(lapsed["_id"])
        assert (first["state"], first["attempts"], first["lease_until"]) == (
            "answered", [attempt], NO_LEASE,
        )  # fmt: skip
        assert first["last_report"] == {"at": NOW}  # what is not a state change still applies
        assert (second["state"], second["attempts"]) == ("lapsed", [attempt])

    async def test_a_change_made_from_a_state_leaves_one_that_moved_on_as_it_is(self, store):
        # Two senders leased it in turn (the first stalled) and both failed to deliver it.
        doc, answered = invitation("d1"), invitation("d2", state="answered")
        await store.add([doc, answered])
        attempt = {"channel": "sms", "at": NOW, "outcome": "failed"}
        gave_up = {"state": "undeliverable"}

        assert await store.update(doc["_id"], gave_up, attempt=attempt, expect="queued")
        assert not await store.update(doc["_id"], gave_up, attempt=attempt, expect="queued")
        await store.update_all([StateChange(doc["_id"], {"state": "sent"}, attempt, "queued")])
        assert not await store.update(answered["_id"], gave_up, expect="answered")
        assert await store.update(doc["_id"], {"state": "substituted"})  # a reserve replaces it

        first, second = await store.get(doc["_id"]), await store.get(answered["_id"])
        assert (first["state"], first["attempts"]) == ("substituted", [attempt] * 3)
        assert second["state"] == "answered"

    async def test_a_campaign_lists_in_creation_order_and_its_vault_fields_are_shredded(
        self, store
    ):
        second = invitation("d2", created=NOW + MINUTE, state="sent")
        first = invitation("d1")
        other = invitation("d9", "c2")
        await store.add([second, first, other])

        listed = await store.by_campaign("c1")
        assert [d["_id"] for d in listed] == [first["_id"], second["_id"]]
        assert [d["_id"] for d in await store.by_campaign("c1", state="sent")] == [second["_id"]]
        assert await store.shred("c1") == 2
        assert all("contact" not in d and "token" not in d for d in await store.by_campaign("c1"))
        assert (await store.get(other["_id"]))["contact"] == "sealed-contact"


class TestInMemoryInvitationStore(InvitationStoreContract):
    @pytest.fixture
    def store(self) -> InvitationStore:
        return InMemoryInvitationStore()


@pytest.mark.mongo
class TestMongoInvitationStore(InvitationStoreContract):
    @pytest.fixture
    async def store(self, mongo, db_name) -> InvitationStore:
        await ensure_collections(mongo[db_name], [INVITATIONS, POPULATION])
        return MongoInvitationStore(mongo[db_name])
