"""Benchmark: the whole pipeline, raw dossier → decision → response → index, sustained.

    uv run python bench/pipeline.py [--dossiers 30000] [--rate 5000] [--invite 0.1] [--runs 5]

One run, on fresh servers (an embedded nats-server with ``sync_interval: always`` and
SecantusDB, synced commits):

1. the raw anchors (``anchor.py``) with the raw records' size: the raw publish →
   pull-consume hop and the raw atomic-batch publish rate (ADR-50, batches of 500);
2. intake, sampling and scoring start as deployed (``python -m sipas_<service>``), sampling
   with a continuous campaign over the whole province that invites ``--invite`` of the
   dossiers (decisions only: the dispatcher waits a minute, sending is another stage);
3. ``--dossiers`` realistic raw records (``intake.py``'s) are published on
   SIPAS_RAW_DOSSIERS at ``--rate`` per second in atomic batches; every invitation-sent
   event is answered at once by a response-recorded event for its campaign and unit (the
   respondent's part, as intake records an answer), published in atomic batches;
4. the clock stops when sampling has decided every dossier (its durable's ack floor), every
   invitation is answered, scoring has applied every response and an index-updated event of
   each unit counts its last response (``version``). CPU and the store's writes are read
   once scoring's funnel (paced, off the clock) has counted every dossier as well.

Sustained dossier events/s = dossiers / that time, printed beside the same run's raw
atomic-batch rate (target: ≥ 3,000/s or ≥ 25 % of the raw atomic rate, whichever is lower),
with each stage's finishing time, CPU per dossier of every process from ``/proc``, and what
the store was asked per dossier (``anchor.StoreOps``: its command counters, and the documents
written per collection from its oplog); and the ceilings the CPU allows: at the measured CPU
per dossier, and with the store at its raw write cost per document (``anchor.store_writes``,
measured on the same store before the services start) times the documents the pipeline wrote.
``--runs N`` repeats on fresh servers and prints min / median / max. Writes JSON to
bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import nats
from anchor import (
    SERVERS,
    CpuMeter,
    Repeated,
    Report,
    StoreOps,
    load,
    measure,
    repeat,
    share_of_atomic,
)
from intake import raw_messages
from sampling_decisions import campaign

from sipas_contracts import streams, subjects
from sipas_contracts.events import InvitationSent
from sipas_contracts.ids import uuid7_for
from sipas_runtime.publishing import Outgoing, outgoing, publish_atomic, publish_batched
from sipas_runtime.stack import Stack
from sipas_runtime.streams import ensure_streams
from sipas_scoring.testing import C2640, synthetic_responses

ROLES = {
    "intake": "sipas_intake",
    "sampling": "sipas_sampling",
    "scoring": "sipas_scoring",
    **SERVERS,
}
GIVE_UP_S = 900


class Respondents:
    """Answers every invitation once, in atomic batches, and remembers what it published."""

    def __init__(self, nc: Any) -> None:
        self._nc = nc
        self._waiting: list[Outgoing] = []
        self._templates = list(synthetic_responses(64, units=["u"], campaign_id="t"))
        self.invitations = 0
        self.answered = 0
        self.last_seq: dict[str, int] = {}  # unit → stream sequence of its last response

    async def on_invitation(self, msg: Any) -> None:
        invitation = InvitationSent.model_validate_json(msg.data)
        template = self._templates[self.invitations % len(self._templates)]
        at = datetime.now(UTC)
        event_id = uuid7_for(f"answer:{invitation.invitation_id}", at)
        response = template.model_copy(
            update={
                "event_id": event_id,
                "response_id": event_id,
                "occurred_at": at,
                "campaign_id": invitation.campaign_id,
                "unit": invitation.unit,
                "applicant_kind": invitation.stratum,
                "collection_mode": "online",
            }
        )
        self.invitations += 1
        self._waiting.append(outgoing(response))

    async def publish(self) -> None:
        """Publish what is waiting (atomic batches); record each unit's last sequence."""
        waiting, self._waiting = self._waiting, []
        for start in range(0, len(waiting), 500):
            chunk = waiting[start : start + 500]
            ack = await publish_atomic(self._nc, chunk)  # new ids: never refused as replays
            first = ack.seq - len(chunk) + 1
            for offset, message in enumerate(chunk):
                unit = json.loads(message.data)["unit"]
                self.last_seq[unit] = max(self.last_seq.get(unit, 0), first + offset)
            self.answered += len(chunk)


