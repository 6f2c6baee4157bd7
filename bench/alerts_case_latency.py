"""Benchmark: a rating of 1 becomes a case on the right unit, at 500 responses/s.

Starts an embedded nats-server and Mongo-wire server (or uses SIPAS_NATS_URL /
SIPAS_MONGO_URL) and the alerts service as its own process, publishes response-recorded
events at a steady rate over 17 communes (a share of them rated 1, the rest 4-5), and
measures for every rating of 1 the time from publishing the response to receiving the
alert-raised event that names its case (published only after the case is committed).
Each run first measures the raw anchors on the same servers (``anchor.py``) and prints
every figure beside them; ``--runs N`` repeats on fresh servers (min / median / max).
At the end it checks through the case API that every alert's case is on the unit of its
response, and that the number of alerts equals the number of ratings of 1.

``--index-rate N`` also publishes index-updated events at N/s over ``--index-units``
units (``alerts_feed.py``), as scoring does; ``--rate 0`` publishes only those, and the
CPU per event (alerts, store, nats-server, from /proc, once alerts' consumers have drained)
is then per index event, beside the raw hop's nats-server CPU per message at the same rate.

    uv run python bench/alerts_case_latency.py --rate 500 --seconds 30 --low-share 0.2
    uv run python bench/alerts_case_latency.py --rate 0 --index-rate 200 --seconds 30

Prints a table and writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
from alerts_feed import Message, drained, index_event, publish_paced
from anchor import (
    SERVERS,
    CpuMeter,
    Report,
    StoreOps,
    console,
    load,
    measure,
    show_spread,
    summarize,
)

from sipas_contracts import subjects
from sipas_contracts.testing import response
from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.processes import free_port
from sipas_runtime.publishing import encode
from sipas_runtime.stack import Stack

UNITS = load_sample_hierarchy().leaves("ht", date(2026, 1, 1))  # the 17 communes of seed 002
ITEMS = ["HL.DV.E1.1", "HL.DV.E1.2", "HL.DV.E2.1", "HL.DV.E3.1", "HL.DV.E4.1"]
RESULTS = Path(__file__).parent / "results"


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    nc = await nats.connect(stack.nats_url)
    js = nc.jetstream()
    rng = random.Random(7)
    sent_at: dict[str, float] = {}
    unit_of: dict[str, str] = {}
    latencies: list[float] = []
    alert_cases: dict[str, str] = {}
    expected: list[int] = []
    all_in = asyncio.Event()

    async def on_alert(msg: Any) -> None:
        now = time.monotonic()
        event = json.loads(msg.data)
        source = event["source_event_id"]
        if event["rule"] == "low_rating" and source in sent_at:
            latencies.append(now - sent_at[source])
            alert_cases[source] = event["case_id"]
            if event["unit"] != unit_of[source]:
                raise AssertionError(f"alert on {event['unit']}, response was {unit_of[source]}")
            if expected and len(latencies) >= expected[0]:
                all_in.set()

    await nc.subscribe("sipas.alert.raised.>", cb=on_alert)
    total = int(args.rate * args.seconds)
    indexes = int(args.index_rate * args.seconds)
    meter = CpuMeter({"alerts": "sipas_alerts", **SERVERS})
    store = StoreOps(stack.mongo_url)
    await store.start()
    load_before = load()
    low = 0

    def next_response(i: int) -> Message:
        nonlocal low
        is_low = rng.random() < args.low_share
        unit = UNITS[i % len(UNITS)]
        answers = {
            item: (1 if is_low and j == 0 else rng.choice([4, 5])) for j, item in enumerate(ITEMS)
        }
        event = response(unit=unit, answers=answers, occurred_at=datetime.now(UTC))
        if is_low:
            low += 1
            sent_at[str(event.event_id)] = time.monotonic()
            unit_of[str(event.event_id)] = unit
        return subjects.response_recorded(unit), event

    index_rng = random.Random(11)
    feeds = [
        *([publish_paced(js, args.rate, total, next_response)] if total else []),
        *(
            [
                publish_paced(
                    js,
                    args.index_rate,
                    indexes,
                    lambda i: index_event(i, args.index_units, index_rng),
                )
            ]
            if indexes
            else []
        ),
    ]
    publish_seconds = max(await asyncio.gather(*feeds))
    expected.append(low)
    if len(latencies) >= low:
        all_in.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_in.wait(), timeout=60)
    await drained(js)
    cpu = meter.per_event(total + indexes)
    ops = await store.per_event(total + indexes)
    await nc.close()
    right_unit = await check_cases(stack, alert_cases, unit_of)
    batches = await batch_profile(stack, "alerts-responses")
    index_batches = await batch_profile(stack, "alerts-indexes")
    return {
        **batches,
        **{f"index_{key}": value for key, value in index_batches.items()},
        "responses": total,
        "index_events": indexes,
        "ratings_of_1": low,
        "alerts_received": len(latencies),
        "publish_rate": total / publish_seconds,
        "index_publish_rate": indexes / publish_seconds,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
        "p95_ms": 1000 * quantile(latencies, 0.95) if latencies else None,
        "p99_ms": 1000 * quantile(latencies, 0.99) if latencies else None,
        "max_ms": 1000 * max(latencies) if latencies else None,
        "cases_on_right_unit": right_unit,
        "cases": len(set(alert_cases.values())),
        "load_before": load_before,
        "load_after": load(),
        **cpu,
        **ops,
    }


async def check_cases(stack: Stack, alert_cases: dict[str, str], unit_of: dict[str, str]) -> bool:
    headers = {"Authorization": f"Bearer {stack.dev_keys['supervisor']}"}
    async with httpx.AsyncClient(base_url=stack.url("alerts"), headers=headers, timeout=30) as http:
        units: dict[str, str] = {}
        before = None
        while True:
            params: dict[str, Any] = {"limit": 200, **({"before": before} if before else {})}
            page = (await http.get("/v1/cases", params=params)).json()
            units.update({c["case_id"]: c["unit"] for c in page["items"]})
            before = page["next"]
            if before is None:
                break
    return all(units.get(case) == unit_of[source] for source, case in alert_cases.items())


async def batch_profile(stack: Stack, consumer: str) -> dict[str, float]:
    """Mean batch size and handler time of one of alerts' consumers, from /metrics."""
    async with httpx.AsyncClient(base_url=stack.url("alerts"), timeout=30) as http:
        text = (await http.get("/metrics")).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        if f'consumer="{consumer}"' not in line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0]
        if name.endswith(("_sum", "_count")):
            values[name] = float(line.rsplit(" ", 1)[1])
    batches = values.get("sipas_handler_duration_seconds_count", 0.0)
    if not batches:
        return {}
    return {
        "batches": batches,
        "mean_batch_messages": values["sipas_consumer_batch_messages_sum"] / batches,
        "mean_batch_ms": 1000 * values["sipas_handler_duration_seconds_sum"] / batches,
    }


