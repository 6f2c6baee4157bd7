"""The chaos tier's system under load: its own servers (to kill them), the four services,
a seeded load, and what was sent.

Each scenario gets a fresh nats-server, SecantusDB and the four services as processes. The
load is bounded (``DOSSIERS`` raw records from a simulated TTHC system and ``RESPONSES``
responses over ``LOAD_SECONDS``; a share of the invitations is answered), published with
de-duplication ids and retried until JetStream stores them, as a real producer would.
Kill times and down times come from one seeded RNG: the seed is printed with a failure,
and ``SIPAS_CHAOS_SEED=<seed>`` replays the same schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import nats
import pytest
import yaml
from nats.aio.client import Client
from pymongo import AsyncMongoClient

from sipas_contracts import subjects
from sipas_contracts.events import InvitationSent, ResponseRecorded
from sipas_contracts.ids import uuid7
from sipas_contracts.streams import ALL_CONSUMERS, SCORING_RESPONSES
from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime import checkpoints
from sipas_runtime.dlq import letters
from sipas_runtime.embedded import EmbeddedMongo, EmbeddedNats
from sipas_runtime.mongo import Document
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.resume import delivered, gaps
from sipas_runtime.stack import Stack

CAMPAIGN = "chaos-2026"
DAY = date(2026, 1, 1)
CLOSING_HOUR = datetime(2026, 1, 1, 16, tzinfo=UTC)  # 23:00 in Vietnam: the window is ending
UNITS = load_sample_hierarchy().leaves("ht", DAY)
QUOTA = {"individual": 6, "organisation": 4}
ITEMS = ("HL.DV.E1.1", "HL.DV.E1.2", "HL.DV.E2.1", "HL.DV.E3.1", "HL.DV.E4.1")
DOSSIERS = 900
RESPONSES = 3000
LOAD_SECONDS = 15.0
LOW_SHARE = 0.2
ANSWER_SHARE = 0.6
SOURCE = "chaos"
READ_AHEAD = 32  # messages read back at once
STARTUP_SECONDS = 240.0  # four services importing at once on a busy 2-core machine


def campaign_file(path: Path) -> Path:
    """A continuous campaign whose quotas fill during the load (so overshoot would show)."""
    path.write_text(
        yaml.safe_dump(
            {
                "id": CAMPAIGN,
                "name_vi": "Thử nghiệm sự cố",
                "instrument_id": "sipas-1001-2023",
                "mode": "continuous",
                "seed": "chaos-seed-2026",
                "window": {"start": DAY.isoformat(), "end": DAY.isoformat()},
                "scope": {"under": "ht"},
                "allocation": {"fixed_per_unit": QUOTA},
                "channels": ["sms"],
            }
        )
    )
    return path


@dataclass
class Sent:
    """What the simulated world published (the recomputation starts from the streams)."""

    dossier_ids: list[str] = field(default_factory=list)
    responses: list[ResponseRecorded] = field(default_factory=list)


@dataclass
class Chaos:
    """Servers and services of one scenario, its seeded schedule of faults, and its load."""

    workdir: Path
    seed: int
    sent: Sent = field(default_factory=Sent)
    faults: list[str] = field(default_factory=list)
    js: Any = field(init=False, default=None)  # the load's JetStream context while it runs

    # What the tests use (they cannot import this module under --import-mode=importlib).
    campaign = CAMPAIGN
    quota = QUOTA

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.load_rng = random.Random(self.seed + 1)
        self._numbers = itertools.count()
        self.nats = EmbeddedNats(self.workdir / "nats")
        self.mongo = EmbeddedMongo(self.workdir / "mongo")

    def start(self) -> None:
        """Servers, then the four services (sampling with the chaos campaign)."""
        self.nats.start()
        self.mongo.start()
        self.stack = Stack(
            self.workdir / "stack",
            ports={},
            nats_url=self.nats.url,
            mongo_url=self.mongo.url,
            extra_env={
                "SIPAS_SAMPLING_DEV_OUTBOX": "true",
                "SIPAS_SAMPLING_CAMPAIGN_FILES": str(campaign_file(self.workdir / "c.yaml")),
                # the campaign's day is long past: sampling's upkeep (first run one interval
                # after start) would close it mid-scenario on a slow machine, and every later
                # dossier would go undecided
                "SIPAS_SAMPLING_MAINTENANCE_INTERVAL": "3600",
                "SIPAS_LOG_LEVEL": "INFO",
            },
        ).start(timeout=STARTUP_SECONDS)

    def stop(self) -> None:
        """Everything this scenario started."""
        with contextlib.suppress(AttributeError):
            self.stack.stop()
        self.mongo.stop()
        self.nats.stop()

    def moments(self, count: int) -> list[float]:
        """``count`` sorted random moments within the load (seconds after it starts)."""
        return sorted(self.rng.uniform(0.1, 0.8) * LOAD_SECONDS for _ in range(count))

    async def at(self, moment: float, started: float) -> None:
        """Wait for a moment of the schedule (a point in time, not a state)."""
        await asyncio.sleep(max(0.0, started + moment - time.monotonic()))

    def note(self, what: str, started: float) -> None:
        """Record a fault (printed with a failure)."""
        self.faults.append(f"{time.monotonic() - started:6.1f} s  {what}")

    async def run_load(self, faults: Callable[[float], Awaitable[None]]) -> None:
        """Publish the steady load, run ``faults(started)`` beside it, wait for both."""
        nc = await connect(self.nats.url)
        self.js = nc.jetstream()
        started = time.monotonic()

        async def dossiers() -> None:
            for number in range(DOSSIERS):
                await self.at(number * LOAD_SECONDS / DOSSIERS, started)
                await self.send_dossier()

        async def responses() -> None:
            for number in range(RESPONSES):
                await self.at(number * LOAD_SECONDS / RESPONSES, started)
                await self.send_response(UNITS[number % len(UNITS)])

        try:
            await asyncio.gather(
                dossiers(), responses(), answer_invitations(self, nc, started), faults(started)
            )
        finally:
            await nc.close()

    async def send_dossier(self) -> None:
        """The TTHC system sends the next completed dossier (retried until stored)."""
        record = raw_dossier(next(self._numbers), self.load_rng)
        headers = {"Nats-Msg-Id": f"raw:{record['dossier_id']}"}
        data = json.dumps(record).encode()
        await publish(self.js, subjects.raw_dossier(SOURCE), data, headers)
        self.sent.dossier_ids.append(record["dossier_id"])

    async def send_response(
        self, unit: str, invitation: UUID | None = None, kind: str = "individual"
    ) -> None:
        """A respondent's answers are recorded (as intake publishes them)."""
        rid = uuid7()
        event = ResponseRecorded(
            event_id=rid, occurred_at=datetime.now(UTC), producer="intake", response_id=rid,
            campaign_id=CAMPAIGN, unit=unit, instrument_id="sipas-1001-2023",
            collection_mode="online", applicant_kind=kind, answers=answers(self.load_rng),
            invitation_id=invitation,
        )  # fmt: skip
        subject = subjects.response_recorded(unit)
        await publish(self.js, subject, encode(event), event_headers(event))
        self.sent.responses.append(event)

    async def burst(self, count: int) -> None:
        """``count`` dossiers and ``count`` responses, published as fast as they are stored."""
        gate = asyncio.Semaphore(32)

        async def one(send: Awaitable[None]) -> None:
            async with gate:
                await send

        sends = [self.send_dossier() for _ in range(count)]
        sends += [self.send_response(UNITS[i % len(UNITS)]) for i in range(count)]
        await asyncio.gather(*(one(send) for send in sends))

    async def connect(self) -> Client:
        """A NATS client that reconnects for as long as it takes."""
        return await connect(self.nats.url)

    async def read(self, nc: Client, stream: str) -> list[tuple[int, str, bytes]]:
        """Every message of ``stream``: (seq, subject, data)."""
        return await read_stream(nc, stream)

    async def settled(self) -> bool:
        """Every durable consumer has nothing pending and nothing unacknowledged."""
        return await settled(self)


