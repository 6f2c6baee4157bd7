"""Each store's behaviour, run against its in-memory fake and the real Mongo-wire server.

One abstract suite per store (eventsourcing's ``tests/persistence.py`` pattern); the Mongo
subclass shares the session's server (``mongo_url``) with a fresh database per test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from services.scoring.tests.fakes import (
    InMemoryAggregateStore,
    InMemoryFunnelStore,
    InMemoryProfileStore,
    InMemoryPublicationStore,
)

from sipas_contracts.events import CampaignPlanned, InvitationSent
from sipas_contracts.testing import plan
from sipas_runtime.mongo import ensure_collections, in_transaction
from sipas_runtime.positions import WATERMARKS
from sipas_runtime.sequences import AppliedSequences
from sipas_scoring.domain.funnel import Answered
from sipas_scoring.domain.profile import ProfileSettings
from sipas_scoring.domain.tally import SliceKey, Tally
from sipas_scoring.store.aggregates import AggregateStore, MongoAggregateStore
from sipas_scoring.store.funnel import FunnelStore, MongoFunnelStore
from sipas_scoring.store.profiles import PLANS, PROFILES, MongoProfileStore, ProfileStore
from sipas_scoring.store.publications import (
    PUBLICATIONS,
    ConflictError,
    HistoryEntry,
    MongoPublicationStore,
    PublicationRecord,
    PublicationStore,
)

DEFAULTS = ProfileSettings(n_min_unit=30, n_min_item=10)
AT = datetime(2026, 12, 7, 9, tzinfo=UTC)
Transact = Callable[[Callable[[Any], Awaitable[None]]], Awaitable[None]]


def planned(campaign: str, per_unit: int, at: datetime) -> CampaignPlanned:
    return plan(campaign_id=campaign, planned_per_unit=per_unit, occurred_at=at)


class ProfileStoreContract:
    """What scoring asks of its profile store: defaults, then the latest plan, then operators."""

    @pytest.fixture
    def store(self) -> ProfileStore:
        raise NotImplementedError

    @pytest.fixture
    def transact(self) -> Transact:
        raise NotImplementedError

    async def test_a_campaign_nobody_configured_gets_the_defaults(self, store):
        profile = await store.get_or_default("c1")

        assert (profile.n_min_unit, profile.n_min_item, profile.revision) == (30, 10, 0)
        assert await store.explicit("c1") is None
        assert await store.plan("c1") is None

    async def test_only_the_latest_plan_of_a_campaign_is_kept(self, store, transact):
        newer, older = planned("c1", 25, AT), planned("c1", 40, AT - timedelta(days=1))

        await transact(lambda session: store.save_plans([newer], session))
        await transact(lambda session: store.save_plans([older], session))

        assert await store.plan("c1") == newer
        assert (await store.get_or_default("c1")).n_min_unit == 25  # the plan samples fewer

    async def test_each_operator_change_raises_the_revision_and_wins_over_the_plan(
        self, store, transact
    ):
        await transact(lambda session: store.save_plans([planned("c1", 25, AT)], session))

        await store.put("c1", {"n_min_unit": 12}, "an.operator")
        profile = await store.put("c1", {"n_min_unit": 15}, "another.operator")

        assert (profile.n_min_unit, profile.revision, profile.updated_by) == (
            15,
            2,
            "another.operator",
        )
        explicit = await store.explicit("c1")
        assert explicit is not None
        assert explicit["settings"] == {"n_min_unit": 15}
        assert (await store.get_or_default("c2")).revision == 0


class TestInMemoryProfileStore(ProfileStoreContract):
    @pytest.fixture
    def store(self) -> ProfileStore:
        return InMemoryProfileStore(DEFAULTS)

    @pytest.fixture
    def transact(self) -> Transact:
        return lambda work: work(None)


@pytest.mark.mongo
class TestMongoProfileStore(ProfileStoreContract):
    @pytest.fixture
    async def store(self, mongo, db_name) -> ProfileStore:
        await ensure_collections(mongo[db_name], [PROFILES, PLANS])
        return MongoProfileStore(mongo[db_name], DEFAULTS)

    @pytest.fixture
    def transact(self, mongo) -> Transact:
        return lambda work: in_transaction(mongo, work)


def draft(publication_id: str, campaign: str = "c1", *, at: datetime = AT) -> PublicationRecord:
    return PublicationRecord(
        id=publication_id,
        campaign_id=campaign,
        period="campaign",
        state="draft",
        digest="0" * 64,
        through_seq=10,
        profile_revision=1,
        drafted_by="analyst",
        drafted_at=at,
        history=[HistoryEntry(state="draft", actor="analyst", at=at)],
    )


def step(state: str, minutes: int = 1) -> HistoryEntry:
    return HistoryEntry(state=state, actor="director", at=AT + timedelta(minutes=minutes))


class PublicationStoreContract:
    """What publication asks of its store: frozen snapshots, guarded moves, one published."""

    @pytest.fixture
    def store(self) -> PublicationStore:
        raise NotImplementedError

    async def test_a_draft_is_kept_with_its_snapshot_and_listed_newest_first(self, store):
        await store.add(draft("p1"), {"units": [1, 2]})
        await store.add(draft("p2", "c2", at=AT + timedelta(hours=1)), {"units": []})

        assert (await store.get("p1")).state == "draft"
        assert await store.snapshot("p1") == {"units": [1, 2]}
        assert await store.get("p9") is None
        assert await store.snapshot("p9") is None
        assert [r.id for r in await store.listing()] == ["p2", "p1"]
        assert [r.id for r in await store.listing("c1")] == ["p1"]

    async def test_a_move_records_its_step_and_a_stale_one_is_refused(self, store):
        await store.add(draft("p1"), {})
        read = await store.get("p1")

        approved = await store.move(read, step("approved"))

        assert approved.state == "approved"
        assert [h.state for h in approved.history] == ["draft", "approved"]
        assert await store.get("p1") == approved
        with pytest.raises(ConflictError):
            await store.move(read, step("withdrawn"))

    async def test_publishing_supersedes_the_published_one_of_the_same_period(self, store):
        await store.add(draft("p1"), {})
        await store.add(draft("p2"), {})
        await store.add(draft("p3", "c2"), {})
        await store.move(await store.get("p1"), step("published"))
        await store.move(await store.get("p3"), step("published"))

        await store.move(await store.get("p2"), step("published", minutes=2))

        assert (await store.latest_published("c1")).id == "p2"
        assert (await store.get("p1")).state == "superseded"
        assert [r.id for r in await store.published()] == ["p2", "p3"]
        assert await store.latest_published("c1", "2026-Q4") is None


class TestInMemoryPublicationStore(PublicationStoreContract):
    @pytest.fixture
    def store(self) -> PublicationStore:
        return InMemoryPublicationStore()


@pytest.mark.mongo
class TestMongoPublicationStore(PublicationStoreContract):
    @pytest.fixture
    async def store(self, mongo, db_name) -> PublicationStore:
        await ensure_collections(mongo[db_name], [PUBLICATIONS])
        return MongoPublicationStore(mongo[db_name])


def sent(
    invitation: UUID, channel: str, attempt: int = 1, *, at: datetime = AT, unit: str = "u1"
) -> InvitationSent:
    return InvitationSent(
        event_id=uuid4(),
        occurred_at=at,
        producer="sampling",
        invitation_id=invitation,
        campaign_id="c1",
        unit=unit,
        stratum="individual",
        channel=channel,
        draw_list="continuous",
        instrument_id="sipas-1001-2023",
        token_hash="a" * 64,
        expires_at=at + timedelta(days=7),
        attempt=attempt,
    )


class FunnelStoreContract:
    """What the funnel asks of its store: invitations joined with responses, dossiers per day."""

    @pytest.fixture
    def funnel(self) -> FunnelStore:
        raise NotImplementedError

    async def test_invitations_count_by_their_first_channel_and_responses_join_them(self, funnel):
        a, b, c = uuid4(), uuid4(), uuid4()
        answered = Answered(campaign_id="c1", unit="u1", collection_mode="online", invitation_id=a)
        await funnel.mark_responded([answered], None)  # before its invitation: joined all the same
        await funnel.record_invitations([sent(a, "sms"), sent(b, "sms"), sent(c, "zalo")], None)
        await funnel.record_invitations([sent(a, "zalo", attempt=2)], None)

        counts = await funnel.invitation_counts("c1")

        assert (counts["u1"].invited, counts["u1"].responded) == ({"sms": 2, "zalo": 1}, {"sms": 1})
        assert await funnel.invitation_counts("c2") == {}

    async def test_the_window_is_the_first_and_last_invitation_before_completion_times(
        self, funnel
    ):
        later = AT + timedelta(days=3)
        await funnel.record_invitations(
            [sent(uuid4(), "sms"), sent(uuid4(), "sms", at=later)], None
        )

        assert await funnel.window("c1") == (AT, later)
        assert await funnel.window("c2") is None

    async def test_dossiers_add_up_per_unit_and_channel_over_the_days_asked(self, funnel):
        first, second = date(2026, 12, 1), date(2026, 12, 2)
        await funnel.count_dossiers({("u1", first): {"online|individual": 2}}, None)
        await funnel.count_dossiers(
            {("u1", first): {"online|business": 1, "counter|individual": 4}}, None
        )
        await funnel.count_dossiers({("u1", second): {"online|individual": 5}}, None)

        assert await funnel.eligible(first, first) == {"u1": {"online": 3, "counter": 4}}
        assert await funnel.eligible(first, second) == {"u1": {"online": 8, "counter": 4}}


class TestInMemoryFunnelStore(FunnelStoreContract):
    @pytest.fixture
    def funnel(self) -> FunnelStore:
        return InMemoryFunnelStore()


@pytest.mark.mongo
class TestMongoFunnelStore(FunnelStoreContract):
    @pytest.fixture
    def funnel(self, mongo, db_name) -> FunnelStore:
        return MongoFunnelStore(mongo[db_name])  # no transaction: no collection to make first


def tally(responses: int, item_level: str = "4", *, seq: int = 1) -> Tally:
    return Tally(
        responses=responses,
        counts={"C01": {item_level: responses, "na": 1}, "C02": {"5": responses}},
        coverage={"*": responses, "E1": responses - 1},
        first_at=AT,
        last_at=AT + timedelta(hours=responses),
        last_seq=seq,
    )


def key(campaign: str, bucket: str, unit: str, mode: str = "online") -> SliceKey:
    return SliceKey(campaign, bucket, unit, "individual", mode, "sipas-2640-2017")


Position = Callable[[str, AppliedSequences], Awaitable[None]]


class AggregateStoreContract:
    """What scoring asks of its counts: slices read back exactly, by campaign and from a month,
    a per-campaign summary, a separate store of days, the position checkpoints wrote."""

    @pytest.fixture
    def store(self) -> AggregateStore:
        raise NotImplementedError

    @pytest.fixture
    def position(self, store) -> Position:
        raise NotImplementedError

    async def test_slices_read_back_exactly_and_a_replacement_leaves_only_the_new(self, store):
        first = {key("c1", "2026-11", "u1"): tally(3), key("c1", "2026-11", "u2"): tally(5, "1")}
        await store.replace_all(first)
        assert await store.tallies() == first

        second = {key("c1", "2026-12", "u1"): tally(7, seq=40)}
        await store.replace_all(second)
        assert await store.tallies() == second

    async def test_tallies_of_one_campaign_and_from_a_month_on(self, store):
        slices = {
            key("c1", "2026-10", "u1"): tally(1),
            key("c1", "2026-11", "u1"): tally(2),
            key("c1", "2026-12", "u1", "kiosk"): tally(3),
            key("c2", "2026-12", "u1"): tally(4),
        }
        await store.replace_all(slices)

        assert set(await store.tallies("c1")) == {k for k in slices if k.campaign_id == "c1"}
        assert set(await store.tallies("c1", since="2026-11")) == {
            key("c1", "2026-11", "u1"), key("c1", "2026-12", "u1", "kiosk"),
        }  # fmt: skip
        assert await store.tallies("c3") == {}

    async def test_each_campaign_is_summed_with_its_units_months_and_instruments(self, store):
        await store.replace_all({
            key("c2", "2026-12", "u1"): tally(4),
            key("c1", "2026-12", "u2"): tally(3),
            key("c1", "2026-11", "u1"): tally(2),
            key("c1", "2026-11", "u1", "kiosk"): tally(1),
        })  # fmt: skip

        assert await store.campaigns() == [
            {"campaign_id": "c1", "responses": 6, "units": 2, "months": ["2026-11", "2026-12"],
             "instruments": ["sipas-2640-2017"]},
            {"campaign_id": "c2", "responses": 4, "units": 1, "months": ["2026-12"],
             "instruments": ["sipas-2640-2017"]},
        ]  # fmt: skip

    async def test_the_days_are_a_store_of_their_own(self, store):
        days = store.of_days()
        await store.replace_all({key("c1", "2026-12", "u1"): tally(9)})
        await days.replace_all({key("c1", "2026-12-07", "u1"): tally(2)})

        assert (store.name, days.name) == ("aggregates", "day_aggregates")
        assert set(await store.tallies()) == {key("c1", "2026-12", "u1")}
        assert set(await store.of_days().tallies()) == {key("c1", "2026-12-07", "u1")}

    async def test_the_position_a_checkpoint_wrote_is_what_applied_answers(self, store, position):
        assert (await store.applied("scoring-responses")).highest == 0
        written = AppliedSequences(40, [(42, 45)])

        await position("scoring-responses", written)

        applied = await store.applied("scoring-responses")
        assert applied == written
        assert 41 not in applied
        assert (await store.applied("another-durable")).highest == 0
        assert await store.legacy_documents() == 0


class TestInMemoryAggregateStore(AggregateStoreContract):
    @pytest.fixture
    def store(self) -> AggregateStore:
        return InMemoryAggregateStore()

    @pytest.fixture
    def position(self, store) -> Position:
        async def write(durable: str, applied: AppliedSequences) -> None:
            store.positions[durable] = applied

        return write


@pytest.mark.mongo
class TestMongoAggregateStore(AggregateStoreContract):
    @pytest.fixture
    def store(self, mongo, db_name) -> AggregateStore:
        return MongoAggregateStore(mongo[db_name])

    @pytest.fixture
    def position(self, mongo, db_name) -> Position:
        async def write(durable: str, applied: AppliedSequences) -> None:
            await mongo[db_name][WATERMARKS].replace_one(
                {"_id": durable}, applied.document(), upsert=True
            )

        return write
