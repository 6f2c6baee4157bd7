"""Raw anchors: what the bus alone does on this machine, measured in the same run.

Absolute latencies on a shared 2-core machine vary several-fold from run to run, so every
benchmark first measures, on the very nats-server it then uses:

- the **raw hop**: messages of the benchmark's size published at the benchmark's rate
  (``publish_async``, acks collected) on a file-stored stream (the server runs with
  ``sync_interval: always``, like the services' streams) and consumed by a durable pull
  consumer through the services' own pull loop (``sipas_runtime.pull``), each message
  acked; latency = publish → received, p50/p99/max;
- the **raw atomic-batch rate**: messages of that size stored in atomic batches of 500
  (ADR-50), one request per batch, as fast as the server takes them;
- the **raw per-message rate**: the same with one ack per message, 512 in flight;
- the **raw store write** (:func:`store_writes`, where the store is on the path): small
  documents inserted as a checkpoint writes them, 500 per transaction, and the store's CPU per
  document: what any document a service writes costs at the least;

and CPU per event of every process involved, read from ``/proc`` (``CpuMeter``). Each
figure is then printed beside its anchor with the ratio (``Report``); ``spread`` gives
min/median/max over repeated runs, and ``load`` the load average each run met.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api
from pymongo import AsyncMongoClient
from rich.console import Console
from rich.table import Table

from sipas_runtime.publishing import Outgoing, publish_batched, publish_window
from sipas_runtime.pull import PullLoop

STREAM = "BENCH_ANCHOR"
SUBJECT = "bench.anchor.hop"
console = Console(width=150)
RESULTS = Path(__file__).parent / "results"


# -- CPU from /proc ------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _parent_and_command(pid: str) -> tuple[str, str] | None:
    """Its parent, and what it runs: a service forked by the launcher is named by its
    ``comm`` (``sipas-intake``), since its command line is the fork server's, which names
    every service (``sipas_runtime.launcher``); the fork server itself runs none of them."""
    try:
        parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
    if "multiprocessing.forkserver" in command:
        command = comm.replace("-", "_") if comm.startswith("sipas-") else "fork server"
    return parent, command


def processes(roles: Mapping[str, str]) -> dict[str, list[int]]:
    """This process (``bench``) and its descendants whose command line holds a role's pattern."""
    table = {
        p.name: _parent_and_command(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
    }
    mine, frontier = set(), {str(os.getpid())}
    while frontier:
        mine |= frontier
        frontier = {pid for pid, row in table.items() if row and row[0] in frontier} - mine
    found: dict[str, list[int]] = {"bench": [os.getpid()]}
    for pid in sorted(mine - {str(os.getpid())}):
        row = table.get(pid)
        for role, pattern in roles.items():
            if row and pattern in row[1]:
                found.setdefault(role, []).append(int(pid))
                break
    return found


SERVERS = {"nats-server": "nats-server", "store": "secantus"}


class CpuMeter:
    """CPU spent by each role's processes between construction and ``per_event``."""

    def __init__(self, roles: Mapping[str, str] = SERVERS) -> None:
        self.pids = processes(roles)
        self._seen: dict[int, float] = {}
        self._before = self._now()
        self._started = time.monotonic()

    def _now(self) -> dict[str, float]:
        return {role: sum(map(self._cpu, pids)) for role, pids in self.pids.items()}

    def _cpu(self, pid: int) -> float:
        """A process's CPU, or the last reading of it once it is gone (killed mid-run)."""
        self._seen[pid] = max(self._seen.get(pid, 0.0), cpu_seconds(pid))
        return self._seen[pid]

    def sample(self) -> None:
        """Read every process now (call it just before killing one)."""
        self._now()

    def per_event(self, events: int) -> dict[str, float]:
        """µs of CPU per event by role, plus ``total`` and each role's share of the wall time."""
        wall = time.monotonic() - self._started
        spent = {role: value - self._before.get(role, 0.0) for role, value in self._now().items()}
        out = {
            f"cpu_us_per_event_{r}": round(1e6 * s / max(1, events), 1) for r, s in spent.items()
        }
        out["cpu_us_per_event_total"] = round(1e6 * sum(spent.values()) / max(1, events), 1)
        out["cpu_busy_share_of_wall"] = round(sum(spent.values()) / max(wall, 1e-9), 2)
        return out


class StoreOps:
    """What the store was asked between :meth:`start` and :meth:`per_event`, per event.

    Its ``opcounters`` (``serverStatus``: insert, query, update, delete, getmore, command)
    and, from the oplog (``local.oplog.rs``, the last 100,000 writes on SecantusDB), the
    documents written per collection: where the store's CPU per event goes.
    """

    def __init__(self, url: str) -> None:
        self._client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
        self._counters: dict[str, int] = {}
        self._since: Any = None

    async def _status(self) -> dict[str, Any]:
        return dict(await self._client.admin.command("serverStatus"))

    async def start(self) -> None:
        status = await self._status()
        self._counters = dict(status.get("opcounters", {}))
        self._since = status.get("operationTime")

    async def per_event(self, events: int) -> dict[str, Any]:
        counters = (await self._status()).get("opcounters", {})
        n = max(1, events)
        out: dict[str, Any] = {
            f"store_{op}_per_event": round((value - self._counters.get(op, 0)) / n, 2)
            for op, value in counters.items()
        }
        written: dict[str, int] = {}
        oplog = self._client["local"]["oplog.rs"]
        first = await oplog.find_one({}, {"ts": 1}, sort=[("$natural", 1)])
        query = {} if self._since is None else {"ts": {"$gt": self._since}}
        async for entry in oplog.find(query, {"op": 1, "ns": 1}):
            if entry.get("ns") and entry.get("op") in {"i", "u", "d"}:
                key = f"{entry['ns']} {entry['op']}"
                written[key] = written.get(key, 0) + 1
        most = sorted(written.items(), key=lambda kv: -kv[1])
        out["store_writes_per_event"] = {key: round(count / n, 3) for key, count in most}
        out["store_oplog_complete"] = bool(
            first is None or self._since is None or first["ts"] <= self._since
        )
        await self._client.close()
        return out


# -- the anchors -----------------------------------------------------------------------------
async def _fresh_stream(nc: Client) -> None:
    js = nc.jetstream()
    with contextlib.suppress(Exception):  # absent: nothing to delete
        await js.delete_stream(STREAM)
    await js.add_stream(
        api.StreamConfig(
            name=STREAM,
            subjects=[SUBJECT],
            storage=api.StorageType.FILE,
            allow_atomic=True,
        )
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else 0.0


async def raw_hop(
    nc: Client, *, rate: float, seconds: float, size: int, batch: int = 500, linger: float = 0.02
) -> dict[str, Any]:
    """The raw publish → pull-consume hop at ``rate`` messages/s of ``size`` bytes."""
    await _fresh_stream(nc)
    js = nc.jetstream()
    count = max(1, int(rate * seconds))
    arrived: dict[int, float] = {}
    done = asyncio.Event()

    async def on_batch(messages: list[Msg]) -> None:
        now = time.monotonic()
        for msg in messages:
            arrived[int((msg.headers or {})["Bench-I"])] = now
            await msg.ack()
        if len(arrived) >= count:
            done.set()

    config = api.ConsumerConfig(
        durable_name="anchor",
        ack_policy=api.AckPolicy.EXPLICIT,
        ack_wait=30.0,
        max_ack_pending=20_000,
        filter_subject=SUBJECT,
    )
    loop = PullLoop(
        nc, js, stream=STREAM, config=config, handler=on_batch, batch=batch, linger=linger
    )
    await loop.start()
    payload = b"x" * size
    headers = [{"Nats-Msg-Id": uuid.uuid4().hex, "Bench-I": str(i)} for i in range(count)]
    meter = CpuMeter()
    sent: list[float] = []
    futures = []
    started = time.monotonic()
    for i in range(count):
        delay = started + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        sent.append(time.monotonic())
        futures.append(await js.publish_async(SUBJECT, payload, headers=headers[i]))
    await asyncio.gather(*futures)
    achieved = count / (time.monotonic() - started)
    await asyncio.wait_for(done.wait(), timeout=60)
    cpu = meter.per_event(count)
    await loop.stop()
    await js.delete_stream(STREAM)
    hops = [1000 * (arrived[i] - sent[i]) for i in range(count)]
    return {
        "rate": rate,
        "rate_achieved": round(achieved, 1),
        "messages": count,
        "size": size,
        "hop_ms_p50": round(_percentile(hops, 50), 2),
        "hop_ms_p99": round(_percentile(hops, 99), 2),
        "hop_ms_max": round(max(hops), 2),
        **{key.replace("cpu_", "hop_cpu_"): value for key, value in cpu.items()},
    }


async def atomic_rate(nc: Client, *, count: int, size: int) -> dict[str, Any]:
    """Messages/s stored in atomic batches of 500, and one by one with 512 acks in flight."""
    js = nc.jetstream()
    payload = b"x" * size
    out: dict[str, Any] = {}
    for name, publish in (
        ("atomic_batch_500_per_s", lambda m: publish_batched(js, nc, m, batch=500)),
        ("publish_window_512_per_s", lambda m: publish_window(js, m, window=512)),
    ):
        await _fresh_stream(nc)
        messages = [
            Outgoing(SUBJECT, payload, {"Nats-Msg-Id": uuid.uuid4().hex}) for _ in range(count)
        ]
        meter = CpuMeter()
        started = time.perf_counter()
        await publish(messages)
        out[name] = round(count / (time.perf_counter() - started))
        if name.startswith("atomic"):
            cpu = meter.per_event(count)
            out["atomic_cpu_us_per_event_nats_server"] = cpu.get("cpu_us_per_event_nats-server")
    await js.delete_stream(STREAM)
    return out


async def store_writes(url: str, *, documents: int = 20_000, batch: int = 500) -> dict[str, Any]:
    """The store's CPU per document and documents/s, ``batch`` small inserts per transaction.

    The cheapest way a service writes (a checkpoint's ``insert_many`` in one transaction,
    ledger-sized documents: an id, a dossier number, a time), on the store the benchmark
    then uses, into a scratch database dropped afterwards.
    """
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    db = client[f"bench_anchor_{uuid.uuid4().hex[:8]}"]
    try:
        await db.create_collection("ledger")
        now = datetime.now(UTC)
        docs = [
            {"_id": uuid.uuid4().hex, "dossier_id": f"H{i:012d}", "at": now}
            for i in range(documents)
        ]
        meter = CpuMeter({"store": SERVERS["store"]})
        started = time.perf_counter()
        for first in range(0, documents, batch):
            async with client.start_session() as session, await session.start_transaction():
                await db["ledger"].insert_many(docs[first : first + batch], session=session)
        elapsed = time.perf_counter() - started
        cpu = meter.per_event(documents)
        return {
            "store_docs_per_s": round(documents / elapsed),
            "store_cpu_us_per_doc": cpu.get("cpu_us_per_event_store", 0.0),
        }
    finally:
        await client.drop_database(db.name)
        await client.close()


async def measure(
    nc: Client,
    *,
    rate: float,
    seconds: float,
    size: int,
    atomic_count: int = 20_000,
    store_url: str | None = None,
) -> dict[str, Any]:
    """The bus's anchors (and the store's, given its URL), with the load average they met."""
    before = load()
    hop = await raw_hop(nc, rate=rate, seconds=seconds, size=size)
    atomic = await atomic_rate(nc, count=atomic_count, size=size)
    store = await store_writes(store_url) if store_url else {}
    return {**hop, **atomic, **store, "load_before": before, "load_after": load()}


# -- reporting --------------------------------------------------------------------------------
def load() -> float:
    """The 1-minute load average now."""
    return round(os.getloadavg()[0], 2)


def spread(values: Iterable[float | None]) -> dict[str, float] | None:
    """min / median / max of the values that exist."""
    present = [v for v in values if isinstance(v, int | float)]
    if not present:
        return None
    return {"min": min(present), "median": statistics.median(present), "max": max(present)}


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """min / median / max of every number the runs report (flat keys)."""
    keys = [k for k, v in runs[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
    return {k: s for k in keys if (s := spread(r.get(k) for r in runs)) is not None}


class Report:
    """Rows of figure / anchor / ratio / target, printed as one table."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        measure: str,
        figure: float,
        anchor: float | None = None,
        *,
        unit: str = "",
        target: str = "",
        met: bool | None = None,
    ) -> None:
        """One figure, its anchor (same unit), their ratio, and the target it is held to."""
        ratio = figure / anchor if anchor else None
        self.rows.append(
            {
                "measure": measure,
                "figure": figure,
                "anchor": anchor,
                "ratio": ratio,
                "unit": unit,
                "target": target,
                "met": met,
            }
        )

    def show(self) -> None:
        """Print the table."""
        table = Table(title=self.title)
        for column in ("measure", "figure", "raw anchor", "ratio", "target", "met"):
            table.add_column(column, justify="left" if column == "measure" else "right")
        for row in self.rows:
            table.add_row(
                row["measure"],
                f"{row['figure']:,.2f} {row['unit']}",
                "" if row["anchor"] is None else f"{row['anchor']:,.2f} {row['unit']}",
                "" if row["ratio"] is None else f"{row['ratio']:.2f}",
                row["target"],
                {None: "", True: "yes", False: "no"}[row["met"]],
            )
        console.print(table)


def show_spread(title: str, runs: list[dict[str, Any]], keys: Iterable[str]) -> None:
    """min / median / max of chosen keys over repeated runs, with each run's load."""
    table = Table(title=f"{title}: {len(runs)} runs")
    for column in ("measure", "min", "median", "max", "per run"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    summary = summarize(runs)
    for key in [k for k in keys if k in summary]:
        s = summary[key]
        each = ", ".join(f"{r.get(key, float('nan')):,.4g}" for r in runs)
        table.add_row(key, f"{s['min']:,.4g}", f"{s['median']:,.4g}", f"{s['max']:,.4g}", each)
    console.print(table)


def share_of_atomic(figure: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Flatten a run into ``section.key`` numbers, with ``figure``'s share of raw atomic."""

    def flat(results: dict[str, Any]) -> dict[str, Any]:
        out = {
            f"{section}.{k}": v
            for section, values in results.items()
            if isinstance(values, dict)
            for k, v in values.items()
        }
        out["share_of_atomic"] = round(out[figure] / out["anchor.atomic_batch_500_per_s"], 3)
        return out

    return flat


@dataclass(frozen=True)
class Repeated:
    """How a benchmark runs once, shows a run and flattens it into ``section.key`` figures."""

    name: str
    once: Callable[[Path], Coroutine[Any, Any, dict[str, Any]]]
    show: Callable[[dict[str, Any]], None]
    flat: Callable[[dict[str, Any]], dict[str, Any]]
    keys: Iterable[str]


def repeat(bench: Repeated, runs: int, *, keep: bool = False) -> Path:
    """Run ``runs`` times in fresh work folders; show each and the spread; write the JSON."""
    results = []
    for number in range(runs):
        workdir = Path(tempfile.mkdtemp(prefix=f"sipas-bench-{bench.name}-"))
        try:
            results.append(asyncio.run(bench.once(workdir)))
        finally:
            if keep:
                console.print(f"work folder kept: {workdir}")
            else:  # stores and logs of a run: about 100 MB
                shutil.rmtree(workdir, ignore_errors=True)
        console.print(f"run {number + 1} of {runs}")
        bench.show(results[-1])
    flats = [bench.flat(r) for r in results]
    if runs > 1:
        show_spread(bench.name, flats, bench.keys)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{bench.name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps({"runs": results, "summary": summarize(flats)}, indent=2))
    console.print(f"wrote {path}")
    return path
