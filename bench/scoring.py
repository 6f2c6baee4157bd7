"""Scoring benchmarks: response -> index-updated latency, rebuild throughput, memory.

    uv run python bench/scoring.py latency --rate 500 --duration 60
    uv run python bench/scoring.py rebuild --responses 1000000
    uv run python bench/scoring.py all --responses 50000 --duration 20     # small and quick

Infrastructure: SIPAS_NATS_URL / SIPAS_MONGO_URL when set, else an embedded nats-server
(JetStream, sync_interval: always) and SecantusDB under a temporary folder. Prints a
table and writes JSON to bench/results/.

- latency: the scoring service runs as its own process; responses are published at a
  fixed rate (publish_async, acks collected); a core subscriber receives the campaign
  index-updated events. A response's latency is the time from its publish to the first
  index-updated of its unit whose ``version`` (stream sequence of the latest response
  counted) reaches the response's sequence. The service's RSS is sampled from /metrics.
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
from pymongo import AsyncMongoClient
from rich.console import Console
from rich.table import Table

from sipas_contracts import subjects
from sipas_contracts.streams import SCORING_RESPONSES
from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.infra import provide
from sipas_runtime.positions import WATERMARKS
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.stack import Stack
from sipas_runtime.streams import ensure_streams
from sipas_scoring.domain.tally import fold, merge
from sipas_scoring.store import AGGREGATES, AggregateStore
from sipas_scoring.testing import synthetic_responses

RESULTS = Path(__file__).resolve().parent / "results"
UNITS = sorted(
    u.code for u in load_sample_hierarchy().units.values() if u.kind in ("commune", "town")
)
console = Console()


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children() -> dict[str, list[int]]:
    """PIDs of this process's children by role (scoring, secantus, nats-server)."""
    found: dict[str, list[int]] = {}
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if parent != me:
            continue
        for role in ("sipas_scoring", "secantus", "nats-server"):
            if role in command:
                found.setdefault(role, []).append(int(entry.name))
    return found


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
async def latency(
    rate: float,
    duration: float,
    workdir: Path,
    env: dict[str, str],
    *,
    split: bool,
    store_sync: bool = True,
) -> dict[str, Any]:
    """``split``: one scoring process consumes, a second publishes index updates."""
    role = {"SIPAS_SCORING_ROLE": "consume"} if split else {}
    stack = Stack(
        workdir / "stack", services=("scoring",), ports={}, extra_env={**env, **role},
        store_sync=store_sync,
    )  # fmt: skip
    stack.start()
    publisher = None
    try:
        if split:
            publisher = Stack(
                workdir / "publisher", services=("scoring",), ports={},
                nats_url=stack.nats_url, mongo_url=stack.mongo_url,
                extra_env={**env, "SIPAS_SCORING_ROLE": "publish"},
            )  # fmt: skip
            publisher.start()
        return await _latency(stack, rate, duration)
    finally:
        if publisher is not None:
            publisher.stop()
        stack.stop()


async def _latency(stack: Stack, rate: float, duration: float) -> dict[str, Any]:
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
    pids = children()
    cpu_before = {role: sum(map(cpu_seconds, group)) for role, group in pids.items()}
    count = int(rate * duration)
    now = datetime.now(UTC)
    responses = synthetic_responses(
        count, units=UNITS, campaign_id=f"lat-{uuid.uuid4().hex[:6]}", start=now,
        spread=timedelta(seconds=duration),
    )  # fmt: skip
    # Encoded before the clock starts: the load generator shares the cores with the system
    # it measures, so it does no more than publish while measuring.
    messages = [
        (event.unit, subjects.for_event(event), encode(event), event_headers(event),
         event.collection_mode == "kiosk")  # kiosk answers are kept apart: never reflected
        for event in responses
    ]  # fmt: skip
    sent: list[tuple[str, float, Any]] = []
    kiosk: set[int] = set()
    rss: list[float] = []
    started = time.monotonic()
    next_rss = started
    for i, (unit, subject, payload, headers, from_kiosk) in enumerate(messages):
        target = started + i / rate
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        at = time.monotonic()
        future = await js.publish_async(subject, payload, headers=headers)
        sent.append((unit, at, future))
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
    last_seq = max(seq for _, _, seq in acks)
    while time.monotonic() < deadline:
        if all(
            events_by_unit[u]
            and max(v for _, v in events_by_unit[u]) >= max(s for uu, _, s in acks if uu == u)
            for u in UNITS
        ):
            break
        await asyncio.sleep(0.2)
    rss.append(await asyncio.to_thread(rss_of, stack.url("scoring")) or 0.0)
    diagnosis = await asyncio.to_thread(metric_means, stack.url("scoring"))
    cpu = {
        f"cpu_ms_per_response_{role.replace('-', '_')}": round(
            1000 * (sum(map(cpu_seconds, group)) - cpu_before[role]) / count, 3
        )
        for role, group in pids.items()
    }
    await nc.close()
    latencies, missing = [], 0
    for unit, at, seq in acks:
        seen = events_by_unit.get(unit, [])
        running, times = [], []
        high = 0
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
            latencies.append(times[i] - at)
    ms = [1000 * v for v in latencies]
    return {
        "rate_target": rate,
        "rate_achieved": round(count / publish_seconds, 1),
        "responses": count,
        "responses_in_index": len(acks),
        "last_seq": last_seq,
        "not_reflected": missing,
        "index_events_campaign_leaf": index_events,
        "index_events_per_second": round(index_events / publish_seconds, 1),
        "latency_ms_p50": round(percentile(ms, 50), 1),
        "latency_ms_p95": round(percentile(ms, 95), 1),
        "latency_ms_p99": round(percentile(ms, 99), 1),
        "latency_ms_max": round(max(ms), 1) if ms else None,
        "latency_ms_mean": round(statistics.fmean(ms), 1) if ms else None,
        "scoring_rss_mb_max": round(max(rss), 1) if rss else None,
        **diagnosis,
        **cpu,
    }


