"""The sampling service in-process on a real nats-server and Mongo-wire server, plus local
servers playing the SMS / Zalo gateways (HTTP) and a mail server (SMTP)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller
from nats.aio.client import Client

from sipas_contracts import streams, subjects
from sipas_contracts.events import (
    CampaignPlanned,
    DossierCompleted,
    Event,
    InvitationSent,
    any_event_adapter,
)
from sipas_contracts.ids import uuid7
from sipas_runtime.identity.tokens import SigningKey
from sipas_runtime.privacy import KeyPair, seal
from sipas_runtime.processes import free_port
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.testing import Identities, eventually, person_token
from sipas_sampling.app import SamplingService, create_app
from sipas_sampling.settings import Settings

PAIR = KeyPair.generate()
TOKEN_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
SIGNING = SigningKey.generate(kid="test-sampling")


def auth(role: str, units: tuple[str, ...] = ("ht",)) -> dict[str, str]:
    return {"Authorization": f"Bearer {person_token(SIGNING, role, units=units)}"}


def completed(
    number: int,
    unit: str,
    *,
    delivered_at: datetime,
    kind: str = "individual",
    contact: dict[str, str] | None = None,
    applicant: str | None = None,
    **fields: Any,
) -> DossierCompleted:
    contact = (
        {"phone": f"09{number:08d}", "name": f"Người dân {number}"} if contact is None else contact
    )
    channels = []
    if contact.get("phone"):
        channels += ["sms", "zalo"]
    if contact.get("email"):
        channels.append("email")
    values: dict[str, Any] = {
        "event_id": uuid7(),
        "occurred_at": delivered_at,
        "producer": "intake",
        "dossier_id": f"000.00.00.H42-{unit[-12:]}-{number:06d}",
        "unit": unit,
        "procedure_code": "1.001193",
        "procedure_field": "Tư pháp - Hộ tịch",
        "applicant_kind": kind,
        "applicant_pseudonym": hashlib.sha256(
            (applicant or f"{unit}:{number}").encode()
        ).hexdigest(),
        "submission_channel": "direct",
        "result_delivery": "counter",
        "resident_in_province": True,
        "received_at": delivered_at - timedelta(days=3),
        "delivered_at": delivered_at,
        "contact_channels": channels,
        "sealed_contact": seal(PAIR.public_key, contact) if contact else None,
        "handling_officer": "Trần Thị C",
    }
    return DossierCompleted(**{**values, **fields})


def quota_campaign(path: Any, campaign_id: str, seed: str, name: str = "Thử hạn ngạch") -> str:
    """A campaign file: continuous, one day (2026-01-01), 12 + 8 forms per unit of ht."""
    path.write_text(
        yaml.safe_dump(
            {
                "id": campaign_id,
                "name_vi": name,
                "instrument_id": "sipas-1001-2023",
                "mode": "continuous",
                "seed": seed,
                "window": {"start": "2026-01-01", "end": "2026-01-01"},
                "scope": {"under": "ht"},
                "allocation": {"fixed_per_unit": {"individual": 12, "organisation": 8}},
                "channels": ["sms"],
            }
        )
    )
    return str(path)


class Harness:
    def __init__(self, app: Any, nc: Client) -> None:
        self.app = app
        self.sampling: SamplingService = app.state.service
        self.nc = nc
        self.js = nc.jetstream()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sampling", timeout=60
        )
        self.sent: list[InvitationSent] = []
        self.planned: list[CampaignPlanned] = []

    async def stream_events(self, subject: str) -> list[Any]:
        """The events the invitations stream stored on ``subject`` (each once), in order."""
        sub = await self.js.subscribe(subject, ordered_consumer=True)
        try:
            info = await self.js.stream_info(streams.INVITATIONS.name, subjects_filter=subject)
            count = sum((info.state.subjects or {}).values())
            return [
                any_event_adapter.validate_json((await sub.next_msg(timeout=5)).data)
                for _ in range(count)
            ]
        finally:
            await sub.unsubscribe()

    async def start(self) -> Harness:
        async def collect(msg: Any) -> None:
            self.sent.append(InvitationSent.model_validate_json(msg.data))

        async def collect_plan(msg: Any) -> None:
            self.planned.append(CampaignPlanned.model_validate_json(msg.data))

        await self.nc.subscribe(subjects.INVITATIONS_SENT, cb=collect)
        await self.nc.subscribe(subjects.CAMPAIGNS_PLANNED, cb=collect_plan)
        await Identities.on(self.nc, SIGNING)  # tokens of ``auth`` verify from now on
        await self.sampling.runtime.start()
        return self

    @property
    def db(self) -> Any:
        return self.sampling.runtime.db

    async def publish(self, events: list[Event], window: int = 256) -> None:
        for start in range(0, len(events), window):
            futures = [
                await self.js.publish_async(
                    subjects.for_event(e), encode(e), headers=event_headers(e)
                )
                for e in events[start : start + window]
            ]
            await asyncio.gather(*futures)

    async def eventually(self, check: Callable[[], Any], seconds: float = 60) -> None:
        await eventually(check, seconds, interval=0.1)

    async def decided(self, campaign: str) -> int:
        return len(await self.sampling.stores.decisions.decisions(campaign))


@pytest.fixture
async def harness(
    nats_url: str, mongo_url: str, db_name: str, nc: Client
) -> AsyncIterator[Callable[..., Any]]:
    started: list[Harness] = []

    async def make(**overrides: Any) -> Harness:
        values: dict[str, Any] = {
            "nats_url": nats_url,
            "mongo_url": mongo_url,
            "database": db_name,
            "token_key": TOKEN_KEY,
            "secret_key": PAIR.secret_key,
            "dev_outbox": True,
            "batch_timeout": 0.01,
            "dispatch_interval": 0.05,
            "maintenance_interval": 3600,
            "survey_base_url": "https://ks.example.gov.vn",
        }
        harness = Harness(create_app(Settings(**{**values, **overrides})), nc)
        started.append(harness)
        return await harness.start()

    yield make
    for harness in started:
        await harness.http.aclose()
        if harness.sampling.runtime.ready:
            await harness.sampling.runtime.stop()


Answer = Callable[[str, dict[str, Any]], dict[str, Any]]


def default_answer(path: str, body: dict[str, Any]) -> dict[str, Any]:
    if "access_token" in path:
        return {"access_token": "AT-new", "refresh_token": "RT-new", "expires_in": "90000"}
    if "SendMultiple" in path:
        return {"CodeResult": "100", "SMSID": f"sms-{body.get('RequestId')}"}
    return {"error": 0, "message": "Success", "data": {"msg_id": f"z-{body.get('tracking_id')}"}}


@contextmanager
def http_gateway(answer: Answer = default_answer) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Serve ``answer(path, body)`` as JSON; yields the base URL and the request log."""
    requests: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.loads(raw) if raw.startswith(b"{") else {}
            requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            data = json.dumps(answer(self.path, body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        self.messages.append(envelope)
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


@pytest.fixture
def tools() -> Any:
    """Helpers the tests share (builders, auth headers, gateway servers)."""

    class Tools:
        completed = staticmethod(completed)
        quota_campaign = staticmethod(quota_campaign)
        auth = staticmethod(auth)
        http_gateway = staticmethod(http_gateway)
        smtp_server = staticmethod(smtp_server)
        default_answer = staticmethod(default_answer)
        key_pair = PAIR
        token_key = TOKEN_KEY

    return Tools
