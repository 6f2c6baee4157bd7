"""State kept in memory, checkpointed, taken over (sipas_runtime.memory / checkpoints).

The probe state counts responses per unit, the simplest fold there is; every test
compares what it holds and what its checkpoints stored with a recount of the stream.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from nats.aio.client import Client

from sipas_contracts import subjects
from sipas_contracts.events import ResponseRecorded
from sipas_contracts.streams import RESPONSES, ConsumerSpec
from sipas_contracts.testing import response
from sipas_runtime import checkpoints, sessions
from sipas_runtime.batches import Delivery
from sipas_runtime.memory import MemoryConsumer
from sipas_runtime.mongo import Document
from sipas_runtime.positions import WATERMARKS
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.sequences import AppliedSequences
from sipas_runtime.service import ServiceRuntime
from sipas_runtime.settings import ServiceSettings
from sipas_runtime.testing import eventually, kill_when_inside, stop_as_if_killed
from sipas_runtime.writes import Writes

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
DURABLE = "probe-memory"
SPEC = ConsumerSpec(
    durable=DURABLE,
    stream=RESPONSES.name,
    filter_subjects=(subjects.RESPONSES_RECORDED,),
    owner="probe",
    ack_wait=timedelta(seconds=2),
    pinned=True,
)
UNITS = ("ht-nx-co-dam", "ht-nx-xuan-an", "ht-nx-xuan-hoi")


class ProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "probe"


class PerUnit:
    """Responses per unit, in memory; one ``{_id: unit, n}`` document each."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.dirty: dict[str, int] = {}  # unit -> its count when it changed
        self.writing: dict[str, int] = {}
        self.restores = 0

    def fold(self, deliveries: Sequence[Delivery[ResponseRecorded]], /) -> None:
        if any(d.event.unit == "ht-poison" for d in deliveries):
            msg = "this unit cannot be counted"
            raise ValueError(msg)
        for delivery in deliveries:
            self.counts[delivery.event.unit] += 1
            self.dirty[delivery.event.unit] = self.counts[delivery.event.unit]

    async def load(self, db: Any, session: Any) -> None:
        self.counts = Counter({d["_id"]: d["n"] async for d in db["units"].find(session=session)})

    def restored(self, applied: AppliedSequences, extra: Document) -> None:
        self.restores += 1

    def clear(self) -> None:
        self.counts, self.dirty = Counter(), {}

    def contents(self, writes: Writes) -> Document:
        self.writing = dict(self.dirty)
        for unit, n in self.writing.items():
            writes.replace("units", {"_id": unit}, {"_id": unit, "n": n}, upsert=True)
        return {}

    def saved(self) -> None:  # a unit counted again meanwhile is written next time
        for unit, n in self.writing.items():
            if self.dirty.get(unit) == n:
                del self.dirty[unit]

    def touch_all(self) -> None:
        self.dirty = dict(self.counts)


@pytest.fixture
def settings(nats_url: str, mongo_url: str, db_name: str) -> ProbeSettings:
    return ProbeSettings(nats_url=nats_url, mongo_url=mongo_url, database=db_name,
                         batch_timeout=0.01, checkpoint_interval=0.1, owner_timeout=3)  # fmt: skip


@pytest.fixture
async def started() -> AsyncIterator[list[ServiceRuntime]]:
    runtimes: list[ServiceRuntime] = []
    yield runtimes
    for runtime in runtimes:
        if runtime.ready:
            await runtime.stop()


async def start(settings: ServiceSettings, started: list[ServiceRuntime]) -> MemoryConsumer[Any]:
    return await start_with(settings, started, PerUnit())


async def start_with(
    settings: ServiceSettings, started: list[ServiceRuntime], state: PerUnit
) -> MemoryConsumer[Any]:
    runtime = ServiceRuntime(settings, title="probe")
    consumer = runtime.consume_in_memory(
        SPEC, decode=ResponseRecorded.model_validate_json, state=state
    )
    started.append(runtime)
    await runtime.start()
    return consumer


async def publish(nc: Client, count: int, unit: str | None = None) -> list[ResponseRecorded]:
    events = [response(unit=unit or UNITS[i % len(UNITS)]) for i in range(count)]
    for event in events:
        await nc.jetstream().publish(
            subjects.response_recorded(event.unit), encode(event), headers=event_headers(event)
        )
    return events


