"""Scoring benchmarks: response -> index-updated latency, rebuild throughput, memory.

    uv run python bench/scoring.py latency --rate 500 --duration 60 [--runs 5] [--invited 0.5]
    uv run python bench/scoring.py rebuild --responses 1000000
    uv run python bench/scoring.py all --responses 50000 --duration 20     # small and quick

Infrastructure: SIPAS_NATS_URL / SIPAS_MONGO_URL when set, else an embedded nats-server
(JetStream, sync_interval: always) and SecantusDB under a temporary folder. Prints a
table and writes JSON to bench/results/.

Each run first measures the raw anchors on its own fresh servers (``anchor.py``: the raw
publish → pull-consume hop at the same rate and message size, the raw atomic-batch rate)
and prints every figure beside them; ``--runs N`` repeats the whole run and prints
min / median / max.

- latency: the scoring service runs as its own process; responses are published at a
  fixed rate (publish_async, acks collected); a core subscriber receives the campaign
  index-updated events. A response's latency is the time from its publish to the first
  index-updated of its unit whose ``version`` (stream sequence of the latest response
  counted) reaches the response's sequence. The service's RSS is sampled from /metrics;
  CPU per response of scoring, the store and nats-server is read from /proc.
- rebuild: N responses are generated and published with atomic batches; the "live"
  counts are folded in the benchmark from the event objects and stored with the consumer
  state of a fully caught-up live service; then ``sipas scoring rebuild --json`` runs as
  a subprocess and must find the replay equal. Its wall time and peak RSS are recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
from anchor import SERVERS, CpuMeter, Report, atomic_rate, load, measure, show_spread, summarize
from pymongo import AsyncMongoClient
from rich.console import Console
from rich.table import Table

from sipas_contracts import subjects
from sipas_contracts.streams import SCORING_RESPONSES
from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.infra import provide
from sipas_runtime.positions import WATERMARKS
from sipas_runtime.publishing import encode, event_headers, outgoing, publish_batched
from sipas_runtime.stack import Stack
from sipas_runtime.streams import ensure_streams
from sipas_scoring.domain.counting import fold, merge
from sipas_scoring.settings import Settings
from sipas_scoring.store.aggregates import AGGREGATES, AggregateStore
from sipas_scoring.testing import synthetic_responses

RESULTS = Path(__file__).resolve().parent / "results"
UNITS = sorted(
    u.code for u in load_sample_hierarchy().units.values() if u.kind in ("commune", "town")
)
console = Console()
DEFAULT_INDEX_INTERVAL = Settings.model_fields["index_interval"].default


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def metric_means(url: str) -> dict[str, float]:
    """Mean of some histograms of the scoring service (sum / count), for diagnosis."""
    wanted = {
        'sipas_handler_duration_seconds{consumer="scoring-responses"': "batch_ms_mean",
        'sipas_consumer_batch_messages{consumer="scoring-responses"': "batch_size_mean",
        'sipas_event_age_seconds{consumer="scoring-responses"': "commit_age_ms_mean",
        "sipas_scoring_index_tick_seconds": "index_round_ms_mean",
    }
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as answer:  # noqa: S310
        for line in answer.read().decode().splitlines():
            name = line.split(" ")[0].replace('service="scoring",', "")
            for prefix, key in wanted.items():
                base = prefix.split("{")[0]
                labels = prefix[len(base) :]
                if name.startswith(base + "_sum" + labels) or (
                    name == base + "_sum" and not labels
                ):
                    sums[key] = float(line.split()[-1])
                if name.startswith(base + "_count" + labels) or (
                    name == base + "_count" and not labels
                ):
                    counts[key] = float(line.split()[-1])
    scale = {"batch_size_mean": 1.0}
    return {
        key: round(sums[key] / counts[key] * scale.get(key, 1000.0), 1)
        for key in sums
        if counts.get(key)
    }


def rss_of(url: str) -> float | None:
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=2) as answer:  # noqa: S310
            for line in answer.read().decode().splitlines():
                if line.startswith("process_resident_memory_bytes"):
                    return float(line.split()[-1]) / 1e6
    except OSError:
        return None
    return None


# -- latency ---------------------------------------------------------------------------
ROLES = {"scoring": "sipas_scoring", **SERVERS}


def prepared(
    rate: float, duration: float, invited: float = 0.0
) -> list[tuple[str, str, bytes, dict[str, str], bool]]:
    """The load, encoded before the clock starts (the generator shares the cores).

    ``invited``: the share of responses that answer an invitation (scoring marks it in the
    funnel); kiosk answers never do.
    """
    responses = synthetic_responses(
        int(rate * duration),
        units=UNITS,
        campaign_id=f"lat-{uuid.uuid4().hex[:6]}",
        start=datetime.now(UTC),
        spread=timedelta(seconds=duration),
    )
    every = round(1 / invited) if invited else 0
    responses = (
        event.model_copy(update={"invitation_id": uuid.uuid4()})
        if every and i % every == 0 and event.collection_mode != "kiosk"
        else event
        for i, event in enumerate(responses)
    )
    return [
        (
            event.unit,
            subjects.for_event(event),
            encode(event),
            event_headers(event),
            event.collection_mode == "kiosk",
        )  # kiosk answers are kept apart: never reflected
        for event in responses
    ]


async def latency(
    rate: float,
    duration: float,
    workdir: Path,
    env: dict[str, str],
    *,
    store_sync: bool = True,
    invited: float = 0.0,
) -> dict[str, Any]:
    """One run: the raw anchors on fresh servers, then the scoring service on the same ones."""
    stack = Stack(
        workdir / "stack", services=("scoring",), ports={}, extra_env=env, store_sync=store_sync
    )
    stack.start_infrastructure()
    try:
        messages = prepared(rate, duration, invited)
        size = round(statistics.fmean(len(m[2]) for m in messages))
        nc = await nats.connect(stack.nats_url)
        try:
            raw = await measure(nc, rate=rate, seconds=min(duration, 20.0), size=size)
        finally:
            await nc.close()
        stack.start()
        return {
            **{f"anchor_{k}": v for k, v in raw.items()},
            **await _latency(stack, messages, rate),
        }
    finally:
        stack.stop()


async def _latency(
    stack: Stack, messages: list[tuple[str, str, bytes, dict[str, str], bool]], rate: float
) -> dict[str, Any]:
    nc = await nats.connect(stack.nats_url)
    js = nc.jetstream()
    events_by_unit: dict[str, list[tuple[float, int]]] = defaultdict(list)
    index_events = 0

    async def on_index(msg: Any) -> None:
        nonlocal index_events
        event = json.loads(msg.data)
        if event["period"] == "campaign" and not event["rollup"]:
            index_events += 1
            events_by_unit[event["unit"]].append((time.monotonic(), event["version"]))

    await nc.subscribe("sipas.index.updated.*.*", cb=on_index)
    meter = CpuMeter(ROLES)
    load_before = load()
    sent: list[tuple[str, float, Any]] = []
    kiosk: set[int] = set()
    rss: list[float] = []
    started = time.monotonic()
    next_rss = started
    for i, (unit, subject, payload, headers, from_kiosk) in enumerate(messages):
        delay = started + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        at = time.monotonic()
        sent.append((unit, at, await js.publish_async(subject, payload, headers=headers)))
        if from_kiosk:
            kiosk.add(i)
        if at >= next_rss:
            next_rss = at + 1.0
            value = await asyncio.to_thread(rss_of, stack.url("scoring"))
            if value:
                rss.append(value)
    publish_seconds = time.monotonic() - started
    acks = [
        (unit, at, (await future).seq)
        for i, (unit, at, future) in enumerate(sent)
        if i not in kiosk
    ]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(
            events_by_unit[u]
            and max(v for _, v in events_by_unit[u]) >= max(s for uu, _, s in acks if uu == u)
            for u in UNITS
        ):
            break
        await asyncio.sleep(0.2)
    cpu = meter.per_event(len(messages))
    rss.append(await asyncio.to_thread(rss_of, stack.url("scoring")) or 0.0)
    diagnosis = await asyncio.to_thread(metric_means, stack.url("scoring"))
    await nc.close()
    ms, missing = reflected(events_by_unit, acks)
    return {
        "rate_target": rate,
        "rate_achieved": round(len(messages) / publish_seconds, 1),
        "responses": len(messages),
        "responses_in_index": len(acks),
        "not_reflected": missing,
        "index_events_campaign_leaf": index_events,
        "latency_ms_p50": round(percentile(ms, 50), 1),
        "latency_ms_p95": round(percentile(ms, 95), 1),
        "latency_ms_p99": round(percentile(ms, 99), 1),
        "latency_ms_max": round(max(ms), 1) if ms else None,
        "scoring_rss_mb_max": round(max(rss), 1) if rss else None,
        "load_before": load_before,
        "load_after": load(),
        **diagnosis,
        **cpu,
        "cpu_ms_per_response_scoring_store_nats": round(
            sum(cpu.get(f"cpu_us_per_event_{role}", 0.0) for role in ("scoring", *SERVERS)) / 1000,
            3,
        ),
    }


def reflected(
    events_by_unit: dict[str, list[tuple[float, int]]], acks: list[tuple[str, float, int]]
) -> tuple[list[float], int]:
    """Per response: ms until an index-updated of its unit counted it; and how many never were."""
    latencies, missing = [], 0
    for unit, at, seq in acks:
        seen = events_by_unit.get(unit, [])
        running, times, high = [], [], 0
        for t, version in seen:
            high = max(high, version)
            running.append(high)
            times.append(t)
        i = bisect.bisect_left(running, seq)
        while i < len(times) and times[i] < at:
            i += 1
        if i >= len(times):
            missing += 1
        else:
            latencies.append(1000 * (times[i] - at))
    return latencies, missing


def report_latency(run: dict[str, Any], index_interval: float) -> None:
    """The run's figures beside the raw anchors of the same run."""
    hop99 = run["anchor_hop_ms_p99"]
    target = 1000 * index_interval + 5 * hop99
    report = Report(
        f"response → index-updated at {run['rate_target']:,.0f}/s "
        f"(load {run['load_before']} → {run['load_after']})"
    )
    report.add("p50", run["latency_ms_p50"], run["anchor_hop_ms_p50"], unit="ms")
    report.add(
        "p99",
        run["latency_ms_p99"],
        hop99,
        unit="ms",
        target=f"≤ {1000 * index_interval:.0f} + 5 × {hop99:.1f} = {target:.0f} ms",
        met=run["latency_ms_p99"] <= target,
    )
    report.add("max", run["latency_ms_max"] or 0.0, run["anchor_hop_ms_max"], unit="ms")
    cpu = run["cpu_ms_per_response_scoring_store_nats"]
    report.add(
        "CPU per response: scoring + store + nats-server",
        cpu,
        run["anchor_hop_cpu_us_per_event_nats-server"] / 1000,
        unit="ms",
        target="≤ 0.4 ms",
        met=cpu <= 0.4,
    )
    for role in ("scoring", "store", "nats-server", "bench"):
        value = run.get(f"cpu_us_per_event_{role}")
        if value is not None:
            report.add(f"  CPU per response: {role}", value / 1000, unit="ms")
    report.add("rate achieved", run["rate_achieved"], run["anchor_rate_achieved"], unit="/s")
    report.show()


