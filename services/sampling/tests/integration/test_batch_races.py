"""A batch campaign's lists against substitutions, on the Mongo-wire server.

A substitution closes a listed member's invitation and invites the next reserve. What else
touches the same invitation (a counter slip printed from a list read earlier, a dispatcher
that could not deliver it) must neither reopen the closed invitation nor leave an
undeliverable member without its replacement. The stores are the real ones; each
interleaving is made on purpose, by calling the steps in the order under test.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

from sipas_contracts.events import Event, InvitationClosed, InvitationSent
from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.mongo import Document, in_transaction
from sipas_sampling.dispatch import LEASE, Dispatcher
from sipas_sampling.domain.audit import verify_export
from sipas_sampling.draws import Draws
from sipas_sampling.fieldlists import FieldListSource, counter_slip_rows, hand_over
from sipas_sampling.maintenance import ANNOUNCE_AFTER, Maintenance
from sipas_sampling.metrics import SamplingMetrics
from sipas_sampling.registry import Registry
from sipas_sampling.store import Stores, prepare
from sipas_sampling.store.collections import POPULATION, SUBSTITUTIONS
from sipas_sampling.vault import lock

pytestmark = [pytest.mark.mongo]
CAMPAIGN = "batch-races-2026"
UNIT = "ht-nx-xuan-hoi"
MEMBERS = 4  # officials, then as many reserves, then the rest
ENTRY_FIELDS = (
    "seq",
    "at",
    "unit",
    "kind",
    "replaced",
    "substitute",
    "substitute_kind",
    "reason",
    "previous",
    "hash",
)  # what an observer's export shows of a log entry, and the chain covers (but the hash)


@dataclass
class Stream:
    """The events published, in order; while ``down``, every publish fails (no PubAck)."""

    events: list[Event] = field(default_factory=list)
    down: bool = False

    async def publish(self, events: Sequence[Event]) -> None:
        if self.down:
            raise TimeoutError("nats: timeout")
        self.events.extend(events)


@dataclass
class Batch:
    """One drawn batch campaign's stores on this test's database."""

    mongo: AsyncMongoClient[Any]
    stores: Stores
    registry: Registry
    draws: Draws
    stream: Stream

    @property
    def published(self) -> list[Event]:
        return self.stream.events

    def dispatcher(self, at: datetime) -> Dispatcher:
        """A sender whose clock reads ``at``, with no gateway: every send fails for good."""
        return Dispatcher(
            registry=self.registry, hierarchy=load_sample_hierarchy(),
            campaigns=self.stores.campaigns, invitations=self.stores.invitations,
            decisions=self.stores.decisions, outbox=self.stores.dev_outbox, channels={},
            dev_outbox=False, survey_base_url="https://ks.example.gov.vn", publish=_ignore,
            metrics=SamplingMetrics(CollectorRegistry()), transact=self.transact,
            reserves=self.draws, clock=lambda: at,
        )  # fmt: skip

    def upkeep(self, at: datetime) -> Maintenance:
        """The periodic upkeep, its clock reading ``at``."""
        return Maintenance(
            registry=self.registry, campaigns=self.stores.campaigns,
            invitations=self.stores.invitations, decisions=self.stores.decisions,
            transact=self.transact, metrics=SamplingMetrics(CollectorRegistry()),
            grace=timedelta(hours=1), announcer=self.draws, clock=lambda: at,
        )  # fmt: skip

    async def transact(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        return await in_transaction(self.mongo, work)

    async def invitations(self, **filters: object) -> list[Document]:
        return await self.stores.invitations.by_campaign(CAMPAIGN, **filters)

    async def states(self) -> dict[str, str]:
        """Each invited member's state, by dossier."""
        return {doc["dossier_id"]: doc["state"] for doc in await self.invitations()}


async def _ignore(events: object) -> None:
    return


