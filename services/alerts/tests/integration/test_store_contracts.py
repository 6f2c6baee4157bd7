"""Each store's behaviour, run against its in-memory fake and the real Mongo-wire server.

One abstract suite per store (eventsourcing's ``tests/persistence.py`` pattern); the Mongo
subclass shares the session's server (``mongo_url``) with a fresh database per test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from services.alerts.tests.fakes import (
    InMemoryActivityStore,
    InMemoryFigureStore,
    InMemoryLeases,
    InMemoryNotificationQueue,
    InMemoryOutbox,
)

from sipas_alerts.domain.activity import DayCount
from sipas_alerts.domain.index_rules import Figure
from sipas_alerts.store.leases import Leases, MongoLeases
from sipas_alerts.store.notifications import (
    NOTIFICATIONS,
    Attempt,
    MongoNotificationQueue,
    Notification,
    NotificationQueue,
)
from sipas_alerts.store.outbox import OUTBOX, MongoOutbox, Outbox
from sipas_alerts.store.signals import (
    ActivityStore,
    FigureStore,
    MongoActivityStore,
    MongoFigureStore,
)
from sipas_contracts.events import Event
from sipas_contracts.testing import response
from sipas_runtime.mongo import ensure_collections, in_transaction
from sipas_runtime.testing import written
from sipas_runtime.writes import Writes

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
Record = Callable[[Outbox, Sequence[tuple[Event, str]], bool], Awaitable[None]]
TTL = timedelta(minutes=1)


class LeasesContract:
    """What the sweeper asks of its leases: one holder at a time until the lease ends."""

    @pytest.fixture
    def leases(self) -> Leases:
        raise NotImplementedError

    async def test_a_free_lease_is_taken(self, leases):
        assert await leases.acquire("sla", "a", now=NOW, ttl=TTL)

    async def test_a_lease_someone_else_holds_is_refused_until_it_ends(self, leases):
        await leases.acquire("sla", "a", now=NOW, ttl=TTL)

        assert not await leases.acquire("sla", "b", now=NOW + TTL / 2, ttl=TTL)
        assert await leases.acquire("sla", "b", now=NOW + 2 * TTL, ttl=TTL)
        assert not await leases.acquire("sla", "a", now=NOW + 2 * TTL, ttl=TTL)

    async def test_the_holder_extends_its_lease(self, leases):
        await leases.acquire("sla", "a", now=NOW, ttl=TTL)

        assert await leases.acquire("sla", "a", now=NOW + TTL / 2, ttl=TTL)
        assert not await leases.acquire("sla", "b", now=NOW + TTL, ttl=TTL)

    async def test_a_released_lease_is_free_and_only_its_holder_releases_it(self, leases):
        await leases.acquire("sla", "a", now=NOW, ttl=TTL)
        await leases.acquire("relay", "a", now=NOW, ttl=TTL)

        await leases.release("sla", "a", now=NOW)
        await leases.release("relay", "b", now=NOW)

        later = NOW + timedelta(seconds=1)
        assert await leases.acquire("sla", "b", now=later, ttl=TTL)
        assert not await leases.acquire("relay", "b", now=later, ttl=TTL)


class TestInMemoryLeases(LeasesContract):
    @pytest.fixture
    def leases(self) -> Leases:
        return InMemoryLeases()


@pytest.mark.mongo
class TestMongoLeases(LeasesContract):
    @pytest.fixture
    def leases(self, mongo, db_name) -> Leases:
        return MongoLeases(mongo[db_name])


DAY = date(2026, 12, 7)


class ActivityStoreContract:
    """What the activity rules ask of the activity store: additive counts per unit and day."""

    @pytest.fixture
    def activity(self) -> ActivityStore:
        raise NotImplementedError

    async def test_the_counts_of_a_day_add_up_by_field(self, activity):
        await activity.add("invitations", Counter({("c1", "u1", DAY): 3}), None)
        await activity.add(
            "invitations", Counter({("c1", "u1", DAY): 2, ("c1", "u2", DAY): 1}), None
        )
        await activity.add("responses", Counter({("c1", "u1", DAY): 4}), None)

        assert await activity.since(DAY) == {
            ("c1", "u1"): {DAY: DayCount(invitations=5, responses=4)},
            ("c1", "u2"): {DAY: DayCount(invitations=1, responses=0)},
        }

    async def test_days_before_the_first_asked_are_left_out(self, activity):
        earlier, later = DAY - timedelta(days=2), DAY + timedelta(days=1)
        await activity.add("responses", Counter({("c1", "u1", earlier): 1}), None)
        await activity.add("responses", Counter({("c1", "u1", later): 2}), None)

        assert await activity.since(DAY) == {("c1", "u1"): {later: DayCount(responses=2)}}


class TestInMemoryActivityStore(ActivityStoreContract):
    @pytest.fixture
    def activity(self) -> ActivityStore:
        return InMemoryActivityStore()


@pytest.mark.mongo
class TestMongoActivityStore(ActivityStoreContract):
    @pytest.fixture
    def activity(self, mongo, db_name) -> ActivityStore:
        return MongoActivityStore(mongo[db_name])


def figure(period: str, version: int, value: float, unit: str = "u1") -> Figure:
    return Figure(
        campaign_id="c1",
        unit=unit,
        period=period,
        version=version,
        value=value,
        ci_low=value - 0.05,
        ci_high=value + 0.05,
        n=40,
        sufficient=True,
    )


Keep = Callable[[FigureStore, Sequence[Figure]], Awaitable[None]]


class FigureStoreContract:
    """What the index rules ask of the figure store: figures by (campaign, unit), one read."""

    @pytest.fixture
    def figures(self) -> FigureStore:
        raise NotImplementedError

    @pytest.fixture
    def keep(self) -> Keep:
        """Keep figures as the index consumer does (in a batch's writes)."""
        raise NotImplementedError

    async def test_kept_figures_replace_their_periods(self, figures, keep):
        await keep(figures, [figure("2026-11", 2, 0.8), figure("2026-10", 1, 0.6)])
        await keep(figures, [figure("2026-11", 3, 0.7)])

        assert await figures.periods({("c1", "u1")}, None) == {
            ("c1", "u1"): {
                "2026-11": figure("2026-11", 3, 0.7),
                "2026-10": figure("2026-10", 1, 0.6),
            }
        }

    async def test_one_read_returns_exactly_the_units_asked_for(self, figures, keep):
        other = figure("campaign", 1, 0.4).model_copy(update={"campaign_id": "c2"})
        await keep(figures, [figure("2026-11", 1, 0.9), figure("2026-11", 1, 0.5, unit="u2")])
        await keep(figures, [other, other.model_copy(update={"unit": "u2", "version": 4})])

        found = await figures.periods({("c1", "u1"), ("c2", "u2"), ("c3", "u1")}, None)

        assert found == {
            ("c1", "u1"): {"2026-11": figure("2026-11", 1, 0.9)},
            ("c2", "u2"): {"campaign": other.model_copy(update={"unit": "u2", "version": 4})},
        }
        assert await figures.periods(set(), None) == {}


class TestInMemoryFigureStore(FigureStoreContract):
    @pytest.fixture
    def figures(self) -> FigureStore:
        return InMemoryFigureStore()

    @pytest.fixture
    def keep(self) -> Keep:
        async def keep(figures: FigureStore, kept: Sequence[Figure]) -> None:
            figures.keep(kept, Writes("unused"))

        return keep


@pytest.mark.mongo
class TestMongoFigureStore(FigureStoreContract):
    @pytest.fixture
    def figures(self, mongo, db_name) -> FigureStore:
        return MongoFigureStore(mongo[db_name])

    @pytest.fixture
    def keep(self, mongo, db_name) -> Keep:
        async def keep(figures: FigureStore, kept: Sequence[Figure]) -> None:
            await written(mongo, db_name, lambda writes: figures.keep(kept, writes))

        return keep


class OutboxContract:
    """What case work asks of its outbox: events by source, pending until JetStream has them."""

    @pytest.fixture
    def outbox(self) -> Outbox:
        raise NotImplementedError

    @pytest.fixture
    def record(self) -> Record:
        """Record events at ``NOW`` as case work does (in its transaction)."""
        raise NotImplementedError

    async def test_events_are_found_by_the_sources_that_caused_them(self, outbox, record):
        first, second, third = response(), response(), response()

        await record(outbox, [(first, "s1"), (second, "s1"), (third, "s2")], True)

        by_s1 = await outbox.of_sources(["s1", "s9"], None)
        assert sorted(str(e.event_id) for e in by_s1) == sorted(
            str(e.event_id) for e in (first, second)
        )

    async def test_pending_events_until_published(self, outbox, record):
        first, second, done = response(), response(), response()
        await record(outbox, [(first, "s1"), (second, "s2")], True)
        await record(outbox, [(done, "s3")], False)

        assert await outbox.pending(NOW) == []
        assert len(await outbox.pending(NOW + TTL, limit=1)) == 1
        await outbox.mark_published([first])
        assert await outbox.pending(NOW + TTL) == [second]

    async def test_purge_forgets_only_published_events_older_than_the_cutoff(self, outbox, record):
        waiting, done = response(), response()
        await record(outbox, [(waiting, "s1"), (done, "s2")], True)
        await outbox.mark_published([done])

        assert await outbox.purge(NOW) == 0
        assert await outbox.purge(NOW + TTL) == 1
        assert await outbox.of_sources(["s1", "s2"], None) == [waiting]


class TestInMemoryOutbox(OutboxContract):
    @pytest.fixture
    def outbox(self) -> Outbox:
        return InMemoryOutbox()

    @pytest.fixture
    def record(self) -> Record:
        async def at_once(outbox: Outbox, events: Sequence[tuple[Event, str]], pending: bool):
            await outbox.record(events, None, now=NOW, pending=pending)

        return at_once


@pytest.mark.mongo
class TestMongoOutbox(OutboxContract):
    @pytest.fixture
    async def outbox(self, mongo, db_name) -> Outbox:
        await ensure_collections(mongo[db_name], [OUTBOX])
        return MongoOutbox(mongo[db_name])

    @pytest.fixture
    def record(self, mongo) -> Record:
        async def in_a_transaction(
            outbox: Outbox, events: Sequence[tuple[Event, str]], pending: bool
        ):
            await in_transaction(
                mongo, lambda session: outbox.record(events, session, now=NOW, pending=pending)
            )

        return in_a_transaction


def note(key: str, case_id: str = "case-1") -> Notification:
    return Notification(
        key=key,
        case_id=case_id,
        unit="u1",
        kind="case_opened",
        channel="email",
        recipient="handler@example.vn",
        subject="Phản ánh mới",
        text="Có một phản ánh mới.",
    )


class NotificationQueueContract:
    """What the dispatcher asks of its queue: each due note to one sender, retried when told."""

    @pytest.fixture
    def queue(self) -> NotificationQueue:
        raise NotImplementedError

    async def test_due_notes_are_claimed_once_until_the_lease_ends(self, queue):
        await queue.enqueue([note("n1"), note("n2")], None, now=NOW)
        await queue.enqueue([note("n3")], None, now=NOW + TTL)

        first = await queue.claim(now=NOW, owner="a", lease=TTL, limit=5)
        meanwhile = await queue.claim(now=NOW + TTL / 2, owner="b", lease=TTL, limit=5)
        after = await queue.claim(now=NOW + 2 * TTL, owner="b", lease=TTL, limit=1)

        assert sorted(n.key for n in first) == ["n1", "n2"]
        assert meanwhile == []
        assert len(after) == 1

    async def test_a_settled_note_is_not_claimed_unless_retried(self, queue):
        await queue.enqueue([note("n1"), note("n2"), note("n3", case_id="case-2")], None, now=NOW)
        claimed = {n.key: n for n in await queue.claim(now=NOW, owner="a", lease=TTL, limit=3)}
        sent, retried = claimed["n1"], claimed["n2"]

        await queue.settle(sent, Attempt("sent", NOW))
        later = NOW + 3 * TTL
        await queue.settle(retried, Attempt("pending", NOW, "busy", retry_at=later))

        again = await queue.claim(now=NOW + 2 * TTL, owner="a", lease=TTL, limit=5)
        assert [n.key for n in again] == ["n3"]
        retry = await queue.claim(now=later, owner="a", lease=TTL, limit=5)
        assert [(n.key, n.attempts) for n in retry] == [("n2", 1)]

    async def test_a_case_shows_its_notes_with_their_status(self, queue):
        await queue.enqueue([note("n1"), note("n2", case_id="case-2")], None, now=NOW)
        claimed = {n.key: n for n in await queue.claim(now=NOW, owner="a", lease=TTL, limit=5)}
        first = claimed["n1"]
        await queue.settle(first, Attempt("sent", NOW))

        shown = await queue.of_case("case-1")

        assert [(d["_id"], d["status"], d["attempts"]) for d in shown] == [("n1", "sent", 1)]
        assert shown[0]["sent_at"] == NOW
        assert "text" not in shown[0]


class TestInMemoryNotificationQueue(NotificationQueueContract):
    @pytest.fixture
    def queue(self) -> NotificationQueue:
        return InMemoryNotificationQueue()


@pytest.mark.mongo
class TestMongoNotificationQueue(NotificationQueueContract):
    @pytest.fixture
    async def queue(self, mongo, db_name) -> NotificationQueue:
        await ensure_collections(mongo[db_name], [NOTIFICATIONS])
        return MongoNotificationQueue(mongo[db_name])