# -- rebuild ---------------------------------------------------------------------------
async def publish_batches(js_nc: Any, payloads: list[tuple[str, bytes, dict[str, str]]]) -> None:
    """Atomic batch publish (one fsync per batch on nats-server >= 2.15)."""
    batch_id = uuid.uuid4().hex
    for j, (subject, data, event_headers_) in enumerate(payloads, start=1):
        headers = {**event_headers_, "Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(j)}
        if j == len(payloads):
            headers["Nats-Batch-Commit"] = "1"
            answer = await js_nc.request(subject, data, headers=headers, timeout=30)
            if b'"error"' in answer.data:
                raise RuntimeError(answer.data.decode())
        else:
            await js_nc.publish(subject, data, headers=headers)


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
    await nc.close()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    db = client[database]
    await db.drop_collection(AGGREGATES)
    await AggregateStore(db).replace_all(live)
    await db[WATERMARKS].replace_one(
        {"_id": SCORING_RESPONSES.durable},
        {"seq": seq - 1, "ranges": [], "max": seq - 1},
        upsert=True,
    )
    await client.close()
    return {"generated": count, "generation_seconds": round(generation, 1),
            "generation_per_second": round(count / generation), "slices": len(live),
            "first_seq": first, "last_seq": seq - 1}  # fmt: skip


async def _flush(nc: Any, chunk: list[Any], seq: int, live: dict[Any, Any]) -> int:
    payloads = [(subjects.for_event(e), encode(e), event_headers(e)) for e in chunk]
    await publish_batches(nc, payloads)
    merge(live, fold(zip(range(seq, seq + len(chunk)), chunk, strict=True)))
    chunk.clear()
    return seq + len(payloads)


def run_rebuild(nats_url: str, mongo_url: str, database: str) -> dict[str, Any]:
    sipas = shutil.which("sipas", path=sysconfig.get_path("scripts")) or "sipas"
    env = {**os.environ, "SIPAS_NATS_URL": nats_url, "SIPAS_MONGO_URL": mongo_url,
           "SIPAS_SCORING_DATABASE": database}  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(
        [sipas, "scoring", "rebuild", "--json", "--no-write"], env=env,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=["latency", "rebuild", "all"])
    parser.add_argument("--rate", type=float, default=500.0, help="responses per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of publishing")
    parser.add_argument("--responses", type=int, default=1_000_000, help="responses to rebuild")
    parser.add_argument(
        "--split", action="store_true",
        help="two scoring processes: one consumes (role consume), one publishes (role publish)",
    )  # fmt: skip
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE",
        help="extra environment for the scoring service, e.g. SIPAS_SCORING_INDEX_INTERVAL=0.05",
    )  # fmt: skip
    parser.add_argument(
        "--unsynced-store", action="store_true",
        help="embedded SecantusDB without --sync-on-commit (to measure what durability costs)",
    )  # fmt: skip
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "platform": platform.platform(), "load_avg_at_start": os.getloadavg()},
        "store_synced": not args.unsynced_store,
        "started_at": datetime.now(UTC).isoformat(),
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="sipas-bench-") as folder:
        workdir = Path(folder)
        if args.scenario in ("latency", "all"):
            env = dict(item.split("=", 1) for item in args.env)
            results["latency"] = asyncio.run(
                latency(
                    args.rate,
                    args.duration,
                    workdir,
                    env,
                    split=args.split,
                    store_sync=not args.unsynced_store,
                )
            )
            results["latency"]["split"] = args.split
            results["latency"]["service_env"] = env
            show("response -> index-updated", results["latency"])
        if args.scenario in ("rebuild", "all"):
            results["rebuild"] = asyncio.run(
                rebuild(args.responses, workdir, store_sync=not args.unsynced_store)
            )
            show("sipas scoring rebuild", results["rebuild"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"scoring-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
