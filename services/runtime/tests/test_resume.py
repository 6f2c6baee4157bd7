"""A store that loses its last commits costs a replay, never an event (sipas_runtime.resume).

"Losing the last commits" is simulated exactly: the service's database is snapshotted,
more events are applied and acked, and the snapshot is restored — what a Mongo-wire
server without sync, or a restore from backup, leaves behind.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client
from structlog.testing import capture_logs

from sipas_contracts import subjects
from sipas_contracts.events import ResponseRecorded
from sipas_contracts.streams import RESPONSES, ConsumerSpec
from sipas_contracts.testing import response
from sipas_runtime.batches import Batch
from sipas_runtime.embedded import EmbeddedMongo
from sipas_runtime.messages import subject_matches
from sipas_runtime.positions import ranges
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.resume import _within, _without
from sipas_runtime.sequences import AppliedSequences
from sipas_runtime.service import ServiceRuntime
from sipas_runtime.settings import ServiceSettings
from sipas_runtime.testing import eventually

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
DURABLE = "probe-responses"


class ProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "probe"


SPEC = ConsumerSpec(
    durable=DURABLE,
    stream=RESPONSES.name,
    filter_subjects=(subjects.RESPONSES_RECORDED,),
    owner="probe",
    ack_wait=timedelta(seconds=2),
)


def decode(data: bytes) -> ResponseRecorded:
    return ResponseRecorded.model_validate_json(data)


def effects(runtime: ServiceRuntime, *, natural_key: bool = False) -> Callable[..., Any]:
    """One effect document per fresh response; with ``natural_key`` replays are harmless."""

    async def handle(batch: Batch[ResponseRecorded], session: Any) -> list[Any]:
        for delivery in batch.fresh:
            rid = str(delivery.event.response_id)
            if natural_key:  # dedup="handler": the handler's own state recognises a replay
                await runtime.db["effects"].update_one(
                    {"_id": rid}, {"$setOnInsert": {"seq": delivery.seq}}, upsert=True,
                    session=session,
                )  # fmt: skip
            else:
                await runtime.db["effects"].insert_one({"rid": rid}, session=session)
        return []

    return handle


@pytest.fixture
def settings(nats_url: str, mongo_url: str, db_name: str) -> ProbeSettings:
    return ProbeSettings(nats_url=nats_url, mongo_url=mongo_url, database=db_name,
                         batch_timeout=0.01)  # fmt: skip


@pytest.fixture
def db(mongo: Any, db_name: str) -> Any:
    """The probe service's database, through the test's own client."""
    return mongo[db_name]


@pytest.fixture
async def started() -> AsyncIterator[list[ServiceRuntime]]:
    runtimes: list[ServiceRuntime] = []
    yield runtimes
    for runtime in runtimes:
        if runtime.ready:
            await runtime.stop()


async def start(settings: ServiceSettings, started: list[ServiceRuntime], mode: str,
                *, natural_key: bool = False) -> ServiceRuntime:  # fmt: skip
    runtime = ServiceRuntime(settings, title="probe")
    runtime.consume(SPEC, decode=decode, handler=effects(runtime, natural_key=natural_key),
                    dedup=mode)  # type: ignore[arg-type]  # fmt: skip
    started.append(runtime)
    await runtime.start()
    return runtime


async def publish(nc: Client, count: int) -> list[ResponseRecorded]:
    events = [response() for _ in range(count)]
    for event in events:
        await nc.jetstream().publish(
            subjects.response_recorded(event.unit), encode(event), headers=event_headers(event)
        )
    return events


async def applied_everything(nc: Client, count: int) -> bool:
    """The durable has acked ``count`` messages (each one after its effect committed)."""
    info = await nc.jetstream().consumer_info(RESPONSES.name, DURABLE)
    return info.ack_floor.stream_seq == count


async def effect_ids(runtime: ServiceRuntime) -> Counter[str]:
    docs = await runtime.db["effects"].find().to_list()
    return Counter(d.get("rid", d["_id"]) for d in docs)


async def snapshot(db: Any) -> dict[str, list[dict[str, Any]]]:
    return {name: await db[name].find().to_list() for name in await db.list_collection_names()}


async def restore(db: Any, saved: dict[str, list[dict[str, Any]]]) -> None:
    """Put the database back as it was: the commits made since are lost."""
    for name in await db.list_collection_names():
        await db[name].delete_many({})
        if saved.get(name):
            await db[name].insert_many(saved[name])


async def lose_last_commits(
    runtime: ServiceRuntime, nc: Client, db: Any, kept: int, lost: int
) -> list[ResponseRecorded]:
    """Apply ``kept`` + ``lost`` events, stop, then lose the last ``lost`` commits."""
    events = await publish(nc, kept)
    await eventually(lambda: applied_everything(nc, kept))
    saved = await snapshot(db)
    events += await publish(nc, lost)
    await eventually(lambda: applied_everything(nc, kept + lost))
    await runtime.stop()
    await restore(db, saved)  # the last commits are gone; JetStream acked them all
    return events


@pytest.mark.parametrize("mode", ["event_id", "sequence", "handler"])
async def test_commits_the_store_lost_are_replayed_at_start_once_each(
    settings, started, nc, db, mode
):
    natural_key = mode == "handler"  # such a handler recognises replays itself
    first = await start(settings, started, mode, natural_key=natural_key)
    events = await lose_last_commits(first, nc, db, kept=20, lost=15)

    with capture_logs() as logs:
        second = await start(settings, started, mode, natural_key=natural_key)

    lost = [entry["messages"] for entry in logs if entry["event"] == "lost_commits_replayed"]
    assert lost == [15]
    expected = Counter(str(e.response_id) for e in events)
    assert await effect_ids(second) == expected  # replayed during start, before ready
    assert (await second.js.consumer_info(RESPONSES.name, DURABLE)).ack_floor.stream_seq == 35
    position = await second._consumers[0].position()
    assert position.missing(35) == []


async def test_two_instances_resuming_at_once_apply_each_lost_event_once(settings, started, nc, db):
    first = await start(settings, started, "event_id")
    events = await lose_last_commits(first, nc, db, kept=10, lost=30)

    pair = [ServiceRuntime(settings, title="probe") for _ in range(2)]
    for runtime in pair:
        runtime.consume(SPEC, decode=decode, handler=effects(runtime))
        started.append(runtime)
    await asyncio.gather(*(runtime.start() for runtime in pair))

    assert await effect_ids(pair[0]) == Counter(str(e.response_id) for e in events)


async def test_a_dead_lettered_message_is_not_replayed_into_the_dlq_again(settings, started, nc):
    first = await start(settings, started, "event_id")
    await nc.jetstream().publish(subjects.response_recorded("ht-nx-co-dam"), b'{"not json')
    await publish(nc, 3)
    await eventually(lambda: applied_everything(nc, 4))
    await first.stop()

    await start(settings, started, "event_id")

    assert (await nc.jetstream().stream_info("SIPAS_DLQ")).state.messages == 1


async def test_a_restarted_store_is_noticed_and_what_it_lost_replayed(
    nats_url, db_name, tmp_path: Path, started, nc
):
    store = EmbeddedMongo(tmp_path / "store")
    settings = ProbeSettings(nats_url=nats_url, mongo_url=store.start(), database=db_name,
                             batch_timeout=0.01)  # fmt: skip
    try:
        runtime = await start(settings, started, "sequence")
        events = await publish(nc, 10)
        await eventually(lambda: applied_everything(nc, 10))
        saved = await snapshot(runtime.db)
        events += await publish(nc, 10)
        await eventually(lambda: applied_everything(nc, 20))
        await restore(runtime.db, saved)

        store.kill()
        store.start()  # same port and data: the service's client reconnects

        expected = Counter(str(e.response_id) for e in events)

        async def recovered() -> bool:
            return await effect_ids(runtime) == expected

        await eventually(recovered, seconds=30)
    finally:
        for runtime in started:
            if runtime.ready:
                await runtime.stop()
        started.clear()
        store.stop()


@given(st.lists(st.tuples(st.integers(1, 40), st.integers(0, 6)), max_size=6),
       st.sets(st.integers(1, 50), max_size=8))  # fmt: skip
def test_cutting_sequences_out_of_ranges_keeps_every_other_one(raw, skip):
    spans = [(a, a + n) for a, n in raw]

    kept = _without(spans, skip)

    expected = sorted({s for a, b in spans for s in range(a, b + 1)} - skip)
    assert sorted({s for a, b in kept for s in range(a, b + 1)}) == expected
    assert all(a <= b for a, b in kept)


def test_parts_of_ranges_within_bounds():
    assert _within([(1, 10), (20, 30)], [(5, 22)]) == [(5, 10), (20, 22)]
    assert _within([(1, 3)], [(4, 9)]) == []


@given(st.sets(st.integers(1, 200), max_size=40))
def test_sequences_as_ranges_and_back(seqs):
    applied = AppliedSequences()
    for first, last in ranges(seqs):
        applied.add_range(first, last)

    assert {s for s in range(1, 202) if s in applied} == seqs


def test_subjects_match_nats_wildcards():
    assert subject_matches("sipas.response.recorded.>", "sipas.response.recorded.ht-nx-co-dam")
    assert subject_matches("sipas.*.recorded.*", "sipas.response.recorded.u")
    assert not subject_matches("sipas.response.recorded.>", "sipas.response.recorded")
    assert not subject_matches("sipas.*.recorded", "sipas.response.recorded.u")
    assert not subject_matches("sipas.dossier.completed.>", "sipas.response.recorded.u")


async def test_position_entries_fold_into_the_base_document(settings, started, nc, db):
    runtime = await start(settings, started, "event_id")
    await publish(nc, 12)
    await eventually(lambda: applied_everything(nc, 12))
    consumer = runtime._consumers[0]
    before = await consumer.position()
    entries = await db["processed_events"].count_documents(
        {"_id": {"$regex": "^probe-responses\\|"}}
    )

    folded = await consumer.dedup.fold()

    assert folded == entries > 0
    assert await db["processed_events"].count_documents({"_id": {"$regex": "\\|"}}) == 0
    base = await db["consumer_watermarks"].find_one({"_id": DURABLE})
    assert AppliedSequences.from_document(base).document() == before.document()
    assert before.floor == 12