def raw_dossier(number: int, rng: random.Random) -> dict[str, Any]:
    """A completed dossier as the TTHC system sends it."""
    kind = "organisation" if rng.random() < 0.4 else "individual"
    return {
        "dossier_id": f"000.00.00.H42-260101-{number:05d}",
        "unit": UNITS[number % len(UNITS)],
        "procedure_code": "1.001193",
        "procedure_name": "Đăng ký khai sinh",
        "applicant_kind": kind,
        "applicant_id": f"{rng.randrange(10**12):012d}",
        "submission_channel": "direct",
        "result_delivery": "counter",
        "received_at": (CLOSING_HOUR - timedelta(days=3)).isoformat(),
        "delivered_at": CLOSING_HOUR.isoformat(),
        "contact": {"phone": f"091{rng.randrange(10**7):07d}"},
    }


def answers(rng: random.Random) -> dict[str, int | str]:
    """Five satisfaction items; a share of respondents rates one of them 1 or 2."""
    low = rng.random() < LOW_SHARE
    return {item: rng.choice([1, 2]) if low and i == 0 else rng.choice([3, 4, 5])
            for i, item in enumerate(ITEMS)}  # fmt: skip


async def publish(js: Any, subject: str, data: bytes, headers: dict[str, str]) -> None:
    """Publish until JetStream stores it (the de-duplication id makes retries harmless)."""
    while True:
        try:
            await js.publish(subject, data, headers=headers, timeout=2.0)
        except (TimeoutError, nats.errors.Error):
            await asyncio.sleep(0.2)  # the server is down: try again, as a producer would
        else:
            return