async def stored(mongo: Any, db_name: str) -> tuple[Counter[str], checkpoints.Checkpoint]:
    db = mongo[db_name]
    units = Counter({d["_id"]: d["n"] async for d in db["units"].find()})
    return units, await checkpoints.read(db, DURABLE)


async def checkpointed(mongo: Any, db_name: str, seq: int) -> bool:
    """The last checkpoint holds sequence ``seq`` or later."""
    return (await stored(mongo, db_name))[1].applied.highest >= seq


def recount(events: list[ResponseRecorded]) -> Counter[str]:
    return Counter(e.unit for e in events)


async def test_the_state_and_the_position_it_describes_are_checkpointed_together(
    settings, started, nc, mongo, db_name
):
    consumer = await start(settings, started)
    events = await publish(nc, 30)

    await eventually(lambda: checkpointed(mongo, db_name, 30))
    units, position = await stored(mongo, db_name)
    assert consumer.owner
    assert consumer.state.counts == recount(events)
    assert units == recount(events)
    assert position.applied.floor == 30
    assert position.owner != ""
    info = await eventually(lambda: nc.jetstream().consumer_info(RESPONSES.name, DURABLE))
    await eventually(lambda: acked_all(nc))  # every folded message acked
    assert info.delivered.stream_seq == 30


async def acked_all(nc: Client) -> bool:
    info = await nc.jetstream().consumer_info(RESPONSES.name, DURABLE)
    return info.num_ack_pending == 0 and info.ack_floor.stream_seq == 30


async def test_enough_folded_messages_write_a_checkpoint_before_the_interval(
    settings, started, nc, mongo, db_name
):
    settings = settings.model_copy(update={"checkpoint_interval": 300, "checkpoint_events": 10})
    await start(settings, started)
    await publish(nc, 25)

    # the interval alone would take 5 minutes
    await eventually(lambda: checkpointed(mongo, db_name, 10), seconds=20)


async def test_a_dead_owner_is_replaced_and_nothing_is_lost_or_counted_twice(
    settings, started, nc, mongo, db_name
):
    settings = settings.model_copy(update={"checkpoint_interval": 300})
    first, second = await start(settings, started), await start(settings, started)
    events = await publish(nc, 25)
    await eventually(lambda: first.owner or second.owner)
    owner, standby = (first, second) if first.owner else (second, first)
    await eventually(lambda: owner.applied.highest == 25)
    await owner.checkpoint()
    events += await publish(nc, 15)  # these only in the owner's memory
    await eventually(lambda: owner.applied.highest == 40)
    assert (await stored(mongo, db_name))[1].applied.highest == 25
    await stop_as_if_killed(started[[first, second].index(owner)])

    # No message follows, so the server pins nobody: the standby takes the durable over
    # anyway once the dead owner's pin expired, and checkpoints what only the dead one held.
    await eventually(lambda: standby.owner, seconds=20)
    await eventually(lambda: checkpointed(mongo, db_name, 40))
    assert standby.state.counts == recount(events)
    events += await publish(nc, 20)

    await eventually(lambda: standby.owner and standby.applied.highest == 60, seconds=30)
    assert standby.state.counts == recount(events)
    assert standby.state.restores == 2  # without a pin, then pinned by the next message
    await standby.checkpoint()
    assert (await stored(mongo, db_name))[0] == recount(events)


async def test_a_checkpoint_of_an_owner_that_was_replaced_is_refused(
    settings, started, nc, mongo, db_name
):
    consumer = await start(settings.model_copy(update={"checkpoint_interval": 300}), started)
    await publish(nc, 5)
    await eventually(lambda: consumer.owner and consumer.applied.highest == 5)

    await checkpoints.claim(mongo, db_name, DURABLE, "another-instance")
    await publish(nc, 5)
    await eventually(lambda: consumer.applied.highest == 10)
    written = await consumer.checkpoint()

    assert not written
    assert not consumer.owner  # it stepped down at once, its memory dropped
    assert consumer.state.counts == Counter()
    assert (await stored(mongo, db_name))[1].owner == "another-instance"


