"""The token store's and the fieldwork ledger's behaviour, against their fakes and Mongo.

The pattern of ``test_store_contracts.py`` (one abstract suite per store); apart because the
two stores share their documents: the fieldwork ledger counts the tokens answered and the
paper forms imported.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from pymongo.asynchronous.client_session import AsyncClientSession
from services.intake.tests.fakes import (
    InMemoryFieldworkLedger,
    InMemoryOutbox,
    InMemoryPaperLedger,
    InMemoryTokenStore,
)

from sipas_contracts.events import InvitationClosed, InvitationSent, ResponseRecorded
from sipas_contracts.ids import uuid7
from sipas_contracts.testing import closure, response
from sipas_intake.store.collections import CLAIMS, OUTBOX, PAPER_FORMS, TOKENS
from sipas_intake.store.fieldwork import FieldworkLedger, MongoFieldworkLedger
from sipas_intake.store.outbox import MongoOutbox, Outbox
from sipas_intake.store.paper import MongoPaperLedger, PaperLedger
from sipas_intake.store.tokens import MongoTokenStore, TokenProblem, TokenStore
from sipas_runtime.mongo import ensure_collections, in_transaction

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
EXPIRY = NOW + timedelta(days=30)
Deliver = Callable[[list[InvitationSent], list[InvitationClosed]], Awaitable[None]]
"""Register invitations, then close some, as the invitation consumer does (in its batch)."""


def sent(token: str, invitation: UUID | None = None, **fields: object) -> InvitationSent:
    return InvitationSent.model_validate(
        {
            "event_id": uuid7(),
            "occurred_at": NOW,
            "producer": "sampling",
            "invitation_id": invitation or uuid7(),
            "campaign_id": "c2026",
            "unit": "u1",
            "stratum": "individual",
            "channel": "sms",
            "draw_list": "official",
            "instrument_id": "sipas-1001-2023",
            "token_hash": token * 64,
            "expires_at": EXPIRY,
            **fields,
        }
    )


def answer(invitation: InvitationSent, mode: str = "online") -> ResponseRecorded:
    return response(
        invitation_id=invitation.invitation_id, unit=invitation.unit, collection_mode=mode
    )


class TokenStoreContract:
    """What survey links and enumerators ask of the tokens: one answer per invitation."""

    @pytest.fixture
    def tokens(self) -> tuple[TokenStore, Outbox, Deliver]:
        raise NotImplementedError

    async def test_a_registered_token_grants_its_invitation_until_it_expires(self, tokens):
        store, _, deliver = tokens
        first = sent("a")
        await deliver([first], [])

        grant = await store.grant(first.token_hash, NOW)
        assert not isinstance(grant, TokenProblem)
        assert (grant.invitation_id, grant.unit, grant.expires_at) == (
            first.invitation_id,
            "u1",
            EXPIRY,
        )
        assert await store.grant(first.token_hash, EXPIRY) is TokenProblem.EXPIRED
        assert await store.grant("f" * 64, NOW) is TokenProblem.UNKNOWN

    async def test_a_resent_token_only_extends_its_expiry(self, tokens):
        store, _, deliver = tokens
        first = sent("a")
        later = EXPIRY + timedelta(days=5)

        await deliver([first, sent("a", first.invitation_id, expires_at=later, unit="u9")], [])
        await deliver([sent("a", first.invitation_id)], [])

        grant = await store.grant(first.token_hash, NOW)
        assert not isinstance(grant, TokenProblem)
        assert (grant.expires_at, grant.unit) == (later, "u1")

    async def test_an_invitation_grants_its_newest_token(self, tokens):
        store, _, deliver = tokens
        first = sent("a")
        reminder = sent("b", first.invitation_id, expires_at=EXPIRY + timedelta(days=5))
        await deliver([reminder, first], [])

        found = await store.grant_for_invitation(first.invitation_id, NOW)

        assert not isinstance(found, TokenProblem)
        assert found[0] == reminder.token_hash
        assert await store.grant_for_invitation(uuid7(), NOW) is TokenProblem.UNKNOWN

    async def test_a_token_takes_one_answer_and_queues_it_with_its_claim(self, tokens):
        store, outbox, deliver = tokens
        first = sent("a")
        await deliver([first], [])
        recorded, submission = answer(first, "face_to_face"), uuid7()

        taken = await store.consume(first.token_hash, recorded, outbox, NOW, submission=submission)

        assert taken is None

        again = await store.consume(first.token_hash, answer(first), outbox, NOW)
        assert again is TokenProblem.USED
        assert await store.grant(first.token_hash, NOW) is TokenProblem.USED
        claim = await store.claim(first.invitation_id)
        assert claim is not None
        assert (claim["response_id"], claim["submission"]) == (recorded.response_id, submission)
        assert [e.event_id for e in await outbox.pending(EXPIRY)] == [recorded.event_id]

    async def test_a_reminder_token_cannot_answer_an_answered_invitation(self, tokens):
        store, outbox, deliver = tokens
        first = sent("a")
        reminder = sent("b", first.invitation_id)
        await deliver([first, reminder], [])
        await store.consume(first.token_hash, answer(first), outbox, NOW)

        refused = await store.consume(reminder.token_hash, answer(first), outbox, NOW)

        assert refused is TokenProblem.USED
        assert await outbox.count_pending() == 1

    async def test_unknown_and_expired_tokens_record_nothing(self, tokens):
        store, outbox, deliver = tokens
        first = sent("a")
        await deliver([first], [])

        assert await store.consume("f" * 64, answer(first), outbox, NOW) is TokenProblem.UNKNOWN
        late = await store.consume(first.token_hash, answer(first), outbox, EXPIRY)
        assert late is TokenProblem.EXPIRED
        assert await store.claim(first.invitation_id) is None
        assert await outbox.count_pending() == 0

    async def test_a_closed_invitation_takes_no_answer(self, tokens):
        store, outbox, deliver = tokens
        first = sent("a")
        await deliver([first], [closure(first, occurred_at=NOW)])

        refused = await store.consume(first.token_hash, answer(first), outbox, NOW)

        assert refused is TokenProblem.CLOSED
        assert await store.grant(first.token_hash, NOW) is TokenProblem.CLOSED
        assert await store.grant_for_invitation(first.invitation_id, NOW) is TokenProblem.CLOSED
        assert await outbox.count_pending() == 0

    async def test_an_answer_recorded_before_the_closure_stands(self, tokens):
        store, outbox, deliver = tokens
        first = sent("a")
        await deliver([first], [])
        recorded = answer(first)
        await store.consume(first.token_hash, recorded, outbox, NOW)

        await deliver([], [closure(first, occurred_at=NOW)])

        claim = await store.claim(first.invitation_id)
        assert claim is not None
        assert (claim["response_id"], claim.get("closed")) == (recorded.response_id, None)
        assert await store.grant(first.token_hash, NOW) is TokenProblem.USED


def delivering(store: InMemoryTokenStore) -> Deliver:
    async def at_once(invitations: list[InvitationSent], closures: list[InvitationClosed]):
        await store.register(invitations, None)
        await store.close(closures, None)

    return at_once


def delivering_in_a_transaction(store: TokenStore, db) -> Deliver:
    async def in_a_batch(invitations: list[InvitationSent], closures: list[InvitationClosed]):
        async def work(session: AsyncClientSession) -> None:
            await store.register(invitations, session)
            await store.close(closures, session)

        await in_transaction(db.client, work)

    return in_a_batch


class TestInMemoryTokenStore(TokenStoreContract):
    @pytest.fixture
    def tokens(self) -> tuple[TokenStore, Outbox, Deliver]:
        store = InMemoryTokenStore()
        return store, InMemoryOutbox(), delivering(store)


async def _intake_db(mongo, db_name):
    db = mongo[db_name]
    await ensure_collections(db, [TOKENS, CLAIMS, OUTBOX, PAPER_FORMS])
    return db


@pytest.mark.mongo
class TestMongoTokenStore(TokenStoreContract):
    @pytest.fixture
    async def tokens(self, mongo, db_name) -> tuple[TokenStore, Outbox, Deliver]:
        db = await _intake_db(mongo, db_name)
        store = MongoTokenStore(db)
        return store, MongoOutbox(db), delivering_in_a_transaction(store, db)


def paper_form(number: int, unit: str, campaign: str = "c2026"):
    form = response(campaign_id=campaign, unit=unit, collection_mode="paper")
    return (f"{campaign}|{unit}|{number}", f"h{number}", form)


class FieldworkLedgerContract:
    """What the fieldwork page asks: answers per unit and mode, invited apart from paper."""

    @pytest.fixture
    def fieldwork(self) -> tuple[FieldworkLedger, TokenStore, PaperLedger, Outbox, Deliver]:
        raise NotImplementedError

    async def test_answers_are_counted_per_unit_and_mode_for_the_campaign(self, fieldwork):
        ledger, tokens, paper, outbox, deliver = fieldwork
        one, two, three, other, unused = (
            sent("a"),
            sent("b"),
            sent("c", unit="u2"),
            sent("d", campaign_id="c2025"),
            sent("e"),
        )
        await deliver([one, two, three, other, unused], [])
        for invitation, mode in ((one, "online"), (two, "face_to_face"), (three, "online")):
            await tokens.consume(invitation.token_hash, answer(invitation, mode), outbox, NOW)
        await tokens.consume(other.token_hash, answer(other), outbox, NOW)
        forms = [paper_form(1, "u1"), paper_form(2, "u1"), paper_form(1, "u1", "c2025")]
        await paper.add(forms, outbox, NOW)

        invited, imported = await ledger.summary("c2026")

        assert invited == {"u1": {"online": 1, "face_to_face": 1}, "u2": {"online": 1}}
        assert imported == {"u1": {"paper": 2}}
        assert await ledger.summary("c2027") == ({}, {})


class TestInMemoryFieldworkLedger(FieldworkLedgerContract):
    @pytest.fixture
    def fieldwork(self) -> tuple[FieldworkLedger, TokenStore, PaperLedger, Outbox, Deliver]:
        tokens, paper = InMemoryTokenStore(), InMemoryPaperLedger()
        ledger = InMemoryFieldworkLedger(tokens, paper)
        return ledger, tokens, paper, InMemoryOutbox(), delivering(tokens)


@pytest.mark.mongo
class TestMongoFieldworkLedger(FieldworkLedgerContract):
    @pytest.fixture
    async def fieldwork(
        self, mongo, db_name
    ) -> tuple[FieldworkLedger, TokenStore, PaperLedger, Outbox, Deliver]:
        db = await _intake_db(mongo, db_name)
        tokens = MongoTokenStore(db)
        ledger = MongoFieldworkLedger(db)
        deliver = delivering_in_a_transaction(tokens, db)
        return ledger, tokens, MongoPaperLedger(db), MongoOutbox(db), deliver
