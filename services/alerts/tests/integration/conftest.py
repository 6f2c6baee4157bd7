"""The alerts service in-process against a real nats-server and Mongo-wire server.

The clock is injected (tests move it forward to pass SLA deadlines); periodic jobs are
set far apart so tests run them explicitly. E-mail goes to a real SMTP server (aiosmtpd)
and webhooks to a real local HTTP server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller
from nats.aio.client import Client

from sipas_alerts.app import AlertsService, create_app
from sipas_alerts.settings import Settings
from sipas_contracts import subjects
from sipas_contracts.events import Event
from sipas_runtime.channels import SmtpChannel, SmtpSettings, WebhookChannel
from sipas_runtime.identity.tokens import SigningKey
from sipas_runtime.privacy import KeyPair
from sipas_runtime.processes import free_port
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.testing import Identities, eventually, person_token

START = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)  # Monday 09:00 in Hà Tĩnh
WEBHOOK_SECRET = b"w" * 32
PEOPLE = {
    "handler-co-dam": ("handler", "ht-nx-co-dam"),
    "handler-xuan-hoi": ("handler", "ht-nx-xuan-hoi"),
    "snv": ("supervisor", "ht"),
    "mttq": ("observer", "ht"),
    "alertmanager": ("alertmanager", "ht"),
}
SIGNING = SigningKey.generate(kid="test-alerts")
ALERT_KEYS = KeyPair.generate()


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Inbox:
    """An SMTP handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        self.messages.append(envelope)
        return "250 OK"


class Hooks(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hooks.received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def webhook() -> Iterator[str]:
    Hooks.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sipas"
    server.shutdown()


def write_policy(path: Path, webhook_url: str) -> Path:
    policy = {
        "sla": {"escalate_acknowledge_to": ["snv"], "escalate_resolve_to": ["snv", "vp-ubnd"]},
        "routing": {
            "units": {
                "ht-nx-co-dam": [
                    {"channel": "email", "address": "motcua.codam@example.gov.vn"},
                    {"channel": "webhook", "address": webhook_url},
                ]
            },
            "default": [{"channel": "email", "address": "vanthu@example.gov.vn"}],
            "agencies": {
                "snv": {
                    "name_vi": "Sở Nội vụ",
                    "contacts": [{"channel": "email", "address": "snv@example.gov.vn"}],
                },
                "vp-ubnd": {"name_vi": "Văn phòng UBND tỉnh", "contacts": []},
            },
            "operators": [{"channel": "email", "address": "ops@example.gov.vn"}],
        },
    }
    path.write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    return path


class Harness:
    """The running service, its clock, an HTTP client and what was published."""

    public_key = ALERT_KEYS.public_key

    def __init__(
        self,
        service: AlertsService,
        clock: Clock,
        http: httpx.AsyncClient,
        nc: Client,
        inbox: Inbox,
    ) -> None:
        self.service = service
        self.clock = clock
        self.http = http
        self.nc = nc
        self.inbox = inbox
        self.published: dict[str, list[dict[str, Any]]] = {}

    @property
    def webhooks(self) -> list[tuple[dict[str, str], bytes]]:
        return Hooks.received

    async def publish(self, event: Event, *, msg_id: str | None = None) -> None:
        headers = event_headers(event)
        if msg_id:
            headers["Nats-Msg-Id"] = msg_id
        js = self.nc.jetstream()
        await js.publish(subjects.for_event(event), encode(event), headers=headers)

    eventually = staticmethod(eventually)

    def auth(self, name: str) -> dict[str, str]:
        role, unit = PEOPLE[name]
        token = person_token(SIGNING, role, units=[unit], subject=name, name=name)
        return {"Authorization": f"Bearer {token}"}

    async def get(self, path: str, who: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, headers=self.auth(who), params=params)

    async def post(self, path: str, who: str, body: dict[str, Any]) -> httpx.Response:
        return await self.http.post(path, headers=self.auth(who), json=body)

    def events(self, kind: str) -> list[dict[str, Any]]:
        return self.published.get(kind, [])


@pytest.fixture
def settings(nats_url, mongo_url, db_name, tmp_path, webhook) -> Settings:
    return Settings(
        nats_url=nats_url,
        mongo_url=mongo_url,
        database=db_name,
        batch_timeout=0.01,
        policy_file=write_policy(tmp_path / "policy.yaml", webhook),
        secret_key=ALERT_KEYS.secret_key,
        console_url="https://bangdieukhien.example.gov.vn",
        sla_interval=3600,
        notify_interval=3600,
        relay_interval=3600,
        activity_interval=3600,
        housekeeping_interval=3600,
    )


@pytest.fixture
async def harness(settings, smtp, nc) -> AsyncIterator[Harness]:
    inbox, smtp_port = smtp
    clock = Clock()
    channels = {
        "email": SmtpChannel(
            SmtpSettings(
                host="127.0.0.1",
                port=smtp_port,
                starttls=False,
                sender="canhbao@snv.example.gov.vn",
            )
        ),
        "webhook": WebhookChannel(secret=WEBHOOK_SECRET),
    }
    app = create_app(settings, clock=clock, channels=channels)
    service: AlertsService = app.state.service
    await Identities.on(nc, SIGNING)  # the people of PEOPLE can sign in
    await service.runtime.start()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://alerts") as http:
        harness = Harness(service, clock, http, nc, inbox)

        async def collect(msg: Any) -> None:
            kind = ".".join(msg.subject.split(".")[1:3])
            harness.published.setdefault(kind, []).append(json.loads(msg.data))

        subscription = await nc.subscribe("sipas.alert.>", cb=collect)
        await nc.subscribe("sipas.case.>", cb=collect)
        try:
            yield harness
        finally:
            await subscription.unsubscribe()
            await service.runtime.stop()
