"""Fixtures shared by intake's tests: real keys, a fixed clock and record builders."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import pytest
import uvicorn
from nats.aio.client import Client
from tenacity import Retrying, stop_after_delay, wait_fixed

from sipas_contracts import subjects
from sipas_contracts.events import InvitationSent
from sipas_contracts.ids import uuid7
from sipas_contracts.units import UnitHierarchy, load_sample_hierarchy
from sipas_intake.app import create_app
from sipas_intake.domain.dossiers import Crypto, DossierRecord, PreparedDossier, prepare
from sipas_intake.domain.errors import IntakeError
from sipas_intake.settings import Settings
from sipas_runtime.privacy import KeyPair, keyed_hash, new_token, seal, unseal
from sipas_runtime.processes import free_port
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.serving import server_config
from sipas_runtime.testing import eventually, trust_session_tokens

NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture(scope="session")
def hierarchy() -> UnitHierarchy:
    return load_sample_hierarchy()


@pytest.fixture(scope="session")
def sampling_keys() -> KeyPair:
    return KeyPair.generate()


@pytest.fixture(scope="session")
def crypto(sampling_keys: KeyPair) -> Crypto:
    key = b"k" * 32
    return Crypto(
        seal=lambda contact: seal(sampling_keys.public_key, contact),
        pseudonymise=lambda identity: keyed_hash(key, identity),
        fingerprint=lambda content: keyed_hash(key, "fp:" + content),
    )


@pytest.fixture(scope="session")
def unseal_contact(sampling_keys: KeyPair) -> Callable[[str], dict[str, str]]:
    return lambda blob: unseal(sampling_keys.secret_key, blob)


def base_record(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "dossier_id": "000.00.00.H42-261120-0001",
        "unit": "UBND xã Xuân Hội",
        "procedure_code": "1.001193",
        "applicant_kind": "individual",
        "applicant_id": "042090001234",
        "submission_channel": "direct",
        "received_at": NOW - timedelta(days=2),
        "delivered_at": NOW - timedelta(hours=1),
        "contact": {"phone": "0912 345 678"},
    }
    return {**fields, **overrides}


@pytest.fixture
def make_record() -> Callable[..., DossierRecord]:
    return lambda **overrides: DossierRecord.model_validate(base_record(**overrides))


@pytest.fixture
def prepare_record(
    make_record: Callable[..., DossierRecord], hierarchy: UnitHierarchy, crypto: Crypto
) -> Callable[..., PreparedDossier]:
    def build(**overrides: Any) -> PreparedDossier:
        return prepare(make_record(**overrides), hierarchy=hierarchy, crypto=crypto, now=NOW)

    return build


def _outcome(call: Callable[[], Any]) -> Any:
    """``call()``'s result, or the field errors of the IntakeError it raised."""
    try:
        return call()
    except IntakeError as exc:
        return exc.errors


@pytest.fixture(scope="session")
def outcome() -> Callable[[Callable[[], Any]], Any]:
    return _outcome


@pytest.fixture(scope="session")
def well_formed_errors() -> Callable[[Any], bool]:
    """Whether a value is a non-empty list of complete field errors."""

    def check(value: Any) -> bool:
        return (
            isinstance(value, list)
            and bool(value)
            and all(e.get("field") and e.get("reason") and e.get("code") for e in value)
        )

    return check


# -- a real intake (in-process app) on this test's nats-server and Mongo database ---------


@dataclass
class Keys:
    token: bytes
    sampling: KeyPair
    alerts: KeyPair


@pytest.fixture(scope="session")
def keys(sampling_keys: KeyPair) -> Keys:
    return Keys(token=secrets.token_bytes(32), sampling=sampling_keys, alerts=KeyPair.generate())


def intake_settings(
    keys: Keys, nats_url: str, mongo_url: str, db_name: str, **overrides: Any
) -> Settings:
    fields: dict[str, Any] = {
        "nats_url": nats_url,
        "mongo_url": mongo_url,
        "database": db_name,
        "token_key": base64.b64encode(keys.token).decode(),
        "pseudonym_key": base64.b64encode(b"p" * 32).decode(),
        "sampling_public_key": keys.sampling.public_key,
        "alerts_public_key": keys.alerts.public_key,
        "batch_timeout": 0.01,
        "republish_after_seconds": 0.5,
    }
    return Settings(**{**fields, **overrides})


