"""The decision book (sipas_sampling.deciding.book, #22): decisions from memory that a
replay makes again, whatever its batches, and a dossier decided whole or not at all."""

from __future__ import annotations

import hashlib
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from services.sampling.tests.conftest import campaign
from services.sampling.tests.fakes import InMemoryCampaignStore, InMemoryDecisionStore

from sipas_contracts.testing import dossier
from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.batches import Delivery
from sipas_runtime.checkpoints import NotReadyError
from sipas_runtime.privacy import KeyPair, seal
from sipas_sampling.deciding import book as book_module
from sipas_sampling.deciding.book import DecisionBook
from sipas_sampling.deciding.running import DecisionLoops
from sipas_sampling.deciding.state import DecisionState
from sipas_sampling.metrics import SamplingMetrics
from sipas_sampling.registry import Registry
from sipas_sampling.screening import Keys
from sipas_sampling.vault import new_key

PAIR = KeyPair.generate()
KEYS = Keys(PAIR.secret_key, b"t" * 32, b"o" * 32)
UNITS = ("ht-nx-xuan-hoi", "ht-nx-co-dam")
START = datetime(2026, 3, 2, 1, tzinfo=UTC)
ONLINE = {"exclude": {"online": True}}  # online dossiers are left out
VAULT = {"adaptive-2026": new_key(), "fixed-2026": new_key()}


async def registry() -> Registry:
    campaigns = InMemoryCampaignStore()
    quotas = {"fixed_per_unit": {"individual": 3, "organisation": 1}}
    adaptive = campaign(id="adaptive-2026", sample_size=None, allocation=quotas, population=ONLINE)
    await campaigns.save(adaptive, START)
    await campaigns.save(
        campaign(id="fixed-2026", sample_size={"rate": 0.4}, population=ONLINE), START
    )

    async def announce(_: object) -> None:
        return None

    found = Registry(load_sample_hierarchy(), campaigns, InMemoryDecisionStore(), announce)
    await found.refresh()
    return found


def new_book(found: Registry) -> DecisionBook:
    book = DecisionBook(found, KEYS, SamplingMetrics(CollectorRegistry()))
    book.vault = dict(VAULT)
    for unit in UNITS:
        book.quotas.set_quota("adaptive-2026", unit, 4, expected_total=30.0)
    return book


def deliveries(
    plan: list[tuple[int, int]], online: frozenset[int] = frozenset()
) -> list[Delivery[Any]]:
    """One delivery per (unit index, applicant number), an hour apart; ``online``: excluded."""
    found = []
    for seq, (unit, applicant) in enumerate(plan, 1):
        at = START + timedelta(hours=seq)
        event = dossier(
            dossier_id=f"000.00.00.H42-260302-{seq:04d}", unit=UNITS[unit],
            applicant_pseudonym=hashlib.sha256(f"applicant-{applicant}".encode()).hexdigest(),
            contact_channels=["sms"], submission_channel="online" if seq in online else "direct",
            sealed_contact=seal(PAIR.public_key, {"phone": "0912345678"}),
            delivered_at=at, received_at=at - timedelta(days=2), occurred_at=at,
        )  # fmt: skip
        found.append(Delivery(event, seq, "sipas.dossier.completed", 1, at))
    return found


def decided(book: DecisionBook) -> tuple[Any, ...]:
    return (
        book.pending.log,
        [(e.event_id, e.token_hash, e.invitation_id) for e in book.outbox],
        book.quotas.changed(),
        book.claims.changed(),
    )


plans = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 12)), min_size=1, max_size=30)


@settings(max_examples=40, deadline=None)
@given(plan=plans, cuts=st.lists(st.integers(1, 30), max_size=5))
async def test_a_replay_decides_the_same_whatever_its_batches(plan, cuts):
    found = await registry()
    messages = deliveries(plan)
    whole, replayed = new_book(found), new_book(found)

    whole.fold(messages)
    bounds = sorted({0, len(messages), *(c for c in cuts if c < len(messages))})
    for first, last in pairwise(bounds):
        replayed.fold(messages[first:last])

    assert decided(replayed) == decided(whole)


