"""``sipas demo``: the whole system against a simulated province, with a live table.

Starts embedded infrastructure (empty, each run) and the services (see ``stack``), then
runs two things at once for seed 002's 17 communes:

- **the previous period, replayed quickly**: the shipped seed 002 plan loaded for today
  (results delivered in the 243 days before today), the one-stop export, the draw, the
  enumerators' 425 interviews — so every commune reaches its 25 forms and scoring ranks it
  within the run (``replay``);
- **today, live**: a simulated TTHC system completing dossiers (NATS and the webhook) and
  respondents answering their SMS/Zalo/e-mail invitations from the development outbox,
  for the continuous development campaign (``simulator``).

The board shows both (``board``). With ``duration`` it stops on its own and prints a
summary; Ctrl-C stops it cleanly at any time. Every child process is stopped on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats
from nats.aio.client import Client
from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from sipas_contracts.instrument import load_catalogue
from sipas_contracts.units import UnitHierarchy, load_sample_hierarchy
from sipas_runtime.demo.board import Board
from sipas_runtime.demo.replay import FieldTeam, PeriodReplay, Progress, ReplayError
from sipas_runtime.demo.simulator import Commune, Respondents, Tally, TthcSystem
from sipas_runtime.stack import API_SERVICES, Stack, StackError
from sipas_runtime.stopping import cancel_all

LIVE_CAMPAIGN = "demo-ht-live"
PLAN = "ha-tinh-nghi-xuan-2020"
VIETNAM = timedelta(hours=7)
FINISH_SECONDS = 180
"""After the run, how long the previous period's replay may still take to finish (its draw, 425
interviews and publication were not done 70 s after start on a 2-core machine at load 12)."""


def demo_env(today: str) -> dict[str, str]:
    """The services' settings for the demo: both campaigns, the outbox."""
    return {
        "SIPAS_SAMPLING_DEV_OUTBOX": "true",
        "SIPAS_SAMPLING_CAMPAIGN_FILES": PLAN,
        "SIPAS_SAMPLING_DEV_CAMPAIGN": "true",
        "SIPAS_SAMPLING_CAMPAIGN_ID": LIVE_CAMPAIGN,
        "SIPAS_SAMPLING_CAMPAIGN_START": today,
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


def _status(tally: Tally, progress: Progress) -> Text:
    steps = {
        "waiting": "chờ / waiting",
        "export": f"xuất danh sách hồ sơ / export {progress.exported}",
        "population": f"tổng thể / population {progress.exported}",
        "draw": "bốc thăm / draw",
        "interviews": f"phỏng vấn / interviews {progress.interviewed}/{progress.drawn}",
        "done": f"xong / done: {progress.interviewed} phiếu",
        "published": f"đã công bố / published: {progress.interviewed} phiếu",
        "drawn earlier": "đã bốc thăm ở lần chạy trước / drawn on an earlier run",
    }
    return Text(
        f"Kỳ trước / previous period {progress.campaign_id}: "
        f"{steps.get(progress.stage, progress.stage)}\n"
        f"Trực tiếp / live: hồ sơ gửi / dossiers sent NATS {tally.sent['nats']}, "
        f"HTTP {tally.sent['http']}; trả lời / answered {tally.answered}, "
        f"từ chối / declined {tally.declined}"
        + (f"; lỗi / errors {dict(tally.errors)}" if tally.errors else ""),
        style="dim",
    )


async def _poll_ranked(
    http: httpx.AsyncClient, url: str, board: Board, campaign: str, key: str
) -> None:
    """Keep the board's league table of the replayed campaign current (a supervisor key)."""
    headers = {"Authorization": f"Bearer {key}"}
    while True:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            answer = await http.get(
                f"{url}/v1/indices", params={"campaign": campaign}, headers=headers
            )
            if answer.status_code == 200:  # noqa: PLR2004
                board.ranked = answer.json()
        await asyncio.sleep(1.0)


class Simulation:
    """The simulated province around a running stack: TTHC system, people, enumerators."""

    def __init__(self, stack: Stack, team: FieldTeam, *, seed: int) -> None:
        self.stack = stack
        self.team = team
        self.rng = random.Random(seed)  # noqa: S311 - simulation, not security
        self.hierarchy = load_sample_hierarchy()
        self.places = communes(self.hierarchy, self.rng)
        self.tally = Tally()
        self.campaign = f"ht-nx-{(datetime.now(UTC) + VIETNAM).year}"
        self.board = Board(
            hierarchy=self.hierarchy,
            units=[c.code for c in self.places],
            live_campaign=LIVE_CAMPAIGN,
            started=datetime.now(UTC),
        )

    def actors(
        self, nc: Client, http: httpx.AsyncClient
    ) -> tuple[TthcSystem, Respondents, PeriodReplay]:
        """The TTHC system, the respondents and the replay, wired to the stack."""
        urls = {name: self.stack.url(name) for name in self.stack.services}
        tthc_key = self.stack.dev_keys["tthc"]
        tthc = TthcSystem(
            communes=self.places, js=nc.jetstream(), http=http, intake_url=urls["intake"],
            api_key=tthc_key, rng=self.rng, tally=self.tally,
        )  # fmt: skip
        people = Respondents(
            communes={c.code: c for c in self.places},
            catalogue=load_catalogue("sipas-1001-2023"), http=http,
            intake_url=urls["intake"], sampling_url=urls["sampling"], rng=self.rng,
            tally=self.tally,
        )  # fmt: skip
        replay = PeriodReplay(
            http=http, nc=nc, urls=urls, tthc_key=tthc_key, team=self.team,
            hierarchy=self.hierarchy, quality={c.code: c.quality for c in self.places},
            rng=random.Random(self.rng.random()),  # noqa: S311 - simulation
        )  # fmt: skip
        return tthc, people, replay

    def view(self, started: float, duration: float, progress: Progress) -> Group:
        """The board and the status lines."""
        elapsed = time.monotonic() - started
        limit = f"/{duration:.0f}s" if duration else " (Ctrl-C để dừng / to stop)"
        title = f"SIPAS Live — mô phỏng / simulation {elapsed:.0f}s{limit}"
        return Group(self.board.table(title), _status(self.tally, progress))

    async def run(self, *, duration: float, rate: float, console: Console) -> None:
        """Run everything until ``duration`` (0 = until cancelled), showing the board.

        Then today's simulation stops while the previous period's replay finishes (at most
        ``FINISH_SECONDS`` more on a slow machine), so the summary shows every commune.
        """
        nc = await nats.connect(self.stack.nats_url)
        await nc.subscribe("sipas.>", cb=self.board.on_message)
        stop, started = asyncio.Event(), time.monotonic()
        async with httpx.AsyncClient(timeout=30) as http:
            tthc, people, replay = self.actors(nc, http)
            replaying = asyncio.create_task(_replayed(replay, self.campaign))
            polling = asyncio.create_task(
                _poll_ranked(
                    http,
                    self.stack.url("scoring"),
                    self.board,
                    self.campaign,
                    self.stack.dev_keys["supervisor"],
                )
            )
            tasks = [
                replaying,
                polling,
                asyncio.create_task(tthc.run(rate, stop)),
                asyncio.create_task(people.run(stop)),
            ]
            try:
                with Live(self.view(started, duration, replay.progress), console=console) as live:

                    def refresh() -> None:
                        self.stack.check()
                        live.update(self.view(started, duration, replay.progress))

                    ended = bool(duration)
                    await _until(lambda: ended and time.monotonic() - started >= duration, refresh)
                    stop.set()
                    await _until(replaying.done, refresh, limit=FINISH_SECONDS)
                    await _until(lambda: self._counted(replay.progress), refresh, limit=15)
            finally:
                stop.set()
                await cancel_all(tasks)
                await nc.close()

    def _counted(self, progress: Progress) -> bool:
        """Whether scoring's table counts every form the enumerators entered."""
        rows = (self.board.ranked or {}).get("rows", [])
        province = next((r for r in rows if r["tier"] == "province"), None)
        return province is not None and province["responses"] >= progress.interviewed


async def _until(
    done: Callable[[], bool], refresh: Callable[[], None], *, limit: float | None = None
) -> None:
    """Refresh the board four times a second until ``done`` (or ``limit`` seconds)."""
    deadline = None if limit is None else time.monotonic() + limit
    while not done() and (deadline is None or time.monotonic() < deadline):
        await asyncio.sleep(0.25)
        refresh()


async def _replayed(replay: PeriodReplay, campaign: str) -> None:
    try:
        if (await replay.run(campaign)).stage == "done":
            await replay.publish()
    except ReplayError as exc:
        replay.progress.stage = f"lỗi / error: {exc}"


def _fresh(workdir: Path) -> None:
    """Each run starts from an empty province (embedded servers only)."""
    if not os.environ.get("SIPAS_NATS_URL"):
        shutil.rmtree(workdir / "nats", ignore_errors=True)
    if not os.environ.get("SIPAS_MONGO_URL"):
        shutil.rmtree(workdir / "mongo", ignore_errors=True)


def _urls(stack: Stack, workdir: Path, console: Console) -> None:
    console.print("\n[bold]Địa chỉ khi hệ thống chạy (sipas up) / URLs while it runs:[/]")
    if "console" in stack.services:
        console.print(f"  Bảng điều khiển / console   {stack.url('console')}/")
        console.print(f"  Kết quả công khai / public results   {stack.url('console')}/ket-qua")
        console.print(
            "  Đăng nhập thử / dev sign-in   dev-supervisor, mật khẩu / password in "
            f"{stack.workdir / 'dev-supervisor.txt'}",
            soft_wrap=True,
        )
    for name in API_SERVICES:
        console.print(f"  {name:<9} {stack.url(name)}/docs   {stack.url(name)}/metrics")
    console.print(f"  sampling  {stack.url('sampling')}/dev/outbox")
    console.print(
        "Khóa phát triển / development keys (Authorization: Bearer …, e.g. "
        f"{stack.url('scoring')}/v1/indices, {stack.url('alerts')}/v1/cases): "
        f"{workdir / 'dev-keys.json'} (supervisor)"
    )
    console.print(f"Nhật ký / logs: {workdir / 'logs'}")


def run_demo(
    *,
    workdir: Path,
    duration: float,
    rate: float,
    seed: int,
    console: Console,
    free_ports: bool = False,
) -> int:
    """Run the demo; returns the process exit code."""
    _fresh(workdir)
    today = (datetime.now(UTC) + VIETNAM).date().isoformat()
    stack = Stack(workdir, extra_env=demo_env(today))
    if free_ports:
        stack.ports = {}
    try:
        with console.status("Khởi động / starting NATS, Mongo và các dịch vụ / and the services…"):
            stack.start()
        simulation = Simulation(stack, FieldTeam.of(stack.dev_keys), seed=seed)
        asyncio.run(simulation.run(duration=duration, rate=rate, console=console))
    except KeyboardInterrupt:
        console.print("Đã dừng / stopped.")
    except StackError as exc:
        console.print(f"[red]{exc}[/]")
        return 1
    finally:
        stack.stop()
    _urls(stack, workdir, console)
    return 0