@dataclass
class Intake:
    """A running intake app, an HTTP client on it, and a NATS connection beside it."""

    app: Any
    http: httpx.AsyncClient
    nc: Client
    keys: Keys
    db: Any
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def service(self) -> Any:
        return self.app.state.service

    def collected(self, kind: str) -> list[dict[str, Any]]:
        return self.events.setdefault(kind, [])

    async def invite(self, **overrides: Any) -> tuple[str, InvitationSent]:
        """Publish an invitation-sent event and wait until intake knows its token."""
        token = new_token()
        fields: dict[str, Any] = {
            "event_id": uuid7(),
            "occurred_at": datetime.now(UTC),
            "producer": "sampling",
            "invitation_id": uuid7(),
            "campaign_id": "ht-2026",
            "unit": "ht-nx-xuan-hoi",
            "stratum": "individual",
            "channel": "sms",
            "draw_list": "continuous",
            "instrument_id": "sipas-1001-2023",
            "token_hash": keyed_hash(self.keys.token, token),
            "expires_at": datetime.now(UTC) + timedelta(days=7),
        }
        invitation = InvitationSent(**{**fields, **overrides})
        await self.nc.jetstream().publish(
            subjects.invitation_sent(invitation.unit),
            encode(invitation),
            headers=event_headers(invitation),
        )
        await eventually(lambda: self._known(invitation.token_hash))
        return token, invitation

    async def _known(self, token_hash: str) -> bool:
        return await self.db["tokens"].find_one({"_id": token_hash}) is not None

    async def stream(self, name: str) -> list[Any]:
        js = self.nc.jetstream()
        info = await js.stream_info(name)
        first = info.state.first_seq
        return (
            [await js.get_msg(name, seq) for seq in range(first, info.state.last_seq + 1)]
            if info.state.messages
            else []
        )

    def metric(self, name: str, **labels: str) -> float:
        registry = self.service.runtime.registry
        return registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def eventually_fn() -> Callable[..., Any]:
    return eventually


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to configure the intake under test."""
    return {}


@pytest.fixture
async def intake(
    *,
    keys: Keys,
    nats_url: str,
    mongo_url: str,
    db_name: str,
    nc: Client,
    mongo: Any,
    settings_overrides: dict[str, Any],
) -> AsyncIterator[Intake]:
    app = create_app(intake_settings(keys, nats_url, mongo_url, db_name, **settings_overrides))
    await trust_session_tokens(nc)  # the `bearer(...)` headers of the tests verify
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8081") as http:
            harness = Intake(app, http, nc, keys, mongo[db_name])

            async def collect(msg: Any) -> None:
                kind = ".".join(msg.subject.split(".")[1:3])
                harness.collected(kind).append(json.loads(msg.data))

            await nc.subscribe("sipas.dossier.completed.>", cb=collect)
            await nc.subscribe("sipas.response.recorded.>", cb=collect)
            yield harness
    await mongo.drop_database(db_name)


async def _trust(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        await trust_session_tokens(nc)
    finally:
        await nc.close()


@dataclass
class Served:
    """Intake served over real HTTP by uvicorn in a thread (for sync clients and the CLI)."""

    url: str
    app: Any
    settings: Settings


@pytest.fixture
def served_intake(
    keys: Keys, nats_url: str, mongo_url: str, db_name: str, settings_overrides: dict[str, Any]
) -> Iterator[Served]:
    port = free_port()
    settings = intake_settings(
        keys,
        nats_url,
        mongo_url,
        db_name,
        survey_base_url=f"http://127.0.0.1:{port}",
        **settings_overrides,
    )
    app = create_app(settings)
    asyncio.run(_trust(nats_url))
    server = uvicorn.Server(server_config(app, settings.model_copy(update={"http_port": port})))
    thread = threading.Thread(target=server.run, name="intake-under-test", daemon=True)
    thread.start()
    for attempt in Retrying(stop=stop_after_delay(30), wait=wait_fixed(0.05), reraise=True):
        with attempt:
            assert server.started
    try:
        yield Served(f"http://127.0.0.1:{port}", app, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def offline_settings(keys: Keys) -> Callable[..., Settings]:
    """Settings for checks that never connect (servers are unreachable addresses)."""
    return lambda **overrides: intake_settings(
        keys, "nats://127.0.0.1:1", "mongodb://127.0.0.1:1", "offline", **overrides
    )
