"""The dispatcher against answers, lapses and other senders, on the Mongo-wire server.

A round holds its invitations for as long as their channel takes to answer: the person may
answer meanwhile, the token lapse, a delivery report arrive, or another sender take the
invitation over once the lease lapsed (or after a crash). Here the channel is a test double
whose every send waits for the test to let it end, so each interleaving is made on purpose;
the stores are the real ones. What must hold: an answered invitation stays answered, and a
quota slot is released at most once.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

from sipas_contracts.events import Event
from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.channels import Delivery, DeliveryReport, DeliveryStatus, OutboundMessage
from sipas_runtime.mongo import Document, in_transaction
from sipas_runtime.testing import eventually
from sipas_sampling.answering import Answers
from sipas_sampling.dispatch import LEASE, Dispatcher
from sipas_sampling.inviting import Invitee, build
from sipas_sampling.maintenance import Maintenance
from sipas_sampling.metrics import SamplingMetrics
from sipas_sampling.registry import Registry
from sipas_sampling.store import Stores, prepare
from sipas_sampling.store.collections import QUOTAS
from sipas_sampling.store.decisions import quota_id
from sipas_sampling.store.invitations import MongoInvitationStore

pytestmark = [pytest.mark.mongo]
NOW = datetime(2026, 3, 2, 3, tzinfo=UTC)  # 10:00 in Vietnam
CAMPAIGN = "races-2026"
UNITS = ("ht-nx-xuan-hoi", "ht-nx-co-dam")
TOKEN_KEY = secrets.token_bytes(32)


class HeldChannel:
    """An SMS channel whose sends wait until the test ends them, with the outcome it chose."""

    name = "sms"

    def __init__(self) -> None:
        self.started: dict[str, asyncio.Event] = {}
        self.outcome: dict[str, asyncio.Future[DeliveryStatus]] = {}

    def _slot(self, recipient: str) -> asyncio.Future[DeliveryStatus]:
        if recipient not in self.outcome:
            self.started[recipient] = asyncio.Event()
            self.outcome[recipient] = asyncio.get_running_loop().create_future()
        return self.outcome[recipient]

    async def sending(self, recipient: str) -> None:
        """Wait until a send to ``recipient`` is in flight."""
        self._slot(recipient)
        await asyncio.wait_for(self.started[recipient].wait(), 5)

    def end(self, recipient: str, status: DeliveryStatus) -> None:
        """End the send to ``recipient`` (now or whenever it starts) with ``status``."""
        self._slot(recipient).set_result(status)

    async def send(self, message: OutboundMessage) -> Delivery:
        outcome = self._slot(message.recipient)
        self.started[message.recipient].set()
        status = await asyncio.shield(outcome)  # a cancelled round leaves it to the next
        return Delivery(status, provider_id=f"p-{message.key}", code=status.value)


@dataclass
class World:
    """One campaign's stores and jobs on this test's database."""

    mongo: AsyncMongoClient[Any]
    stores: Stores
    registry: Registry
    channel: HeldChannel = field(default_factory=HeldChannel)
    published: list[Event] = field(default_factory=list)

    def dispatcher(self, at: datetime = NOW, **stores: Any) -> Dispatcher:
        """A sender (each its own instance, as in another process) whose clock reads ``at``."""
        return Dispatcher(
            **{**self._shared(at), **stores},
            hierarchy=load_sample_hierarchy(),
            outbox=self.stores.dev_outbox,
            channels={"sms": self.channel},
            dev_outbox=False,
            survey_base_url="https://ks.example.gov.vn",
            publish=self.publish,
        )

    async def publish(self, events: Sequence[Event]) -> None:
        self.published.extend(events)

    def maintenance(self, at: datetime) -> Maintenance:
        return Maintenance(**self._shared(at), grace=timedelta(hours=1))

    def _shared(self, at: datetime) -> dict[str, Any]:
        """What the dispatcher and the upkeep both take: stores, metrics, transactions, a clock."""
        return {
            "registry": self.registry, "campaigns": self.stores.campaigns,
            "invitations": self.stores.invitations, "decisions": self.stores.decisions,
            "metrics": SamplingMetrics(CollectorRegistry()), "clock": lambda: at,
            "transact": self.transact,
        }  # fmt: skip

    async def transact(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        return await in_transaction(self.mongo, work)

    async def invite(self, phone: str, unit: str = UNITS[0], **fields: Any) -> UUID:
        """A continuous invitation by SMS, due now, its slot reserved as a decision does."""
        active = self.registry.get(CAMPAIGN)
        assert active is not None
        invitee = Invitee(
            dossier_id=f"000.00.00.H42-{phone}", unit=unit, kind="individual",
            channels=["sms"], contact={"phone": phone}, officer=None, delivered_at=NOW,
            draw_list="continuous",
        )  # fmt: skip
        key = await self.stores.campaigns.key(CAMPAIGN)
        assert key is not None
        doc, _ = build(active.campaign, invitee, vault_key=key, token_key=TOKEN_KEY, now=NOW)
        await self.stores.invitations.add([{**doc, **fields}])
        await self.stores.decisions.settle(CAMPAIGN, unit, release=-1)  # reserved += 1
        return doc["_id"]

    async def answer(self, invitation_id: UUID) -> None:
        answers = Answers(
            self.stores.invitations, self.stores.decisions, self.stores.waiting_answers,
            SamplingMetrics(CollectorRegistry()),
        )  # fmt: skip
        await self.transact(lambda session: answers.answer(invitation_id, NOW, session))

    async def released(self) -> dict[str, int]:
        """Slots released per unit, net of those a decision reserved (``invite``)."""
        rows = await self.stores.decisions.quota_table(CAMPAIGN)
        return {row["unit"]: row["released"] + 1 for row in rows}

    async def state(self, invitation_id: UUID) -> Document:
        doc = await self.stores.invitations.get(invitation_id)
        assert doc is not None
        return doc


async def _ignore(events: object) -> None:
    return


@pytest.fixture
async def world(mongo, db_name, make_campaign) -> World:
    db = mongo[db_name]
    await prepare(db)
    stores = Stores(db)
    registry = Registry(load_sample_hierarchy(), stores.campaigns, stores.decisions, _ignore)
    await registry.save(make_campaign(id=CAMPAIGN, channels=["sms"], scope={"units": list(UNITS)}))
    return World(mongo, stores, registry)


class AnsweredOnceClaimed(MongoInvitationStore):
    """The real store; each invitation a round claims is answered as soon as the claim lands."""

    def __init__(self, db: Any, world: World) -> None:
        super().__init__(db)
        self._world = world

    async def claim_due(self, now: datetime, **lease: Any) -> list[Document]:
        claimed = await super().claim_due(now, **lease)
        for doc in claimed:
            await self._world.answer(doc["_id"])
        return claimed


async def _leased_again(world: World, invitation_id: UUID) -> bool:
    return bool((await world.state(invitation_id))["lease_until"] > NOW + LEASE)


async def _released(world: World, unit: str) -> bool:
    return (await world.released()).get(unit) == 1


def statuses(doc: Document) -> list[str]:
    return [attempt["status"] for attempt in doc["attempts"]]


async def test_an_answer_while_the_send_is_in_flight_stays_answered_and_never_lapses(world):
    invitation = await world.invite("0912000001")
    sending = asyncio.create_task(world.dispatcher().run_once())
    await world.channel.sending("0912000001")

    await world.answer(invitation)
    world.channel.end("0912000001", DeliveryStatus.SENT)
    await sending
    lapsed = await world.maintenance(NOW + timedelta(days=60)).lapse()

    doc = await world.state(invitation)
    assert (doc["state"], doc["answered_at"], statuses(doc)) == ("answered", NOW, ["sent"])
    assert lapsed == 0
    assert await world.released() == {UNITS[0]: 0}


async def test_a_token_that_lapses_while_its_send_is_in_flight_is_released_once(world):
    invitation = await world.invite("0912000009")
    sending = asyncio.create_task(world.dispatcher().run_once())
    await world.channel.sending("0912000009")
    upkeep = world.maintenance(NOW + timedelta(days=60))

    first = await upkeep.lapse()
    world.channel.end("0912000009", DeliveryStatus.SENT)
    await sending
    again = await upkeep.lapse()

    doc = await world.state(invitation)
    assert (doc["state"], statuses(doc), first, again) == ("lapsed", ["sent"], 1, 0)
    assert await world.released() == {UNITS[0]: 1}


async def test_an_answer_while_the_send_fails_keeps_the_slot_and_a_failure_alone_frees_it(world):
    answered = await world.invite("0912000002", UNITS[0])
    unanswered = await world.invite("0912000003", UNITS[1])
    sending = asyncio.create_task(world.dispatcher().run_once())
    await world.channel.sending("0912000002")
    await world.channel.sending("0912000003")

    await world.answer(answered)
    world.channel.end("0912000002", DeliveryStatus.PERMANENT)
    world.channel.end("0912000003", DeliveryStatus.PERMANENT)
    await sending

    first, second = await world.state(answered), await world.state(unanswered)
    assert (first["state"], statuses(first)) == ("answered", ["permanent"])
    assert (second["state"], statuses(second)) == ("undeliverable", ["permanent"])
    assert await world.released() == {UNITS[0]: 0, UNITS[1]: 1}


async def test_a_round_sent_again_after_a_crash_releases_an_undeliverable_slot_once(world):
    failed = await world.invite("0912000004", UNITS[0])
    held = await world.invite("0912000005", UNITS[1])
    world.channel.end("0912000004", DeliveryStatus.PERMANENT)
    crashed = asyncio.create_task(world.dispatcher().run_once())
    await world.channel.sending("0912000005")
    await eventually(lambda: _released(world, UNITS[0]), 5, interval=0.01)

    crashed.cancel()  # its round's writes never land; its leases lapse
    await asyncio.gather(crashed, return_exceptions=True)
    world.channel.end("0912000005", DeliveryStatus.PERMANENT)
    handled = await world.dispatcher(NOW + LEASE + timedelta(seconds=1)).run_once()

    assert handled == 1  # the held one alone: the failed one is no longer due
    first, second = await world.state(failed), await world.state(held)
    assert (first["state"], second["state"]) == ("undeliverable", "undeliverable")
    assert await world.released() == {UNITS[0]: 1, UNITS[1]: 1}


async def test_two_senders_of_one_invitation_release_its_undeliverable_slot_once(world):
    invitation = await world.invite("0912000006")
    slow = asyncio.create_task(world.dispatcher().run_once())
    await world.channel.sending("0912000006")

    # the slow sender's lease lapsed (a stalled process): another takes the invitation over
    late = world.dispatcher(NOW + LEASE + timedelta(seconds=1))
    fast = asyncio.create_task(late.run_once())
    await eventually(lambda: _leased_again(world, invitation), 5, interval=0.01)
    world.channel.end("0912000006", DeliveryStatus.PERMANENT)
    handled = await asyncio.gather(slow, fast)

    doc = await world.state(invitation)
    assert handled == [1, 1]
    assert (doc["state"], statuses(doc)) == ("undeliverable", ["permanent", "permanent"])
    assert await world.released() == {UNITS[0]: 1}


async def test_a_reminder_sent_after_a_failure_report_leaves_it_undeliverable_released_once(
    world,
):
    sent_at = NOW - timedelta(days=3)
    invitation = await world.invite(
        "0912000007", state="sent", sent_at=sent_at, reminders=[NOW], next_attempt_at=NOW
    )
    dispatcher = world.dispatcher()
    reminding = asyncio.create_task(dispatcher.run_once())
    await world.channel.sending("0912000007")

    # the first message's final report: it never arrived, and sms was the only channel
    report = DeliveryReport(f"{invitation}-1", "p-1", delivered=False, failed=True, final=True)
    assert await dispatcher.report(report)
    world.channel.end("0912000007", DeliveryStatus.SENT)
    await reminding
    lapsed = await world.maintenance(NOW + timedelta(days=60)).lapse()

    doc = await world.state(invitation)
    assert (doc["state"], statuses(doc)) == ("undeliverable", ["sent"])
    assert lapsed == 0
    assert await world.released() == {UNITS[0]: 1}


async def test_an_answer_after_the_slot_was_released_as_undeliverable_takes_it_again(world):
    invitation = await world.invite("0912000008")
    world.channel.end("0912000008", DeliveryStatus.PERMANENT)
    await world.dispatcher().run_once()
    released = await world.released()

    await world.answer(invitation)  # an earlier channel's message did arrive after all

    assert released == {UNITS[0]: 1}
    assert (await world.state(invitation))["state"] == "answered"
    assert await world.released() == {UNITS[0]: 0}


async def test_a_release_that_fails_leaves_the_invitation_due_not_undeliverable_and_held(
    world, mongo, db_name
):
    invitation = await world.invite("0912000010")
    quotas = mongo[db_name][QUOTAS]
    slot = {"_id": quota_id(CAMPAIGN, UNITS[0])}
    await quotas.update_one(slot, {"$set": {"released": "not a number"}})  # $inc fails on it
    world.channel.end("0912000010", DeliveryStatus.PERMANENT)

    await world.dispatcher().run_once()  # the release fails after the outcome was decided
    kept = await world.state(invitation)
    await quotas.update_one(slot, {"$set": {"released": -1}})
    handled = await world.dispatcher(NOW + LEASE + timedelta(seconds=1)).run_once()

    assert (kept["state"], statuses(kept)) == ("queued", [])  # as if that round never wrote
    assert handled == 1
    assert (await world.state(invitation))["state"] == "undeliverable"
    assert await world.released() == {UNITS[0]: 1}


async def test_a_reminder_to_someone_who_answered_after_the_claim_is_not_sent(
    world, mongo, db_name
):
    invitation = await world.invite(
        "0912000011", state="sent", sent_at=NOW - timedelta(days=3), reminders=[NOW],
        next_attempt_at=NOW,
    )  # fmt: skip
    world.channel.end("0912000011", DeliveryStatus.SENT)  # a send, if any, would end at once

    answering = AnsweredOnceClaimed(mongo[db_name], world)
    handled = await world.dispatcher(invitations=answering).run_once()

    doc = await world.state(invitation)
    assert handled == 1
    assert (doc["state"], statuses(doc), world.published) == ("answered", [], [])
    assert not world.channel.started["0912000011"].is_set()
    assert await world.released() == {UNITS[0]: 0}