def one_run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The raw anchors on fresh servers, then the alerts service on the same ones."""
    stack = Stack(
        workdir,
        services=("alerts",),
        ports={"alerts": free_port()},
        store_sync=not args.unsynced_store,
        extra_env={
            "SIPAS_ALERTS_DATABASE": "bench_alerts",
            "SIPAS_LOG_LEVEL": "WARNING",
        },
    )
    stack.start_infrastructure()
    try:
        sample = (
            response(unit=UNITS[0], answers=dict.fromkeys(ITEMS, 4))
            if args.rate
            else index_event(0, 1, random.Random(0))[1]
        )
        rate = args.rate + args.index_rate
        raw = asyncio.run(
            anchors(stack.nats_url, rate, min(args.seconds, 20.0), len(encode(sample)))
        )
        stack.start()
        result = asyncio.run(run(args, stack))
    finally:
        stack.stop()
    return {**{f"anchor_{k}": v for k, v in raw.items()}, **result}


async def anchors(url: str, rate: float, seconds: float, size: int) -> dict[str, Any]:
    nc = await nats.connect(url)
    try:
        return await measure(nc, rate=rate, seconds=seconds, size=size)
    finally:
        await nc.close()


def report(result: dict[str, Any]) -> None:
    """The run's figures beside the raw anchors of the same run."""
    out = Report(
        f"alerts: {result['publish_rate']:,.0f} responses/s, "
        f"{result['index_publish_rate']:,.0f} index events/s "
        f"(load {result['load_before']} → {result['load_after']})"
    )
    if result["ratings_of_1"]:
        for q in ("p50", "p99", "max"):
            out.add(
                f"publish → alert-raised {q}",
                result[f"{q}_ms"] or 0.0,
                result[f"anchor_hop_ms_{q}"],
                unit="ms",
                **(
                    {"target": "≤ 1000 ms", "met": (result["p99_ms"] or 1e9) <= 1000}
                    if q == "p99"
                    else {}
                ),
            )
    for role in ("alerts", "store", "nats-server"):
        out.add(
            f"CPU per event (responses + index events): {role}",
            result.get(f"cpu_us_per_event_{role}", 0.0),
            result["anchor_hop_cpu_us_per_event_nats-server"] if role == "nats-server" else None,
            unit="µs",
        )
    for op in ("query", "update", "command"):
        out.add(f"store {op} operations per event", result.get(f"store_{op}_per_event", 0.0))
    if result.get("index_batches"):
        out.add("index events per batch (alerts-indexes)", result["index_mean_batch_messages"])
        out.add("index batch handler time", result["index_mean_batch_ms"], unit="ms")
    out.add(
        "alerts received / ratings of 1",
        result["alerts_received"],
        result["ratings_of_1"],
        target="all, on the right unit",
        met=result["alerts_received"] == result["ratings_of_1"] and result["cases_on_right_unit"],
    )
    out.show()