@settings(max_examples=40, deadline=None)
@given(plan=plans)
async def test_no_unit_is_granted_more_slots_than_its_quota(plan):
    book = new_book(await registry())

    book.fold(deliveries(plan))

    for unit in UNITS:
        assert book.quotas.unit("adaptive-2026", unit).reserved <= 4
    invited = [row for row in book.pending.log.get("adaptive-2026", []) if row[4] == "invited"]
    assert len(invited) == sum(book.quotas.unit("adaptive-2026", u).invited for u in UNITS)


async def test_a_dossier_that_fails_leaves_the_others_decided_once(monkeypatch):
    found = await registry()
    messages = deliveries([(0, n) for n in range(6)], online=frozenset({1, 2}))
    reference = new_book(found)
    reference.fold(messages)
    culprit = messages[3].event.dossier_id
    real_build = book_module.build

    def failing(campaign: Any, invitee: Any, **kw: Any) -> Any:
        if invitee.dossier_id == culprit:
            raise RuntimeError(culprit)
        return real_build(campaign, invitee, **kw)

    monkeypatch.setattr(book_module, "build", failing)
    book = new_book(found)
    with pytest.raises(RuntimeError):
        book.fold(messages)
    for message in messages:  # the consumer's retry, one message at a time
        with pytest.raises(RuntimeError) if message.event.dossier_id == culprit else nullcontext():
            book.fold([message])

    logged = [row for rows in book.pending.log.values() for row in rows]
    assert sorted(r[0] for r in logged) == sorted(  # each once, excluded ones too
        r[0] for rows in reference.pending.log.values() for r in rows if r[0] != culprit
    )


async def test_only_the_owner_publishes_what_it_decided():
    state = DecisionState(
        registry=await registry(), campaigns=InMemoryCampaignStore(), keys=KEYS,
        metrics=SamplingMetrics(CollectorRegistry()), durable="sampling-dossiers",
    )  # fmt: skip
    state.book = new_book(await registry())
    state.book.fold(deliveries([(0, n) for n in range(6)]))
    decided = list(state.book.outbox)
    published: list[Any] = []
    owner = False

    async def publish(events: Any) -> None:
        published.extend(events)

    loops = DecisionLoops(state, publish=publish, db=lambda: None, owner=lambda: owner)  # type: ignore[arg-type,return-value]
    assert decided
    assert await loops.publish_once() == 0  # the durable changed hands: nothing goes out

    owner = True
    assert await loops.publish_once() == len(decided)
    assert published == decided
    assert state.book.outbox == []


async def test_a_campaign_whose_key_is_not_loaded_yet_makes_the_dossier_wait():
    book = new_book(await registry())
    del book.vault["fixed-2026"]  # it started deciding since the last refresh
    messages = deliveries([(i % 2, i) for i in range(20)])  # some are drawn: invitations

    with pytest.raises(NotReadyError):  # the consumer delivers it again, not dead-lettered
        book.fold(messages)
    book.vault["fixed-2026"] = VAULT["fixed-2026"]  # the refresh
    book.fold(messages)

    for rows in book.pending.log.values():  # each dossier decided once per campaign
        assert sorted(row[0] for row in rows) == sorted(m.event.dossier_id for m in messages)


async def test_a_dossier_waits_whole_when_one_of_its_campaigns_is_not_ready():
    campaigns = InMemoryCampaignStore()
    await campaigns.save(campaign(id="online-left-out", population=ONLINE), START)
    await campaigns.save(campaign(id="everyone", sample_size={"rate": 1.0}), START)

    async def announce(_: object) -> None:
        return None

    found = Registry(load_sample_hierarchy(), campaigns, InMemoryDecisionStore(), announce)
    await found.refresh()
    book = DecisionBook(found, KEYS, SamplingMetrics(CollectorRegistry()))
    book.vault = {"online-left-out": new_key()}  # "everyone" started since the last refresh
    messages = deliveries([(0, 1)], online=frozenset({1}))  # left out by the first campaign

    with pytest.raises(NotReadyError):
        book.fold(messages)
    book.vault["everyone"] = new_key()
    book.fold(messages)

    rows = {c: [row[4] for row in log] for c, log in book.pending.log.items()}
    assert rows == {"online-left-out": ["online"], "everyone": ["invited"]}