@pytest.fixture
def batch(mongo, db_name, make_campaign) -> Callable[..., Awaitable[Batch]]:
    """A batch campaign reaching its members by ``channel``, drawn: its official invited."""

    async def drawn(channel: str, official: int = 2, *, draw_published: bool = True) -> Batch:
        db = mongo[db_name]
        await prepare(db)
        stores = Stores(db)
        registry = Registry(load_sample_hierarchy(), stores.campaigns, stores.decisions, _ignore)
        plan = make_campaign(
            id=CAMPAIGN, mode="batch", channels=[channel], scope={"units": [UNIT]},
            sample_size=None, reserve={"ratio": 1},
            allocation={"fixed_per_unit": {"individual": official, "organisation": 0}},
        )  # fmt: skip
        await registry.save(plan)
        key = await stores.campaigns.key(CAMPAIGN)
        assert key is not None
        await db[POPULATION].insert_many([_member(n, key) for n in range(MEMBERS)])
        stream = Stream(down=not draw_published)
        draws = Draws(
            registry=registry, campaigns=stores.campaigns, invitations=stores.invitations,
            population=stores.population, contacts=stores.contacts,
            transact=lambda work: in_transaction(mongo, work), publish=stream.publish,
            token_key=secrets.token_bytes(32), optout_key=secrets.token_bytes(32),
            metrics=SamplingMetrics(CollectorRegistry()),
        )  # fmt: skip
        await draws.draw(CAMPAIGN)
        stream.events.clear()
        stream.down = False
        return Batch(mongo, stores, registry, draws, stream)

    return drawn


def _member(number: int, key: str) -> Document:
    dossier = f"000.00.00.H42-{number:06d}"
    return {
        "_id": f"{CAMPAIGN}|{dossier}", "campaign": CAMPAIGN, "unit": UNIT,
        "kind": "individual", "dossier_id": dossier, "eligible": True, "reason": None,
        "channels": ["sms"], "officer": None,
        "delivered_at": datetime(2026, 3, 1, 3, tzinfo=UTC) + timedelta(minutes=number),
        "contact": lock(key, {"phone": f"09120000{number:02d}", "name": f"Người dân {number}"}),
    }  # fmt: skip


async def test_a_counter_slip_printed_after_a_substitution_leaves_the_member_substituted(batch):
    b = await batch("counter")
    listed = await b.invitations(state="listed")  # the route's read: both official members
    replaced, kept = listed

    await b.draws.substitute(CAMPAIGN, replaced["dossier_id"], "refused")
    not_handed = await hand_over(b.stores.invitations, listed, datetime.now(UTC))

    states = await b.states()
    assert not_handed == [replaced["_id"]]
    assert (states[replaced["dossier_id"]], states[kept["dossier_id"]]) == ("substituted", "sent")
    assert sorted(states.values()) == ["listed", "sent", "substituted"]  # the reserve, invited


async def test_counter_slips_are_printed_only_for_the_invitations_handed_over_then(batch):
    b = await batch("counter")
    replaced, kept = await b.invitations(state="listed")
    await b.draws.substitute(CAMPAIGN, replaced["dossier_id"], "refused")  # a reserve, listed
    [entry] = await b.stores.campaigns.substitutions(CAMPAIGN)
    source = FieldListSource(
        b.stores.campaigns, b.stores.invitations, b.stores.population,
        load_sample_hierarchy(), "https://ks.example.gov.vn",
    )  # fmt: skip

    printed = await counter_slip_rows(source, CAMPAIGN, at=datetime.now(UTC))
    again = await counter_slip_rows(source, CAMPAIGN, at=datetime.now(UTC))

    assert sorted(row["dossier_id"] for row in printed) == sorted(
        [kept["dossier_id"], entry["substitute"]]
    )
    assert all(row["link"].startswith("https://ks.example.gov.vn/s/") for row in printed)
    assert again == []  # handed over already: printed once
    assert sorted((await b.states()).values()) == ["sent", "sent", "substituted"]


async def test_a_reserve_call_that_fails_leaves_the_member_due_and_the_next_round_replaces_it(
    batch, mongo, db_name
):
    b = await batch("sms", official=1)
    [member] = await b.invitations()
    log = mongo[db_name][SUBSTITUTIONS]
    blocker = {"_id": f"{CAMPAIGN}|000001", "campaign": "elsewhere"}
    await log.insert_one(blocker)  # the log's first entry cannot be written: a failure
    at = datetime.now(UTC) + timedelta(seconds=1)

    await b.dispatcher(at).run_once()  # undeliverable, then the reserve call fails
    kept = await b.invitations()
    await log.delete_one(blocker)
    handled = await b.dispatcher(at + LEASE + timedelta(seconds=1)).run_once()
    replaced = await b.states()

    assert [(d["state"], d["attempts"]) for d in kept] == [("queued", [])]  # neither written
    assert handled == 1
    [entry] = await b.stores.campaigns.substitutions(CAMPAIGN)
    assert (entry["replaced"], entry["reason"]) == (member["dossier_id"], "unreachable")
    assert replaced == {member["dossier_id"]: "substituted", entry["substitute"]: "queued"}
    assert [type(e) for e in b.published] == [InvitationClosed, InvitationSent]