async def connect(url: str) -> Client:
    """A client that reconnects for as long as it takes."""
    return await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)


async def answer_invitations(chaos: Chaos, nc: Client, started: float) -> None:
    """Answer a share of the invitations sampling sends while the load runs."""
    read_up_to = 0
    answered: set[str] = set()  # a token is used once, whatever the stream holds
    while time.monotonic() < started + LOAD_SECONDS:
        for seq, _subject, data in await read_stream(nc, "SIPAS_INVITATIONS", after=read_up_to):
            read_up_to = seq
            invitation = InvitationSent.model_validate_json(data)
            if str(invitation.invitation_id) in answered:
                continue
            answered.add(str(invitation.invitation_id))
            if invitation.attempt == 1 and chaos.load_rng.random() < ANSWER_SHARE:
                await chaos.send_response(invitation.unit, invitation.invitation_id,
                                          invitation.stratum)  # fmt: skip
        await asyncio.sleep(0.5)  # polling interval of a respondent, not a wait for state


async def read_stream(nc: Client, stream: str, *, after: int = 0) -> list[tuple[int, str, bytes]]:
    """Every message of ``stream`` after sequence ``after``: (seq, subject, data)."""
    js = nc.jetstream()
    try:
        last = (await js.stream_info(stream)).state.last_seq
    except (TimeoutError, nats.errors.Error):
        return []  # the server is down: nothing to read now

    async def get(seq: int) -> tuple[int, str, bytes] | None:
        for _ in range(30):  # a loaded machine answers slowly: ask again
            try:
                raw = await js.get_msg(stream, seq)
            except nats.js.errors.NotFoundError:
                return None
            except TimeoutError:
                continue
            return seq, raw.subject or "", raw.data or b""
        raise TimeoutError(f"{stream} #{seq} could not be read back")

    found: list[tuple[int, str, bytes]] = []
    for first in range(after + 1, last + 1, READ_AHEAD):
        chunk = range(first, min(first + READ_AHEAD, last + 1))
        found.extend(m for m in await asyncio.gather(*(get(s) for s in chunk)) if m is not None)
    return found


async def settled(chaos: Chaos) -> bool:
    """Every durable consumer has nothing pending and nothing unacknowledged, scoring's
    last checkpoint holds every response its durable delivered (its counts live in memory
    and are acked before they are checkpointed), and no answer waits for its invitation."""
    nc = await nats.connect(chaos.nats.url)
    try:
        js = nc.jetstream()
        for spec in ALL_CONSUMERS:
            info = await js.consumer_info(spec.stream, spec.durable)
            if info.num_pending or info.num_ack_pending:
                return False
        if not await checkpointed(chaos, await delivered(js, SCORING_RESPONSES)):
            return False
        return not await answers_waiting(chaos)
    finally:
        await nc.close()


async def answers_waiting(chaos: Chaos) -> int:
    """Answers sampling holds until their invitation is stored (decided from memory)."""
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(chaos.mongo.url)
    try:
        return await mongo["sipas_sampling"]["answers_waiting"].count_documents({})
    finally:
        await mongo.close()


async def checkpointed(chaos: Chaos, upto: int) -> bool:
    """Scoring's last checkpoint holds every sequence up to ``upto``."""
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(chaos.mongo.url)
    db, durable = mongo["sipas_scoring"], SCORING_RESPONSES.durable
    try:
        stored = await checkpoints.read(db, durable)
        dead = await letters.dead_sequences(db, durable)
    finally:
        await mongo.close()
    return not gaps(stored.applied, upto, dead)


@pytest.fixture
def seed() -> int:
    """The schedule's seed: ``SIPAS_CHAOS_SEED`` replays a failed run."""
    given = os.environ.get("SIPAS_CHAOS_SEED")
    return int(given) if given else random.SystemRandom().randrange(2**31)


@pytest.fixture
def chaos(tmp_path: Path, seed: int) -> Iterator[Chaos]:
    system = Chaos(tmp_path, seed)
    try:
        system.start()
        yield system
    finally:
        system.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    system = getattr(item, "funcargs", {}).get("chaos")
    if report.failed and isinstance(system, Chaos):
        schedule = "\n".join(system.faults) or "(no fault yet)"
        report.sections.append(
            ("chaos", f"seed {system.seed} (rerun: SIPAS_CHAOS_SEED={system.seed})\n{schedule}")
        )
    return report
