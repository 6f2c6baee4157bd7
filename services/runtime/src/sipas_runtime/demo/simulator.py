"""A simulated province for the demo: a TTHC information system and its respondents.

It talks to SIPAS only the way the real world does: the TTHC system publishes raw dossier
records on its NATS subject or POSTs them to intake's webhook; respondents read their
invitation (from the development outbox, standing in for their phone) and submit answers
to intake with the token. Each commune has its own service quality, so indices differ.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from nats.js import JetStreamContext

from sipas_contracts import subjects
from sipas_contracts.instrument import Catalogue

PROCEDURES = (
    ("1.001193", "Đăng ký khai sinh", "Hộ tịch"),
    ("1.000894", "Chứng thực bản sao từ bản chính", "Chứng thực"),
    ("1.003583", "Đăng ký kết hôn", "Hộ tịch"),
    ("2.000908", "Xác nhận hộ gia đình làm nông nghiệp", "Lao động - Thương binh và Xã hội"),
    ("1.004227", "Đăng ký biến động đất đai", "Tài nguyên và Môi trường"),
)
COMMENTS_GOOD = ("Cán bộ hướng dẫn nhiệt tình, chu đáo.", "Thủ tục nhanh gọn.", "Rất hài lòng.")
COMMENTS_BAD = (
    "Phải đi lại nhiều lần, chờ đợi lâu.",
    "Cán bộ thái độ chưa tốt.",
    "Trả kết quả trễ hẹn.",
)
ORGANISATION_SHARE = 0.4


@dataclass
class Commune:
    """A simulated commune: its code, name, workload and how well it serves people."""

    code: str
    name: str
    weight: float
    quality: float


@dataclass
class Tally:
    """What the simulator did (the board shows what the system did)."""

    sent: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    answered: int = 0
    declined: int = 0
    errors: Counter[str] = field(default_factory=Counter)


def _phone(rng: random.Random) -> str:
    prefix = rng.choice(("090", "091", "097", "098", "086", "088", "032", "035", "070", "083"))
    return f"{prefix}{rng.randrange(10**7):07d}"


class TthcSystem:
    """Publishes one completed dossier at a time, alternating NATS and the HTTP webhook."""

    def __init__(
        self,
        *,
        communes: list[Commune],
        js: JetStreamContext,
        http: httpx.AsyncClient,
        intake_url: str,
        api_key: str,
        rng: random.Random,
        tally: Tally,
    ) -> None:
        self._communes = communes
        self._js = js
        self._http = http
        self._intake_url = intake_url
        self._api_key = api_key
        self._rng = rng
        self._tally = tally
        self._sequence = 0

    def record(self) -> dict[str, object]:
        """A realistic completed dossier for a randomly chosen commune."""
        rng = self._rng
        commune = rng.choices(self._communes, weights=[c.weight for c in self._communes])[0]
        self._sequence += 1
        now = datetime.now(UTC)
        received = now - timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 8))
        code, name, field_name = rng.choice(PROCEDURES)
        kind = "organisation" if rng.random() < ORGANISATION_SHARE else "individual"
        contact: dict[str, str] = {"phone": _phone(rng)}
        if rng.random() < 0.3:  # noqa: PLR2004
            contact["email"] = f"nguoidan{self._sequence}@example.vn"
        return {
            "dossier_id": f"000.00.00.H42-{now:%y%m%d}-{self._sequence:05d}",
            "unit": commune.name,
            "procedure_code": code,
            "procedure_name": name,
            "procedure_field": field_name,
            "applicant_kind": kind,
            "applicant_id": f"{rng.randrange(10**12):012d}",
            "submission_channel": "direct",
            "result_delivery": "counter",
            "received_at": received.isoformat(),
            "due_at": (received + timedelta(days=5)).isoformat(),
            "delivered_at": (now - timedelta(seconds=1)).isoformat(),
            "contact": contact,
        }

    async def send_one(self) -> None:
        """Deliver one record over NATS (odd) or the webhook (even)."""
        record = self.record()
        try:
            if self._sequence % 2:
                await self._js.publish(subjects.raw_dossier("demo"), json.dumps(record).encode())
                self._tally.sent["nats"] += 1
            else:
                response = await self._http.post(
                    f"{self._intake_url}/v1/dossiers",
                    json=record,
                    headers={"Authorization": f"Bearer {self._api_key}"},
                )
                if response.status_code == 202:  # noqa: PLR2004
                    self._tally.sent["http"] += 1
                else:
                    self._tally.rejected += 1
        except (httpx.HTTPError, TimeoutError) as exc:
            self._tally.errors[type(exc).__name__] += 1

    async def run(self, rate: float, stop: asyncio.Event) -> None:
        """Send ``rate`` dossiers per second until ``stop`` is set."""
        interval = 1.0 / rate
        while not stop.is_set():
            await self.send_one()
            await asyncio.sleep(interval * self._rng.uniform(0.5, 1.5))


def answer_form(
    catalogue: Catalogue, quality: float, rng: random.Random, profile: str = "tthc_user"
) -> tuple[dict[str, int | str], str | None]:
    """One respondent's answers to the form of a unit of the given quality, and a comment.

    With probability ``quality`` an item gets one of the scale's two highest levels, else
    one of the others; a few items are "not applicable".
    """
    out: dict[str, int | str] = {}
    for item_id in catalogue.form(profile).items:
        if rng.random() < 0.03:  # noqa: PLR2004
            out[item_id] = "na"
            continue
        codes = sorted(catalogue.scales[catalogue.items[item_id].scale].values)
        good = rng.random() < quality
        out[item_id] = (
            rng.choice(codes[-2:]) if good else rng.choice(codes[: max(1, len(codes) - 2)])
        )
    comment = None
    if rng.random() < 0.15:  # noqa: PLR2004
        comment = rng.choice(COMMENTS_GOOD if quality > 0.75 else COMMENTS_BAD)  # noqa: PLR2004
    return out, comment


class Respondents:
    """People who read their invitation and (mostly) answer it."""

    def __init__(
        self,
        *,
        communes: dict[str, Commune],
        catalogue: Catalogue,
        http: httpx.AsyncClient,
        intake_url: str,
        sampling_url: str,
        rng: random.Random,
        tally: Tally,
        answer_probability: float = 0.8,
    ) -> None:
        self._communes = communes
        self._catalogue = catalogue
        self._http = http
        self._intake_url = intake_url
        self._sampling_url = sampling_url
        self._rng = rng
        self._tally = tally
        self._p = answer_probability
        self._after: str | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def answers(self, quality: float) -> tuple[dict[str, int | str], str | None]:
        """Answers of one respondent to a commune of the given quality."""
        return answer_form(self._catalogue, quality, self._rng)

    async def poll(self) -> None:
        """Read new invitations and schedule the answers."""
        params = {"after": self._after} if self._after else {}
        response = await self._http.get(f"{self._sampling_url}/dev/outbox", params=params)
        response.raise_for_status()
        for message in response.json():
            self._after = message["created_at"]
            if self._rng.random() >= self._p:
                self._tally.declined += 1
                continue
            delay = self._rng.uniform(0.2, 2.0)
            task = asyncio.create_task(self._answer(message, delay))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _answer(self, message: dict[str, str], delay: float) -> None:
        await asyncio.sleep(delay)
        token = message["link"].rsplit("/", 1)[-1]
        commune = self._communes[message["unit"]]
        answers, comment = self.answers(commune.quality)
        body = {"token": token, "answers": answers, "comment": comment}
        try:
            response = await self._http.post(f"{self._intake_url}/v1/responses", json=body)
            for _ in range(5):  # the link can reach a phone before intake knows its token
                if response.status_code != 404:  # noqa: PLR2004
                    break
                await asyncio.sleep(1.0)
                response = await self._http.post(f"{self._intake_url}/v1/responses", json=body)
        except httpx.HTTPError as exc:
            self._tally.errors[type(exc).__name__] += 1
            return
        if response.status_code == 201:  # noqa: PLR2004
            self._tally.answered += 1
        else:
            self._tally.errors[f"http {response.status_code}"] += 1

    async def run(self, stop: asyncio.Event) -> None:
        """Poll the outbox until ``stop`` is set, then let scheduled answers finish."""
        while not stop.is_set():
            try:
                await self.poll()
            except httpx.HTTPError as exc:
                self._tally.errors[type(exc).__name__] += 1
            await asyncio.sleep(0.5)
        if self._pending:
            await asyncio.wait(self._pending, timeout=5)