async def test_an_undeliverable_member_with_no_reserve_left_is_still_undeliverable(batch):
    b = await batch("sms", official=1)
    at = datetime.now(UTC) + timedelta(seconds=1)
    await b.dispatcher(at).run_once()  # the official member, replaced by the one reserve

    handled = await b.dispatcher(at + LEASE).run_once()  # the reserve: none is left

    states = await b.states()
    assert handled == 1
    assert sorted(states.values()) == ["substituted", "undeliverable"]
    assert len(await b.stores.campaigns.substitutions(CAMPAIGN)) == 1


async def test_two_members_undeliverable_in_one_round_are_both_replaced(batch):
    b = await batch("sms", official=2)
    at = datetime.now(UTC) + timedelta(seconds=1)

    handled = await b.dispatcher(at).run_once()

    logged = await b.stores.campaigns.substitutions(CAMPAIGN)
    assert handled == 2
    assert [e["seq"] for e in logged] == [1, 2]
    assert sorted((await b.states()).values()) == ["queued", "queued", "substituted", "substituted"]


async def test_a_substitution_whose_publish_failed_is_published_by_the_next_upkeep_once(batch):
    b = await batch("sms", official=1)
    at = datetime.now(UTC) + timedelta(seconds=1)
    b.stream.down = True
    await b.dispatcher(at).run_once()  # replaced in the commit; its publish fails after it
    b.stream.down = False
    [pending] = await b.stores.campaigns.substitutions(CAMPAIGN)
    later = at + ANNOUNCE_AFTER + timedelta(seconds=1)

    young = await b.upkeep(at).announce()  # left to its own publish for a while
    await b.upkeep(later).run()
    await b.upkeep(later + timedelta(minutes=1)).run()

    [entry] = await b.stores.campaigns.substitutions(CAMPAIGN)
    [replaced] = await b.invitations(dossier_id=entry["replaced"])
    [reserve] = await b.invitations(dossier_id=entry["substitute"])
    assert (young, pending["announced"], entry["announced"]) == (0, False, True)
    assert b.published == [
        InvitationClosed.model_validate(replaced["closed_event"]),
        InvitationSent.model_validate(reserve["event"]),
    ]


async def test_a_draw_whose_publish_failed_is_published_by_the_next_upkeep_once(batch):
    b = await batch("sms", official=2, draw_published=False)  # committed, then no PubAck
    official = await b.invitations(list="official")
    at = datetime.now(UTC)

    young = await b.upkeep(at).announce()
    await b.upkeep(at + ANNOUNCE_AFTER + timedelta(seconds=1)).run()
    await b.upkeep(at + ANNOUNCE_AFTER + timedelta(minutes=1)).run()

    expected = [InvitationSent.model_validate(doc["event"]) for doc in official]
    assert young == 0
    assert len(official) == len(b.published) == 2
    assert sorted(b.published, key=_id) == sorted(expected, key=_id)


def _id(event: Event) -> str:
    return str(event.event_id)


async def test_a_substitution_published_at_once_is_not_published_again_by_the_upkeep(batch):
    b = await batch("counter", official=2)
    replaced = (await b.invitations())[0]["dossier_id"]
    await b.draws.substitute(CAMPAIGN, replaced, "refused")
    published = list(b.published)

    announced = await b.upkeep(datetime.now(UTC) + timedelta(hours=1)).announce()  # nor the draw

    [entry] = await b.stores.campaigns.substitutions(CAMPAIGN)
    assert [type(e) for e in published] == [InvitationClosed, InvitationSent]
    assert (announced, entry["announced"], b.published) == (0, True, published)


async def test_the_log_verifies_with_entries_announced_and_not(batch):
    b = await batch("counter", official=2)
    first, second = (doc["dossier_id"] for doc in await b.invitations())
    await b.draws.substitute(CAMPAIGN, first, "refused")  # announced
    b.stream.down = True
    await b.draws.substitute(CAMPAIGN, second, "unreachable")  # committed, not announced

    export = await b.draws.export(CAMPAIGN)

    stored = await b.stores.campaigns.substitutions(CAMPAIGN)
    assert [e["announced"] for e in stored] == [True, False]
    assert [sorted(e) for e in export["substitutions"]] == [sorted(ENTRY_FIELDS)] * 2
    report = verify_export(export)
    assert report.ok, report.problems
    assert report.substitutions == 2
