"""``sipas demo``: the whole system against a simulated province, with a live table.

Starts embedded infrastructure and the four services (see ``stack``), a simulated TTHC
system for seed 002's 17 communes and simulated respondents, and shows what the system
does. With ``duration`` it stops on its own and prints a summary; Ctrl-C stops it cleanly
at any time. Every child process is stopped on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from sipas_contracts.instrument import load_catalogue
from sipas_contracts.units import UnitHierarchy, load_sample_hierarchy
from sipas_runtime.demo.board import Board
from sipas_runtime.demo.simulator import Commune, Respondents, Tally, TthcSystem
from sipas_runtime.stack import Stack, StackError, dev_supervisor

DEMO_ENV = {
    "SIPAS_SAMPLING_DEV_OUTBOX": "true",
    "SIPAS_SAMPLING_CAMPAIGN_ID": "demo-ht-2026",
    "SIPAS_SAMPLING_SAMPLING_RATE": "0.5",
}


def communes(hierarchy: UnitHierarchy, rng: random.Random) -> list[Commune]:
    """The simulated communes: today's leaves under the province, each with a quality."""
    today = datetime.now(UTC).date()
    return [
        Commune(
            code=code,
            name=hierarchy.get(code).name_vi,
            weight=rng.uniform(0.5, 2.0),
            quality=rng.uniform(0.55, 0.97),
        )
        for code in hierarchy.leaves(hierarchy.province, today)
    ]


async def _simulate(
    stack: Stack, *, duration: float, rate: float, seed: int, console: Console
) -> Board:
    rng = random.Random(seed)  # noqa: S311 - simulation, not security
    hierarchy = load_sample_hierarchy()
    places = communes(hierarchy, rng)
    board = Board(hierarchy=hierarchy, units=[c.code for c in places])
    tally = Tally()
    nc = await nats.connect(stack.nats_url)
    await nc.subscribe("sipas.>", cb=board.on_message)
    stop = asyncio.Event()
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=10) as http:
        tthc = TthcSystem(
            communes=places,
            js=nc.jetstream(),
            http=http,
            intake_url=stack.url("intake"),
            api_key=stack.env["SIPAS_INTAKE_API_KEYS"].split(",")[0],
            rng=rng,
            tally=tally,
        )
        people = Respondents(
            communes={c.code: c for c in places},
            catalogue=load_catalogue("sipas-1001-2023"),
            http=http,
            intake_url=stack.url("intake"),
            sampling_url=stack.url("sampling"),
            rng=rng,
            tally=tally,
        )
        tasks = [asyncio.create_task(tthc.run(rate, stop)), asyncio.create_task(people.run(stop))]

        def render() -> Group:
            elapsed = time.monotonic() - started
            limit = f"/{duration:.0f}s" if duration else " (Ctrl-C để dừng / to stop)"
            title = f"SIPAS Live — mô phỏng / simulation {elapsed:.0f}s{limit}"
            status = Text(
                "Đã gửi hồ sơ / dossiers sent: "
                f"NATS {tally.sent['nats']}, HTTP {tally.sent['http']}; "
                f"người trả lời / answered {tally.answered}, từ chối / declined {tally.declined}"
                + (f"; lỗi / errors {dict(tally.errors)}" if tally.errors else ""),
                style="dim",
            )
            return Group(board.table(title), status)

        try:
            with Live(render(), console=console, refresh_per_second=4) as live:
                while not duration or time.monotonic() - started < duration:
                    await asyncio.sleep(0.25)
                    stack.check()
                    live.update(render())
                stop.set()
                await asyncio.gather(*tasks)
                await asyncio.sleep(2.0)  # let the last responses reach scoring
                live.update(render())
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)
            await nc.close()
    return board


def run_demo(*, workdir: Path, duration: float, rate: float, seed: int, console: Console) -> int:
    """Run the demo; returns the process exit code."""
    stack = Stack(workdir, extra_env=DEMO_ENV)
    try:
        with console.status("Khởi động / starting NATS, Mongo, 4 dịch vụ và bảng điều khiển…"):
            stack.start()
        asyncio.run(_simulate(stack, duration=duration, rate=rate, seed=seed, console=console))
    except KeyboardInterrupt:
        console.print("Đã dừng / stopped.")
    except StackError as exc:
        console.print(f"[red]{exc}[/]")
        return 1
    finally:
        stack.stop()
    console.print("\n[bold]Địa chỉ khi hệ thống chạy (sipas up) / URLs while running:[/]")
    console.print(f"  console   {stack.url('console')}")
    for name in (s for s in stack.services if s != "console"):
        console.print(f"  {name:<9} {stack.url(name)}/docs   {stack.url(name)}/metrics")
    console.print(f"  scoring   {stack.url('scoring')}/v1/indices")
    key = dev_supervisor(workdir)[0]
    console.print(
        f'  alerts    curl -H "Authorization: Bearer {key}" {stack.url("alerts")}/v1/cases'
    )
    console.print(f"  sampling  {stack.url('sampling')}/dev/outbox")
    console.print(f"Nhật ký / logs: {workdir / 'logs'}")
    return 0
