"""Replaying the log reproduces the live counts; crashes never change them."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sysconfig
from datetime import timedelta

import pytest

from sipas_contracts import subjects
from sipas_contracts.streams import SCORING_RESPONSES
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.testing import stop_as_if_killed
from sipas_scoring.domain.counting import fold
from sipas_scoring.rebuild import REBUILT, rebuild, slices_digest
from sipas_scoring.store.aggregates import AGGREGATES, MongoAggregateStore
from sipas_scoring.testing import resp, synthetic_responses

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
UNITS = ["ht-nx-co-dam", "ht-nx-xuan-an", "ht-nx-xuan-hoi", "ht-nx-tien-dien"]


async def live_through(harness, seq: int, wait) -> None:
    store = harness.scoring.stores.aggregates

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
    fresh = await MongoAggregateStore(mongo[database], REBUILT).tallies()
    assert slices_digest(fresh) == result.live_digest
    assert await mongo[database]["rebuilds"].count_documents({"equal": True}) == 1


async def test_the_rebuild_command_reports_a_tampered_count_and_fails(
    harness, wait, mongo, settings
):
    seqs = await harness.publish(*synthetic_responses(60, units=UNITS, campaign_id="c-tamper"))
    await live_through(harness, seqs[-1], wait)
    database = settings.database_name
    tampered = await mongo[database][AGGREGATES].find_one({"campaign_id": "c-tamper"})
    await mongo[database][AGGREGATES].update_one(
        {"_id": tampered["_id"]}, {"$inc": {"responses": 1}}
    )
    slice_id = tampered["_id"]
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


async def test_an_instance_that_dies_is_replaced_and_the_counts_stay_exact(
    settings, make_harness, mongo, wait
):
    """The owner stops without its last checkpoint and without acking (as kill -9 would).

    The second instance waits, is pinned once the owner has not pulled for
    ``owner_timeout``, loads the last checkpoint and replays what it lacks.
    """
    first = await make_harness(settings)
    second = await make_harness(settings)
    events = list(synthetic_responses(300, units=UNITS, campaign_id="c-crash"))
    seqs = await first.publish(*events[:150])
    await wait(lambda: first.scoring.responses.owner or second.scoring.responses.owner, 60)
    owner, standby = (first, second) if first.scoring.responses.owner else (second, first)
    await wait(lambda: owner.scoring.responses.applied.highest >= seqs[-1], 60)
    await stop_as_if_killed(owner.scoring.runtime)

    seqs += await standby.publish(*events[150:])
    await live_through(standby, seqs[-1], wait)

    assert standby.scoring.responses.owner
    stored = await standby.scoring.stores.aggregates.tallies("c-crash")
    recount = fold(zip(seqs, events, strict=True))
    assert {k.slice_id: t.canonical() for k, t in stored.items()} == {
        k.slice_id: t.canonical() for k, t in recount.items()
    }
    result = await rebuild(standby.nc, mongo, settings.database_name, offset=timedelta(hours=7))
    assert result.equal, result.summary()["differences"]