# A previous owner that claimed the durable, then was killed inside a checkpoint: its
# transaction wrote the position and a count, and never committed.
KILLED_INSIDE_A_CHECKPOINT = f"""
import asyncio, sys
from pymongo import AsyncMongoClient
from sipas_runtime import checkpoints, sessions
from sipas_runtime.sessions import InstanceSessions

async def main(url, database):
    client = AsyncMongoClient(url)
    recorded = InstanceSessions(client, database, "dead-owner", "probe")
    await recorded.start()
    await checkpoints.claim(client, database, "{DURABLE}", "dead-owner")
    session = client.start_session()
    await recorded.note(session)
    await session.start_transaction()
    db = client[database]
    await db["{WATERMARKS}"].update_one({{"_id": "{DURABLE}"}}, {{"$set": {{"seq": 999}}}},
                                        session=session)
    await db["units"].replace_one({{"_id": "{UNITS[0]}"}}, {{"_id": "{UNITS[0]}", "n": 999}},
                                  upsert=True, session=session)
    print("inside", flush=True)
    await asyncio.sleep(600)

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.fixture
def no_reaping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dead instances' records are not reaped within a test (only a claim ends sessions)."""
    monkeypatch.setattr(sessions, "DEAD_AFTER_SECONDS", 600)


@pytest.mark.usefixtures("no_reaping")
async def test_an_owner_killed_inside_a_checkpoint_does_not_hold_its_successor_back(
    settings, started, nc, mongo, db_name
):
    """The claim ends its open transaction at once (the store would reap it a minute later)."""
    await kill_when_inside(KILLED_INSIDE_A_CHECKPOINT, settings.mongo_url, db_name)

    began = time.monotonic()
    consumer = await start(settings, started)
    events = await publish(nc, 6)
    await eventually(lambda: checkpointed(mongo, db_name, 6), seconds=20)

    assert time.monotonic() - began < 15  # the store's reaping takes 60 s, the record's 5 s
    units, position = await stored(mongo, db_name)
    assert units == recount(events)  # nothing of the dead transaction
    assert consumer.owner
    assert position.owner not in {"", "dead-owner"}


async def test_a_message_that_cannot_be_counted_is_dead_lettered_and_the_others_are_counted(
    settings, started, nc
):
    consumer = await start(settings, started)
    events = await publish(nc, 4)
    await publish(nc, 1, unit="ht-poison")
    await nc.jetstream().publish(subjects.response_recorded("ht-nx-co-dam"), b'{"not json')
    events += await publish(nc, 4)

    await eventually(lambda: consumer.applied.highest == 10 and consumer.applied.floor == 4)
    assert consumer.state.counts == recount(events)
    assert sorted(await consumer.dead_sequences()) == [5, 6]
    assert (await nc.jetstream().stream_info("SIPAS_DLQ")).state.messages == 2


async def test_after_a_store_lost_checkpoints_every_document_is_written_again(
    settings, started, nc, mongo, db_name
):
    consumer = await start(settings, started)
    events = await publish(nc, 12)

    await eventually(lambda: checkpointed(mongo, db_name, 12))
    await mongo[db_name]["units"].delete_many({})  # what a store losing commits leaves
    consumer.forget()

    async def rewritten() -> bool:
        return (await stored(mongo, db_name))[0] == recount(events)

    await eventually(rewritten)
    assert consumer.owner