# -- rebuild ---------------------------------------------------------------------------
async def generate(nats_url: str, mongo_url: str, database: str, count: int) -> dict[str, Any]:
    nc = await nats.connect(nats_url)
    await ensure_streams(nc.jetstream(), replicas=1)
    info = await nc.jetstream().stream_info("SIPAS_RESPONSES")
    first = info.state.last_seq + 1
    live: dict[Any, Any] = {}
    started = time.monotonic()
    chunk: list[Any] = []
    seq = first
    for event in synthetic_responses(count, units=UNITS, campaign_id="bench-rebuild"):
        chunk.append(event)
        if len(chunk) == 1000:
            seq = await _flush(nc, chunk, seq, live)
    if chunk:
        seq = await _flush(nc, chunk, seq, live)
    generation = time.monotonic() - started
    size = len(outgoing(next(synthetic_responses(1, units=UNITS))).data)
    anchor = await atomic_rate(nc, count=20_000, size=size)
    await nc.close()
    await store_live_counts(mongo_url, database, live, seq - 1)
    return {
        "generated": count,
        "generation_seconds": round(generation, 1),
        "generation_per_second": round(count / generation),
        "slices": len(live),
        "first_seq": first,
        "last_seq": seq - 1,
        **{f"anchor_{k}": v for k, v in anchor.items()},
    }