class Indexes:
    """The highest ``version`` seen in each unit's campaign index-updated events."""

    def __init__(self) -> None:
        self.version: dict[str, int] = defaultdict(int)

    async def on_index(self, msg: Any) -> None:
        event = json.loads(msg.data)
        if event["period"] == "campaign" and not event["rollup"]:
            unit = event["unit"]
            self.version[unit] = max(self.version[unit], int(event["version"]))

    def cover(self, last_seq: dict[str, int]) -> bool:
        return all(self.version.get(u, 0) >= seq for u, seq in last_seq.items())


async def ack_floor(js: Any, stream: str, durable: str) -> int:
    return int((await js.consumer_info(stream, durable)).ack_floor.stream_seq)


async def offer(js: Any, nc: Any, dossiers: int, rate: float) -> float:
    """Publish the raw records at ``rate`` in atomic batches; the rate achieved."""
    batch, now = max(1, int(rate) // 50), datetime.now(UTC)
    started, published = time.monotonic(), 0
    while published < dossiers:
        count = min(batch, dossiers - published)
        await publish_batched(js, nc, raw_messages(published, count, "generic", now), batch=500)
        published += count
        await asyncio.sleep(max(0.0, started + published / rate - time.monotonic()))
    return dossiers / (time.monotonic() - started)


async def flow(nc: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Run the dossiers through the stack; the times at which each stage finished."""
    js = nc.jetstream()
    respondents, indexes = Respondents(nc), Indexes()
    await nc.subscribe(subjects.INVITATIONS_SENT, cb=respondents.on_invitation)
    await nc.subscribe(subjects.INDEXES_UPDATED, cb=indexes.on_index)
    meter, load_before = CpuMeter(ROLES), load()
    started = time.monotonic()
    publishing = asyncio.create_task(offer(js, nc, args.dossiers, args.rate))
    marks: dict[str, float] = {}
    while time.monotonic() - started < GIVE_UP_S:
        await respondents.publish()
        now = time.monotonic() - started
        if "decided_s" not in marks:
            decided = await ack_floor(js, streams.DOSSIERS.name, "sampling-dossiers")
            if decided >= args.dossiers:
                marks["decided_s"] = now
        elif "answered_s" not in marks:
            stored = int((await js.stream_info(streams.INVITATIONS.name)).state.messages)
            if respondents.invitations >= stored:
                marks["answered_s"] = now
        elif "indexed_s" not in marks:
            if await ack_floor(js, streams.RESPONSES.name, "scoring-responses") >= max(
                respondents.last_seq.values(), default=0
            ) and indexes.cover(respondents.last_seq):
                marks["indexed_s"] = now
        elif await ack_floor(js, streams.DOSSIERS.name, "scoring-dossiers") >= args.dossiers:
            # The funnel (paced: nobody waits on it) has counted every dossier too, so the CPU
            # and the store's writes below are every stage's, not what the clock saw done.
            marks["funnel_counted_s"] = now
            break
        await asyncio.sleep(0.1)
    else:
        raise RuntimeError(f"the pipeline did not finish in {GIVE_UP_S} s: {marks}")
    achieved = await publishing
    return {
        "dossiers": args.dossiers,
        "offered_rate_per_s": args.rate,
        "achieved_publish_rate_per_s": round(achieved, 1),
        "invitations": respondents.invitations,
        "responses": respondents.answered,
        **{k: round(v, 2) for k, v in marks.items()},
        "dossiers_per_s": round(args.dossiers / marks["indexed_s"], 1),
        "dossiers_per_s_decided": round(args.dossiers / marks["decided_s"], 1),
        "load_before": load_before,
        "load_after": load(),
        **meter.per_event(args.dossiers),
    }


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    now = datetime.now(UTC)
    files = campaign(
        workdir / "pipeline.yaml",
        id=f"pipe-{uuid.uuid4().hex[:6]}",
        seed="bench-pipeline-seed",
        window={
            "start": str(now.date() - timedelta(days=7)),
            "end": str(now.date() + timedelta(days=1)),
        },
        sample_size={"rate": args.invite},
        instrument_id=C2640.id,  # the instrument the respondents' answers are for
    )
    stack = Stack(
        workdir / "stack",
        services=("intake", "sampling", "scoring"),
        ports={},
        store_sync=not args.unsynced_store,
        extra_env={
            "SIPAS_SAMPLING_CAMPAIGN_FILES": files,
            "SIPAS_SAMPLING_DISPATCH_INTERVAL": "60",  # decisions only: sending is a stage apart
            "SIPAS_SAMPLING_DEV_OUTBOX": "true",  # (no gateway faults logged when it runs)
            "SIPAS_LOG_LEVEL": "WARNING",
        },
    )
    stack.start_infrastructure()
    nc = await nats.connect(stack.nats_url)
    try:
        size = round(statistics.fmean(len(m.data) for m in raw_messages(0, 100, "generic", now)))
        anchor = await measure(
            nc,
            rate=args.anchor_rate,
            seconds=10,
            size=size,
            atomic_count=args.reference,
            store_url=stack.mongo_url,
        )
        await ensure_streams(nc.jetstream(), replicas=1)
        stack.start(timeout=180)
        store = StoreOps(stack.mongo_url)
        await store.start()
        pipe = await flow(nc, args)
        ops = await store.per_event(args.dossiers)
        return {
            "anchor": anchor,
            "pipeline": pipe,
            "store": ops | {"synced": stack.store_sync},
            "ceiling": ceilings(anchor, pipe, ops),
        }
    finally:
        await nc.close()
        stack.stop()


def show(results: dict[str, Any]) -> None:
    anchor, pipe = results["anchor"], results["pipeline"]
    atomic = anchor["atomic_batch_500_per_s"]
    target = min(3000.0, 0.25 * atomic)
    report = Report(
        f"Whole pipeline ({pipe['dossiers']:,} dossiers offered at"
        f" {pipe['offered_rate_per_s']:,}/s,"
        f" load {pipe['load_before']:.2f} → {pipe['load_after']:.2f})"
    )
    rate = pipe["dossiers_per_s"]
    report.add(
        "raw dossier → decision → response → index",
        rate,
        atomic,
        unit="dossiers/s",
        target=f"≥ {target:,.0f}/s (3,000 or 25 % of raw atomic)",
        met=rate >= target,
    )
    report.add("  until every dossier is decided", pipe["dossiers_per_s_decided"], atomic)
    report.add("raw records published", pipe["achieved_publish_rate_per_s"], unit="/s")
    for stage in ("decided_s", "answered_s", "indexed_s", "funnel_counted_s"):
        report.add(f"  stage finished: {stage[:-2]}", pipe[stage], unit="s")
    report.add("invitations answered", pipe["responses"])
    for role in ("intake", "sampling", "scoring", "store", "nats-server", "bench", "total"):
        report.add(f"CPU per dossier: {role}", pipe.get(f"cpu_us_per_event_{role}", 0.0), unit="µs")
    report.add("raw hop p99 (same run)", anchor["hop_ms_p99"], unit="ms")
    store = results.get("store", {})
    for op in ("insert", "update", "delete", "query", "getmore", "command"):
        report.add(f"store {op} commands per dossier", store.get(f"store_{op}_per_event", 0.0))
    floor = "" if store.get("store_oplog_complete", True) else " ≥"  # the oplog wrapped
    for key, per in list(store.get("store_writes_per_event", {}).items())[:12]:
        namespace, op = key.split()
        report.add(f"  {ACTIONS.get(op, op)} per dossier{floor}: {namespace}", per)
    if ceiling := results.get("ceiling"):
        cores = ceiling["cores"]
        report.add(
            "store, raw insert (same run): CPU per document",
            anchor["store_cpu_us_per_doc"],
            unit="µs",
        )
        report.add(
            "store, raw insert (same run): documents/s", anchor["store_docs_per_s"], unit="/s"
        )
        report.add("documents written per dossier", ceiling["documents_per_dossier"])
        report.add(
            "  × raw CPU per document: the store's floor",
            ceiling["store_floor_us_per_dossier"],
            unit="µs",
        )
        report.add(
            f"ceiling on {cores} cores, CPU as measured",
            ceiling["measured_per_s"],
            unit="dossiers/s",
        )
        report.add(
            f"ceiling on {cores} cores, the store at its floor",
            ceiling["store_at_floor_per_s"],
            unit="dossiers/s",
        )
    report.show()


def ceilings(anchor: dict[str, Any], pipe: dict[str, Any], store: dict[str, Any]) -> dict[str, Any]:
    """What the CPU figures allow at most: the rate the cores give at the measured CPU per
    dossier, and at the store's raw write cost (``anchor.store_writes``) for the documents
    the pipeline writes, with every other process as measured: where the store alone
    already bounds the pipeline, no change to the services reaches the target."""
    per_doc = anchor.get("store_cpu_us_per_doc")
    if not per_doc:
        return {}
    cores = os.cpu_count() or 1
    documents = sum(store.get("store_writes_per_event", {}).values())
    floor = documents * per_doc
    system = sum(pipe.get(f"cpu_us_per_event_{r}", 0.0) for r in ROLES)  # not the bench's
    at_floor = system - pipe.get("cpu_us_per_event_store", 0.0) + floor
    return {
        "cores": cores,
        "documents_per_dossier": round(documents, 2),
        "store_floor_us_per_dossier": round(floor, 1),
        "measured_per_s": round(cores * 1e6 / system),
        "store_at_floor_per_s": round(cores * 1e6 / at_floor),
    }


ACTIONS = {"i": "inserted", "u": "updated", "d": "deleted"}
KEYS = (
    "pipeline.dossiers_per_s",
    "anchor.atomic_batch_500_per_s",
    "share_of_atomic",
    "pipeline.dossiers_per_s_decided",
    "pipeline.indexed_s",
    "pipeline.cpu_us_per_event_intake",
    "pipeline.cpu_us_per_event_sampling",
    "pipeline.cpu_us_per_event_scoring",
    "pipeline.cpu_us_per_event_store",
    "pipeline.cpu_us_per_event_nats-server",
    "pipeline.cpu_us_per_event_total",
    "anchor.store_cpu_us_per_doc",
    "ceiling.documents_per_dossier",
    "ceiling.store_floor_us_per_dossier",
    "ceiling.measured_per_s",
    "ceiling.store_at_floor_per_s",
    "pipeline.load_before",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=30_000)
    parser.add_argument("--rate", type=float, default=5000, help="raw records offered per second")
    parser.add_argument("--invite", type=float, default=0.1, help="share of dossiers invited")
    parser.add_argument("--reference", type=int, default=20_000, help="raw atomic-batch messages")
    parser.add_argument("--anchor-rate", type=float, default=1000, help="raw hop rate")
    parser.add_argument("--runs", type=int, default=1, help="repeat, each with its own anchors")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, stores)")
    parser.add_argument(
        "--unsynced-store",
        action="store_true",
        help="SecantusDB without --sync-on-commit (only to measure what syncing costs)",
    )
    args = parser.parse_args()
    repeat(
        Repeated(
            "pipeline", partial(run, args), show, share_of_atomic("pipeline.dossiers_per_s"), KEYS
        ),
        args.runs,
        keep=args.keep,
    )


if __name__ == "__main__":
    main()