class Loaded(PerUnit):
    """A state that cannot fold before it is loaded (as sampling's book without its keys)."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded = False

    def fold(self, deliveries: Sequence[Delivery[ResponseRecorded]], /) -> None:
        if not self.loaded:
            msg = "folded into a state that was dropped and not loaded again"
            raise RuntimeError(msg)
        super().fold(deliveries)

    async def load(self, db: Any, session: Any) -> None:
        await super().load(db, session)
        self.loaded = True

    def clear(self) -> None:
        super().clear()
        self.loaded = False


async def test_a_state_lost_while_its_batch_is_admitted_folds_and_dead_letters_nothing(
    settings, started, nc
):
    runtime = ServiceRuntime(settings, title="probe")
    consumers: list[MemoryConsumer[Any]] = []
    lost: list[str] = []

    def decode(data: bytes) -> ResponseRecorded:  # the batch is admitted: the pin moves once
        event = ResponseRecorded.model_validate_json(data)
        if event.unit == "ht-handover" and not lost:
            lost.append(event.unit)
            consumers[0].lose("handed_over")
        return event

    consumers.append(runtime.consume_in_memory(SPEC, decode=decode, state=Loaded()))
    started.append(runtime)
    await runtime.start()
    events = await publish(nc, 2) + await publish(nc, 1, unit="ht-handover")
    events += await publish(nc, 3)

    consumer = consumers[0]
    await eventually(lambda: consumer.owner and consumer.state.counts == recount(events))
    assert lost
    assert await consumer.dead_sequences() == set()


class Refreshed(PerUnit):
    """A state that folds a new unit only once a refresh has loaded what it needs."""

    def __init__(self) -> None:
        super().__init__()
        self.known: set[str] = set(UNITS)
        self.refused = 0

    def fold(self, deliveries: Sequence[Delivery[ResponseRecorded]], /) -> None:
        if any(d.event.unit not in self.known for d in deliveries):
            self.refused += 1
            msg = "a unit this state has not loaded yet"
            raise checkpoints.NotReadyError(msg)
        super().fold(deliveries)


async def test_a_state_not_ready_for_a_message_gets_it_again_later(settings, started, nc):
    consumer = await start_with(settings, started, Refreshed())
    events = await publish(nc, 2) + await publish(nc, 2, unit="ht-new")
    await eventually(lambda: consumer.state.refused > 0)

    consumer.state.known.add("ht-new")  # what its refresh does

    await eventually(lambda: consumer.state.counts == recount(events))
    assert await consumer.dead_sequences() == set()


async def test_a_durable_of_one_subject_records_the_others_as_applied(
    settings, started, nc, mongo, db_name
):
    # One unit's responses among three, as a partition of the dossiers (sipas_runtime.passed):
    # the other units' sequences hold nothing for it, and must not pile up as ranges.
    spec = dataclasses.replace(
        SPEC, durable="probe-one-unit", filter_subjects=(subjects.response_recorded(UNITS[0]),)
    )
    active: list[bool] = []
    runtime = ServiceRuntime(settings, title="probe")
    consumer = runtime.consume_in_memory(
        spec, decode=ResponseRecorded.model_validate_json, state=PerUnit(),
        active=lambda: bool(active),
    )  # fmt: skip
    started.append(runtime)
    await runtime.start()
    events = await publish(nc, 30)  # ours: 1, 4, ..., 28, in the first batch pulled

    active.append(True)  # the take-over replays 1-28 (what was handed out), covers the rest
    await eventually(lambda: consumer.owner and consumer.applied.highest == 28)
    assert consumer.applied.floor == 28

    events += await publish(nc, 30)  # ours: 31, 34, ..., 58, delivered after the take-over

    await eventually(lambda: consumer.applied.highest == 58)
    assert (consumer.applied.floor, consumer.applied.ranges) == (58, [])
    assert consumer.state.counts[UNITS[0]] == recount(events)[UNITS[0]]
    await consumer.checkpoint()
    position = await checkpoints.read(mongo[db_name], "probe-one-unit")
    assert (position.applied.floor, position.applied.ranges) == (58, [])


async def test_a_take_over_records_what_it_read_back_for_other_subjects_as_applied(
    settings, started, nc
):
    settings = settings.model_copy(update={"checkpoint_interval": 300})
    spec = dataclasses.replace(
        SPEC, durable="probe-one-unit", filter_subjects=(subjects.response_recorded(UNITS[0]),)
    )
    runtime = ServiceRuntime(settings, title="probe")
    consumer = runtime.consume_in_memory(
        spec, decode=ResponseRecorded.model_validate_json, state=PerUnit()
    )
    started.append(runtime)
    await runtime.start()
    events = await publish(nc, 30)
    await eventually(lambda: consumer.owner and consumer.applied.highest == 28)
    consumer.lose("test")  # nothing checkpointed: the next owner reads 1-28 back

    await consumer.take_over(nc.jetstream(), None)

    assert (consumer.applied.floor, consumer.applied.ranges) == (28, [])
    assert consumer.state.counts[UNITS[0]] == recount(events)[UNITS[0]]