async def store_live_counts(mongo_url: str, database: str, live: dict[Any, Any], last: int) -> None:
    """The counts of a live service that has applied every response up to ``last``."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    db = client[database]
    await db.drop_collection(AGGREGATES)
    await AggregateStore(db).replace_all(live)
    await db[WATERMARKS].replace_one(
        {"_id": SCORING_RESPONSES.durable}, {"seq": last, "ranges": [], "max": last}, upsert=True
    )
    await client.close()


async def _flush(nc: Any, chunk: list[Any], seq: int, live: dict[Any, Any]) -> int:
    size = len(chunk)
    await publish_batched(nc.jetstream(), nc, [outgoing(e) for e in chunk], batch=1000)
    merge(live, fold(zip(range(seq, seq + size), chunk, strict=True)))
    chunk.clear()
    return seq + size


def run_rebuild(nats_url: str, mongo_url: str, database: str) -> dict[str, Any]:
    sipas = shutil.which("sipas", path=sysconfig.get_path("scripts")) or "sipas"
    env = {
        **os.environ,
        "SIPAS_NATS_URL": nats_url,
        "SIPAS_MONGO_URL": mongo_url,
        "SIPAS_SCORING_DATABASE": database,
    }
    started = time.monotonic()
    done = subprocess.run(
        [sipas, "scoring", "rebuild", "--json", "--no-write"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stderr[-3000:])
    summary = json.loads(done.stdout)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "equal": summary["equal"],
        "responses_counted": summary["responses_counted"],
        "replay_seconds": summary["seconds"],
        "replay_messages_per_second": summary["messages_per_second"],
        "command_wall_seconds": round(wall, 1),
        "rebuild_process_peak_rss_mb": round(peak_kb / 1024, 1),
        "differences": summary["difference_count"],
    }


async def rebuild(count: int, workdir: Path, *, store_sync: bool = True) -> dict[str, Any]:
    with provide(workdir / "infra", allow_containers=False, store_sync=store_sync) as infra:
        database = f"bench_{uuid.uuid4().hex[:8]}"
        generated = await generate(infra.nats_url, infra.mongo_url, database, count)
        result = await asyncio.to_thread(run_rebuild, infra.nats_url, infra.mongo_url, database)
        return {**generated, **result, "infrastructure": infra.source}


# -- main ------------------------------------------------------------------------------
def show(title: str, result: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False)
    for key, value in result.items():
        table.add_row(key, str(value))
    console.print(table)


LATENCY_KEYS = (
    "latency_ms_p50",
    "latency_ms_p99",
    "latency_ms_max",
    "anchor_hop_ms_p50",
    "anchor_hop_ms_p99",
    "anchor_hop_ms_max",
    "p99_over_target",
    "cpu_ms_per_response_scoring_store_nats",
    "cpu_us_per_event_scoring",
    "cpu_us_per_event_store",
    "cpu_us_per_event_nats-server",
    "anchor_hop_cpu_us_per_event_nats-server",
    "anchor_atomic_batch_500_per_s",
    "rate_achieved",
    "not_reflected",
    "scoring_rss_mb_max",
    "load_before",
    "load_after",
)


def latency_runs(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    env = dict(item.split("=", 1) for item in args.env)
    interval = float(env.get("SIPAS_SCORING_INDEX_INTERVAL", DEFAULT_INDEX_INTERVAL))
    runs = []
    for number in range(args.runs):
        run = asyncio.run(
            latency(
                args.rate,
                args.duration,
                workdir / f"run{number}",
                env,
                store_sync=not args.unsynced_store,
                invited=args.invited,
            )
        )
        run["invited"] = args.invited
        target = 1000 * interval + 5 * run["anchor_hop_ms_p99"]
        run["p99_over_target"] = round(run["latency_ms_p99"] / target, 3)
        run["service_env"] = env
        show(f"run {number + 1}: response -> index-updated", run)
        report_latency(run, interval)
        runs.append(run)
    if len(runs) > 1:
        show_spread("response -> index-updated", runs, LATENCY_KEYS)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=["latency", "rebuild", "all"])
    parser.add_argument("--rate", type=float, default=500.0, help="responses per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of publishing")
    parser.add_argument("--runs", type=int, default=1, help="repeat, each with its own anchors")
    parser.add_argument("--responses", type=int, default=1_000_000, help="responses to rebuild")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the scoring service, e.g. SIPAS_SCORING_INDEX_INTERVAL=0.05",
    )
    parser.add_argument(
        "--invited",
        type=float,
        default=0.0,
        help="latency: share of responses answering an invitation (marked in the funnel)",
    )
    parser.add_argument(
        "--unsynced-store",
        action="store_true",
        help="embedded SecantusDB without --sync-on-commit (to measure what durability costs)",
    )
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "load_avg_at_start": os.getloadavg(),
        },
        "store_synced": not args.unsynced_store,
        "started_at": datetime.now(UTC).isoformat(),
    }
    with tempfile.TemporaryDirectory(prefix="sipas-bench-") as folder:
        workdir = Path(folder)
        if args.scenario in ("latency", "all"):
            results["latency_runs"] = latency_runs(args, workdir)
            results["latency_summary"] = summarize(results["latency_runs"])
        if args.scenario in ("rebuild", "all"):
            results["rebuild"] = asyncio.run(
                rebuild(args.responses, workdir, store_sync=not args.unsynced_store)
            )
            show("sipas scoring rebuild", results["rebuild"])
            rebuilt = results["rebuild"]
            report = Report("rebuild beside the raw atomic-batch publish rate of the same server")
            report.add(
                "replay messages/s",
                rebuilt["replay_messages_per_second"],
                rebuilt["anchor_atomic_batch_500_per_s"],
                unit="/s",
            )
            report.show()
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"scoring-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
