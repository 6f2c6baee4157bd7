"""Replaying the log reproduces the live counts; crashes never change them."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sysconfig
from datetime import timedelta
from typing import Any

import pytest
from pymongo.errors import PyMongoError

from sipas_contracts import subjects
from sipas_contracts.streams import RESPONSES, SCORING_RESPONSES, ConsumerSpec
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.service import ServiceRuntime, ensure_collections
from sipas_scoring.domain.tally import fold
from sipas_scoring.handlers import decode_response, on_responses
from sipas_scoring.rebuild import REBUILT, rebuild, slices_digest
from sipas_scoring.store import AGGREGATES, AggregateStore, SliceCache
from sipas_scoring.testing import resp, synthetic_responses

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
UNITS = ["ht-nx-co-dam", "ht-nx-xuan-an", "ht-nx-xuan-hoi", "ht-nx-tien-dien"]


async def live_through(harness, seq: int, wait) -> None:
    store = harness.scoring.aggregates()

    async def caught_up() -> bool:
        return (await store.applied(SCORING_RESPONSES.durable)).highest >= seq

    await wait(caught_up, 60)


async def test_replaying_the_log_reproduces_the_live_counts(harness, wait, mongo):
    events = list(synthetic_responses(400, units=UNITS, campaign_id="c-rebuild"))
    await harness.publish(*events[:200])
    await harness.publish(resp({"C99": 4}, campaign_id="c-rebuild"))  # rejected by both
    duplicate = events[5]
    js = harness.nc.jetstream()
    headers = {**event_headers(duplicate), "Nats-Msg-Id": "republished-after-the-window"}
    await js.publish(subjects.for_event(duplicate), encode(duplicate), headers=headers)
    seqs = await harness.publish(*events[200:])
    await live_through(harness, seqs[-1], wait)
    database = harness.scoring.settings.database_name

    result = await rebuild(harness.nc, mongo, database, offset=timedelta(hours=7))

    summary = result.summary()
    assert result.equal, summary["differences"]
    assert summary["through_seq"] == seqs[-1]
    assert summary["responses_counted"] == 400  # the late copy is refused by both
    assert summary["not_counted"] == 1
    assert "answers.C99" in summary["not_counted_examples"][0]["reason"]
    assert summary["duplicate_event_ids"] == 1
    assert result.live_digest == result.rebuilt_digest
    fresh = await AggregateStore(mongo[database], REBUILT).tallies()
    assert slices_digest(fresh) == result.live_digest
    assert await mongo[database]["rebuilds"].count_documents({"equal": True}) == 1


async def test_the_rebuild_command_reports_a_tampered_count_and_fails(
    harness, wait, mongo, settings
):
    seqs = await harness.publish(*synthetic_responses(60, units=UNITS, campaign_id="c-tamper"))
    await live_through(harness, seqs[-1], wait)
    database = settings.database_name
    tampered = await mongo[database][AGGREGATES].find_one({})
    name = min(tampered["slices"])
    counts = json.loads(tampered["slices"][name])
    counts["responses"] += 1
    await mongo[database][AGGREGATES].update_one(
        {"_id": tampered["_id"]}, {"$set": {f"slices.{name}": json.dumps(counts)}}
    )
    slice_id = tampered["_id"].replace("|sipas-2640", f"|{name}|sipas-2640")
    env = {
        "SIPAS_NATS_URL": settings.nats_url,
        "SIPAS_MONGO_URL": settings.mongo_url,
        "SIPAS_SCORING_DATABASE": database,
    }

    sipas = shutil.which("sipas", path=sysconfig.get_path("scripts"))
    assert sipas is not None

    outcome = await asyncio.to_thread(
        subprocess.run,
        [sipas, "scoring", "rebuild", "--json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )

    assert outcome.returncode == 1, outcome.stderr
    summary = json.loads(outcome.stdout)
    assert not summary["equal"]
    assert summary["differences"] == [f"{slice_id}: responses differ"]


async def test_the_rebuild_command_prints_a_readable_table_when_the_counts_are_equal(
    harness, wait, settings
):
    seqs = await harness.publish(*synthetic_responses(30, units=UNITS, campaign_id="c-table"))
    await live_through(harness, seqs[-1], wait)
    env = {
        "SIPAS_NATS_URL": settings.nats_url,
        "SIPAS_MONGO_URL": settings.mongo_url,
        "SIPAS_SCORING_DATABASE": settings.database_name,
        "COLUMNS": "200",
    }
    sipas = shutil.which("sipas", path=sysconfig.get_path("scripts"))
    assert sipas is not None

    outcome = await asyncio.to_thread(
        subprocess.run,
        [sipas, "scoring", "rebuild"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )

    assert outcome.returncode == 0, outcome.stderr
    rows = {
        cells[0]: cells[1]
        for line in outcome.stdout.splitlines()
        if len(cells := [c.strip() for c in line.strip("│ ").split("│")]) == 2
    }
    assert rows["equal"] == "True"
    assert rows["responses_counted"] == "30"
    assert rows["not_counted"] == "0"
    assert rows["live_digest"] == rows["rebuilt_digest"]


@pytest.mark.parametrize("cached", [False, True], ids=["read-every-batch", "write-cache"])
async def test_crashes_before_commit_and_before_ack_leave_the_counts_exact(
    settings, nc, mongo_url, wait, cached
):
    """Scoring's handler under the kit, crashing on purpose; then compared with a recount.

    With the write cache, some transactions also abort *after* the slices were written
    (a transient error, retried by the driver), so the cache holds versions that were
    rolled back.
    """
    runtime = ServiceRuntime(settings.model_copy(update={"batch_size": 7}), title="crash")
    cache = SliceCache() if cached else None
    apply = on_responses(lambda: AggregateStore(runtime.db, cache=cache), offset=timedelta(hours=7))
    handled = {"n": 0}

    async def handler(batch: Any, session: Any) -> Any:
        await apply(batch, session)
        handled["n"] += 1
        if cached and handled["n"] % 4 == 0:
            raise PyMongoError("aborted after writing", error_labels=["TransientTransactionError"])
        return ()

    spec = ConsumerSpec(
        durable="scoring-crash",
        stream=RESPONSES.name,
        filter_subjects=(subjects.RESPONSES_RECORDED,),
        owner="scoring",
        ack_wait=timedelta(seconds=1),
    )
    consumer = runtime.consume(
        spec,
        decode=decode_response,
        handler=handler,
        dedup="sequence",
    )
    original, calls = consumer.process, {"n": 0}

    async def crashing(messages: list[Any], **options: Any) -> None:
        calls["n"] += 1
        if calls["n"] % 5 == 0:
            msg = "the process died before committing"
            raise RuntimeError(msg)  # nothing committed, nothing acked: redelivered
        if calls["n"] % 3 == 0:
            for message in messages:
                message.ack = _never  # committed, then died before acking: redelivered
        await original(messages, **options)

    consumer.process = crashing  # type: ignore[method-assign]

    async def setup(rt: ServiceRuntime) -> None:
        await ensure_collections(rt.db, [AGGREGATES])

    runtime.on_startup(setup)
    events = list(synthetic_responses(150, units=UNITS, campaign_id="c-crash"))
    js = nc.jetstream()
    await runtime.start()
    try:
        acks = [
            await js.publish(subjects.for_event(e), encode(e), headers=event_headers(e))
            for e in events
        ]
        store = AggregateStore(runtime.db)

        async def applied() -> bool:
            done = await store.applied("scoring-crash")
            return done.floor == acks[-1].seq

        await wait(applied, 60)
        await asyncio.sleep(2.5)  # let every redelivery of committed batches come and go
        stored = await store.tallies()
    finally:
        await runtime.stop()

    recount = fold(zip([a.seq for a in acks], events, strict=True))
    assert calls["n"] > 5  # crashes did happen
    assert not cached or handled["n"] >= 4  # so did aborts after writing
    assert {k.slice_id: t.canonical() for k, t in stored.items()} == {
        k.slice_id: t.canonical() for k, t in recount.items()
    }


async def _never() -> None:
    return None
