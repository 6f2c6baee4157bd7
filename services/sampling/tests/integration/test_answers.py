"""An answer that comes before its invitation is stored (decided from memory, the document
comes with the next checkpoint) waits, and counts once the invitation is there (#22)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry
from services.sampling.tests.fakes import InMemoryWaitingAnswers
from services.sampling.tests.integration.test_invitation_store_contracts import invitation

from sipas_contracts.ids import uuid7
from sipas_runtime.mongo import in_transaction
from sipas_sampling.answering import Answers
from sipas_sampling.metrics import SamplingMetrics
from sipas_sampling.store import Stores, prepare
from sipas_sampling.store.answers import MongoWaitingAnswers, WaitingAnswers
from sipas_sampling.store.collections import QUOTAS

NOW = datetime(2026, 12, 8, 1, tzinfo=UTC)


class WaitingAnswersContract:
    """Answers kept by invitation id, the first one staying, listed oldest first."""

    @pytest.fixture
    def waiting(self) -> WaitingAnswers:
        raise NotImplementedError

    async def test_the_first_answer_stays_and_the_oldest_come_first(self, waiting):
        early, late = uuid7(), uuid7()
        await waiting.keep(late, NOW + timedelta(seconds=5), None)
        await waiting.keep(early, NOW, None)
        await waiting.keep(early, NOW + timedelta(seconds=9), None)  # sent again

        found = [(d["_id"], d["at"]) for d in await waiting.oldest()]

        assert found == [(early, NOW), (late, NOW + timedelta(seconds=5))]

    async def test_a_dropped_answer_is_gone(self, waiting):
        kept, counted = uuid7(), uuid7()
        await waiting.keep(kept, NOW, None)
        await waiting.keep(counted, NOW, None)

        await waiting.drop(counted, None)

        assert [d["_id"] for d in await waiting.oldest()] == [kept]


class TestInMemoryWaitingAnswers(WaitingAnswersContract):
    @pytest.fixture
    def waiting(self) -> WaitingAnswers:
        return InMemoryWaitingAnswers()


@pytest.mark.mongo
class TestMongoWaitingAnswers(WaitingAnswersContract):
    @pytest.fixture
    async def waiting(self, mongo, db_name) -> WaitingAnswers:
        db = mongo[db_name]
        await prepare(db)
        return MongoWaitingAnswers(db)


@pytest.mark.mongo
async def test_an_answer_before_its_invitation_counts_once_the_invitation_is_stored(mongo, db_name):
    db = mongo[db_name]
    await prepare(db)
    stores = Stores(db)
    answers = Answers(
        stores.invitations, stores.decisions, stores.waiting_answers,
        SamplingMetrics(CollectorRegistry()),
    )  # fmt: skip
    doc = invitation("d1", "c1", list="continuous")

    async def transact(work):
        return await in_transaction(mongo, work)

    assert await transact(lambda s: answers.answer(doc["_id"], NOW, s)) is None
    assert await answers.settle_waiting(transact) == 0  # its invitation is still to come
    await stores.invitations.add([doc])
    counted = await answers.settle_waiting(transact)
    again = await answers.settle_waiting(transact)
    await transact(lambda s: answers.answer(doc["_id"], NOW, s))  # the response comes again

    assert (counted, again) == (1, 0)
    stored = await stores.invitations.get(doc["_id"])
    assert stored is not None
    assert (stored["state"], stored["answered_at"]) == ("answered", NOW)
    quota = await db[QUOTAS].find_one({"campaign": "c1", "unit": "u1"})
    assert quota is not None
    assert quota["answered"] == 1
    assert await stores.waiting_answers.oldest() == []
