"""Benchmark: dossier → invitation decision latency, and quota safety under concurrency.

    uv run python bench/sampling_decisions.py [--rate 1000] [--seconds 30] [--events 50000]

Starts an embedded nats-server and SecantusDB (or uses SIPAS_NATS_URL / SIPAS_MONGO_URL),
then runs two scenarios against real ``python -m sipas_sampling`` processes:

1. latency: one sampling process, dossier-completed events published at ``--rate`` per
   second for ``--seconds`` under a continuous campaign that invites about 10% of them;
   latency = invitation-sent received on NATS − dossier published (decision, commit and
   publish included), p50/p95/p99/max;
2. concurrency: four sampling processes sharing the durable consumer decide on
   ``--events`` dossiers for 17 units with a quota of 20 each, and one of them is killed
   (kill -9) once ``--kill-at`` of them are decided; overshoot is counted from Mongo
   (reserved and invitations per unit) and must be 0, and so must the dossiers decided
   twice (decision-log entries beyond one per dossier).

Each run first measures the raw anchors on the same servers (``anchor.py``: the raw
publish → pull-consume hop at ``--rate`` with the dossiers' size, the raw atomic-batch
rate) and prints every figure beside them (target: p99 decision ≤ 5 × raw hop p99; 0
overshoot); ``--runs N`` repeats on fresh servers and prints min / median / max. Writes
JSON to bench/results/. The work folder (stores and service logs) is removed at the end
unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from datetime import time as clock_time
from pathlib import Path
from statistics import quantiles

import nats
import yaml
from anchor import SERVERS, CpuMeter, Report, console, load, measure, show_spread, summarize
from pymongo import AsyncMongoClient

from sipas_contracts import subjects
from sipas_contracts.events import DossierCompleted, InvitationSent
from sipas_contracts.ids import uuid7
from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.embedded import EmbeddedMongo, EmbeddedNats
from sipas_runtime.privacy import KeyPair, seal
from sipas_runtime.processes import free_port, kill, spawn, stop
from sipas_runtime.publishing import encode, event_headers

UNITS = load_sample_hierarchy().leaves("ht-nx", date(2024, 6, 1))
RESULTS = Path(__file__).parent / "results"
VN = timezone(timedelta(hours=7))


def campaign(path: Path, **fields: object) -> str:
    path.write_text(
        yaml.safe_dump(
            {
                "name_vi": "Benchmark",
                "instrument_id": "sipas-1001-2023",
                "mode": "continuous",
                "scope": {"under": "ht"},
                "channels": ["zalo", "sms"],
                **fields,
            }
        )
    )
    return str(path)


def dossier(i: int, at: datetime, sealed: str) -> DossierCompleted:
    unit = UNITS[i % len(UNITS)]
    return DossierCompleted(
        event_id=uuid7(),
        occurred_at=at,
        producer="bench",
        dossier_id=f"B-{i:07d}",
        unit=unit,
        procedure_code="1.001193",
        applicant_kind="individual" if i % 3 else "organisation",
        applicant_pseudonym=hashlib.sha256(f"a{i}".encode()).hexdigest(),
        submission_channel="direct",
        result_delivery="counter",
        received_at=at - timedelta(days=2),
        delivered_at=at,
        contact_channels=["sms", "zalo"],
        sealed_contact=sealed,
    )


DECIDING: dict[str, str] = {}
"""``--decisions memory`` / ``--partitions``: how the sampling processes decide (#22)."""


def service_env(
    nats_url: str, mongo_url: str, pair: KeyPair, db: str, files: str
) -> dict[str, str]:
    return {
        **os.environ,
        **DECIDING,
        "SIPAS_NATS_URL": nats_url,
        "SIPAS_MONGO_URL": mongo_url,
        "SIPAS_TOKEN_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "SIPAS_SAMPLING_SECRET_KEY": pair.secret_key,
        "SIPAS_SAMPLING_DATABASE": db,
        "SIPAS_SAMPLING_CAMPAIGN_FILES": files,
        "SIPAS_SAMPLING_DEV_OUTBOX": "true",
        "SIPAS_LOG_LEVEL": "WARNING",
    }


async def wait_ready(port: int) -> None:
    import httpx  # noqa: PLC0415

    async with httpx.AsyncClient() as http:
        for _ in range(600):  # 2 minutes: four instances starting at once on a busy machine
            try:
                if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("sampling did not become ready")


def start(n: int, env: dict[str, str], logs: Path) -> tuple[list, list[int]]:
    ports = [free_port() for _ in range(n)]
    procs = [
        spawn(
            [sys.executable, "-m", "sipas_sampling"],
            log_file=logs / f"sampling-{p}.log",
            env={**env, "SIPAS_SAMPLING_HTTP_PORT": str(p)},
        )
        for p in ports
    ]
    return procs, ports


async def latency(
    nats_url: str,
    mongo_url: str,
    work: Path,
    rate: float,
    seconds: float,
    *,
    invite: float,
    dispatch: bool,
    own_dispatcher: bool = False,
) -> dict:
    pair = KeyPair.generate()
    now = datetime.now(UTC)
    files = campaign(
        work / "latency.yaml",
        id="bench-latency",
        seed="bench-latency-seed",
        window={
            "start": str(now.date() - timedelta(days=1)),
            "end": str(now.date() + timedelta(days=1)),
        },
        sample_size={"rate": invite},
    )
    env = service_env(nats_url, mongo_url, pair, "bench_latency", files)
    if not dispatch:
        env["SIPAS_SAMPLING_DISPATCH_INTERVAL"] = "60"
    sender_ports: list[int] = []
    if dispatch and own_dispatcher:  # deciding and sending in two processes
        procs, ports = start(1, {**env, "SIPAS_SAMPLING_ROLE": "decide"}, work)
        senders, sender_ports = start(1, {**env, "SIPAS_SAMPLING_ROLE": "dispatch"}, work)
        procs += senders
    else:
        procs, ports = start(1, env, work)
    received: dict[str, float] = {}
    try:
        for port in ports + sender_ports:
            await wait_ready(port)
        nc = await nats.connect(nats_url)
        js = nc.jetstream()

        async def on_invitation(msg: object) -> None:
            event = InvitationSent.model_validate_json(msg.data)  # type: ignore[attr-defined]
            received[str(event.invitation_id)] = time.time()

        await nc.subscribe(subjects.INVITATIONS_SENT, cb=on_invitation)
        sealed = seal(pair.public_key, {"phone": "0912345678"})
        total = int(rate * seconds)
        # Built and encoded before the clock starts: the load generator shares the cores
        # with the service it measures, so it does no more than publish while measuring.
        # JetStream acks are awaited at the end (publish_async bounds the pending ones), so
        # a slow ack never holds the schedule back and then sends a burst to catch up.
        messages = [
            (event.dossier_id, subjects.for_event(event), encode(event), event_headers(event))
            for event in (dossier(i, datetime.now(UTC), sealed) for i in range(total))
        ]
        published: dict[str, float] = {}
        meter = CpuMeter({"sampling": "sipas_sampling", **SERVERS})
        load_before = load()
        started = time.monotonic()
        futures = []
        for i, (dossier_id, subject, payload, headers) in enumerate(messages):
            target = started + i / rate
            delay = target - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            published[dossier_id] = time.time()
            futures.append(await js.publish_async(subject, payload, headers=headers))
        await asyncio.gather(*futures)
        achieved = total / (time.monotonic() - started)
        client: AsyncMongoClient = AsyncMongoClient(
            mongo_url, uuidRepresentation="standard", tz_aware=True
        )
        for _ in range(600):
            decided = sum(
                [
                    len(d["items"])
                    async for d in client["bench_latency"]["decisions"].find({}, {"items": 1})
                ]
            )
            if decided >= total:
                break
            await asyncio.sleep(0.2)
        cpu = meter.per_event(total)
        await asyncio.sleep(1.0)
        import httpx  # noqa: PLC0415

        async with httpx.AsyncClient() as http:
            metrics = (await http.get(f"http://127.0.0.1:{ports[0]}/metrics")).text
        (work / "metrics.txt").write_text(metrics)
        ids = {
            str(d["_id"]): d["dossier_id"]
            async for d in client["bench_latency"]["invitations"].find({}, {"dossier_id": 1})
        }
        await client.close()
        await nc.close()
    finally:
        for p in procs:
            stop(p)
    lat = sorted((received[i] - published[d]) * 1000 for i, d in ids.items() if i in received)
    cuts = quantiles(lat, n=100, method="inclusive")
    return {
        "invite_share": invite,
        "dispatching": dispatch,
        "dispatcher": ("own process" if own_dispatcher else "same process") if dispatch else "idle",
        "events": total,
        "publish_rate": round(achieved, 1),
        "decided": decided,
        "invitations": len(lat),
        "p50_ms": round(cuts[49], 1),
        "p95_ms": round(cuts[94], 1),
        "p99_ms": round(cuts[98], 1),
        "max_ms": round(lat[-1], 1),
        "load_before": load_before,
        "load_after": load(),
        **cpu,
    }


async def concurrency(
    nats_url: str, mongo_url: str, work: Path, events: int, instances: int, *, kill_at: float
) -> dict:
    pair = KeyPair.generate()
    today = datetime.now(VN).date()  # the window ends tonight: every reachable dossier is drawn
    files = campaign(
        work / "race.yaml",
        id="bench-race",
        seed="bench-race-seed",
        window={"start": str(today), "end": str(today)},
        fieldwork_end=str(today + timedelta(days=1)),
        allocation={"fixed_per_unit": {"individual": 12, "organisation": 8}},
    )
    procs, ports = start(
        instances, service_env(nats_url, mongo_url, pair, "bench_race", files), work
    )
    try:
        for port in ports:
            await wait_ready(port)
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        sealed = seal(pair.public_key, {"phone": "0912345678"})
        at = datetime.combine(today, clock_time(23), VN)  # the window's last hour
        meter = CpuMeter({"sampling": "sipas_sampling", **SERVERS})
        started = time.monotonic()

        async def publish_all() -> None:
            for chunk in range(0, events, 512):
                batch = [dossier(i, at, sealed) for i in range(chunk, min(events, chunk + 512))]
                futures = [
                    await js.publish_async(
                        subjects.for_event(e), encode(e), headers=event_headers(e)
                    )
                    for e in batch
                ]
                await asyncio.gather(*futures)

        # The kill is watched for while the dossiers are still being published: deciding
        # keeps up with publishing now, and a kill after the last publish would come with
        # nearly everything decided (47,475 of 50,000), moving almost nothing.
        publishing = asyncio.create_task(publish_all())
        client: AsyncMongoClient = AsyncMongoClient(
            mongo_url, uuidRepresentation="standard", tz_aware=True
        )
        db = client["bench_race"]
        decided, killed = 0, None
        while decided < events and time.monotonic() - started < 1200:
            decided = sum([len(d["items"]) async for d in db["decisions"].find({}, {"items": 1})])
            if killed is None and kill_at and decided >= kill_at * events:
                meter.sample()  # its CPU so far still counts
                kill(procs[0])  # kill -9 mid-run: its batch in flight is redelivered to the others
                killed = {"decided": decided, "at_s": round(time.monotonic() - started, 1)}
            if publishing.done() and publishing.exception() is not None:
                break  # raised below
            await asyncio.sleep(0.5)
        await publishing
        elapsed = time.monotonic() - started
        cpu = meter.per_event(events)
        quotas = [d async for d in db["quotas"].find({"campaign": "bench-race"})]
        per_unit = Counter(
            [
                d["unit"]
                async for d in db["invitations"].find({"campaign": "bench-race"}, {"unit": 1})
            ]
        )
        decisions = [i async for d in db["decisions"].find({}) for i in d["items"]]
        await client.close()
        await nc.close()
    finally:
        for p in procs:
            stop(p)
    overshoot = sum(max(0, q["reserved"] - q["quota"]) for q in quotas) + sum(
        max(0, n - 20) for n in per_unit.values()
    )
    return {
        "instances": instances,
        "killed": killed,
        "events": events,
        "decided": decided,
        "unique_dossiers": len({d[0] for d in decisions}),
        "invitations": sum(per_unit.values()),
        "quota_total": sum(q["quota"] for q in quotas),
        "overshoot": overshoot,
        "seconds": round(elapsed, 1),
        "events_per_s": round(decided / elapsed, 1),
        **cpu,
    }


def sample_size(sealed_for: KeyPair) -> int:
    """Bytes of one encoded dossier-completed event of this benchmark."""
    return len(encode(dossier(0, datetime.now(UTC), seal(sealed_for.public_key, {"phone": "0"}))))


async def one_run(args: argparse.Namespace, work: Path) -> dict:
    """Anchors on fresh servers (or the configured ones), then the scenarios on the same."""
    nats_server = mongo = None
    nats_url = os.environ.get("SIPAS_NATS_URL", "")
    mongo_url = os.environ.get("SIPAS_MONGO_URL", "")
    if not nats_url:
        nats_server = EmbeddedNats(work / "nats")
        nats_url = nats_server.start()
    if not mongo_url:
        mongo = EmbeddedMongo(work / "mongo", sync_on_commit=not args.unsynced_store)
        mongo_url = mongo.start()
    results: dict = {
        "at": datetime.now(UTC).isoformat(),
        "store_synced": not args.unsynced_store,
        "decisions": args.decisions,
        "partitions": args.partitions,
    }
    try:
        nc = await nats.connect(nats_url)
        try:
            results["anchor"] = await measure(
                nc,
                rate=args.rate,
                seconds=min(args.seconds, 20.0),
                size=sample_size(KeyPair.generate()),
            )
        finally:
            await nc.close()
        if args.skip != "latency":
            results["latency"] = await latency(
                nats_url,
                mongo_url,
                work,
                args.rate,
                args.seconds,
                invite=args.invite,
                dispatch=not args.no_dispatch,
                own_dispatcher=args.own_dispatcher,
            )
        if args.skip != "concurrency":
            results["concurrency"] = await concurrency(
                nats_url, mongo_url, work, args.events, args.instances, kill_at=args.kill_at
            )
    finally:
        for server in (mongo, nats_server):
            if server is not None:
                server.stop()
    return results


def report(results: dict) -> None:
    """The run's figures beside the raw anchors of the same run."""
    anchor_ = results["anchor"]
    hop99 = anchor_["hop_ms_p99"]
    out = Report(f"sampling (load {anchor_['load_before']} at the start)")
    if "latency" in results:
        lat = results["latency"]
        out.add(
            f"decision p50 at {lat['publish_rate']:,.0f}/s",
            lat["p50_ms"],
            anchor_["hop_ms_p50"],
            unit="ms",
        )
        out.add(
            "decision p99",
            lat["p99_ms"],
            hop99,
            unit="ms",
            target=f"≤ 5 × {hop99:.1f} = {5 * hop99:.0f} ms",
            met=lat["p99_ms"] <= 5 * hop99,
        )
        out.add("decision max", lat["max_ms"], anchor_["hop_ms_max"], unit="ms")
        out.add("CPU per dossier: sampling", lat.get("cpu_us_per_event_sampling", 0.0), unit="µs")
        out.add("CPU per dossier: store", lat.get("cpu_us_per_event_store", 0.0), unit="µs")
        out.add(
            "CPU per dossier: nats-server",
            lat.get("cpu_us_per_event_nats-server", 0.0),
            anchor_["hop_cpu_us_per_event_nats-server"],
            unit="µs",
        )
    if "concurrency" in results:
        race = results["concurrency"]
        out.add(
            f"{race['instances']} instances: decided/s",
            race["events_per_s"],
            anchor_["atomic_batch_500_per_s"],
            unit="/s",
        )
        if race.get("killed"):
            out.add("killed (kill -9) after decided", race["killed"]["decided"], unit="")
        out.add("quota overshoot", race["overshoot"], target="0", met=race["overshoot"] == 0)
        twice = race["decided"] - race["unique_dossiers"]
        out.add("dossiers decided twice", twice, target="0", met=twice == 0)
    out.show()


def flat(results: dict) -> dict:
    """``section.key`` numbers of one run."""
    return {
        f"{section}.{k}": v
        for section, values in results.items()
        if isinstance(values, dict)
        for k, v in values.items()
    }


KEYS = (
    "latency.p50_ms",
    "latency.p99_ms",
    "latency.max_ms",
    "anchor.hop_ms_p50",
    "anchor.hop_ms_p99",
    "latency.cpu_us_per_event_sampling",
    "latency.cpu_us_per_event_store",
    "latency.cpu_us_per_event_nats-server",
    "concurrency.events_per_s",
    "concurrency.overshoot",
    "anchor.atomic_batch_500_per_s",
    "anchor.load_before",
)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--invite", type=float, default=0.1, help="share of dossiers invited")
    parser.add_argument("--no-dispatch", action="store_true", help="decisions only: no sending")
    parser.add_argument(
        "--own-dispatcher",
        action="store_true",
        help="send from a second process (SIPAS_SAMPLING_ROLE=dispatch) while one decides",
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument(
        "--kill-at",
        type=float,
        default=0.3,
        help="kill -9 one instance once this share of the dossiers is decided (0: none)",
    )
    parser.add_argument("--skip", choices=["latency", "concurrency"], default=None)
    parser.add_argument("--runs", type=int, default=1, help="repeat, each with its own anchors")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, stores)")
    parser.add_argument(
        "--unsynced-store",
        action="store_true",
        help="embedded SecantusDB without --sync-on-commit (to measure what durability costs)",
    )
    parser.add_argument(
        "--decisions",
        choices=["store", "memory"],
        default="memory",
        help="SIPAS_SAMPLING_DECISIONS of the sampling processes (memory, their default since #22)",
    )
    parser.add_argument(
        "--partitions", type=int, default=0, help="SIPAS_PARTITIONS of the sampling processes"
    )
    args = parser.parse_args()
    DECIDING.update(SIPAS_SAMPLING_DECISIONS=args.decisions, SIPAS_PARTITIONS=str(args.partitions))
    runs = []
    for number in range(args.runs):
        work = Path(tempfile.mkdtemp(prefix="sipas-bench-"))
        try:
            results = await one_run(args, work)
        finally:
            if args.keep:
                print(f"work folder kept: {work}")
            else:  # stores and logs of a run: about 100 MB
                shutil.rmtree(work, ignore_errors=True)
        console.print(f"run {number + 1} of {args.runs}: {results}")
        report(results)
        runs.append(results)
    flats = [flat(r) for r in runs]
    if len(runs) > 1:
        show_spread("sampling", flats, KEYS)
    machine = f"{platform.node()} {os.cpu_count()} cores, {platform.python_version()}"
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"sampling_decisions-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(
        json.dumps({"machine": machine, "runs": runs, "summary": summarize(flats)}, indent=2)
    )
    console.print(f"wrote {path}")


if __name__ == "__main__":
    asyncio.run(main())