KEYS = (
    "p50_ms",
    "p99_ms",
    "max_ms",
    "anchor_hop_ms_p50",
    "anchor_hop_ms_p99",
    "cpu_us_per_event_alerts",
    "cpu_us_per_event_store",
    "cpu_us_per_event_nats-server",
    "store_query_per_event",
    "store_update_per_event",
    "store_command_per_event",
    "publish_rate",
    "index_publish_rate",
    "index_mean_batch_messages",
    "index_mean_batch_ms",
    "anchor_hop_cpu_us_per_event_nats-server",
    "anchor_atomic_batch_500_per_s",
    "load_before",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--low-share", type=float, default=0.2)
    parser.add_argument(
        "--index-rate",
        type=float,
        default=0,
        help="also publish index-updated events at this rate (scoring's: ~170/s at 500/s)",
    )
    parser.add_argument("--index-units", type=int, default=20, help="units the index events cover")
    parser.add_argument("--runs", type=int, default=1, help="repeat, each with its own anchors")
    parser.add_argument(
        "--unsynced-store",
        action="store_true",
        help="embedded SecantusDB without --sync-on-commit (to measure what durability costs)",
    )
    args = parser.parse_args()
    runs = []
    for number in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="sipas-bench-alerts-") as tmp:
            result = one_run(args, Path(tmp))
        result |= {
            "rate_target": args.rate,
            "seconds": args.seconds,
            "low_share": args.low_share,
            "index_rate_target": args.index_rate,
            "index_units": args.index_units,
            "store_synced": not args.unsynced_store,
            "at": datetime.now(UTC).isoformat(),
        }
        console.print(f"run {number + 1} of {args.runs}")
        report(result)
        runs.append(result)
    if len(runs) > 1:
        show_spread("alerts", runs, KEYS)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"alerts-case-latency-{int(time.time())}.json"
    out.write_text(json.dumps({"runs": runs, "summary": summarize(runs)}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
