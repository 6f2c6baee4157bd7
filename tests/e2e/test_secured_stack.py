"""The whole system runs with one restricted NATS user per service (deploy/nats/accounts.conf):
a TTHC system publishes as `tthc`, a downstream consumer reads indices as `downstream`."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats
import pytest
from pymongo import AsyncMongoClient
from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

from sipas_runtime.embedded import EmbeddedNats
from sipas_runtime.nats_access import INTAKE_RAW_SOURCES, SERVICES, inbox_prefix, password_variable
from sipas_runtime.stack import Stack
from sipas_runtime.testing import post_dossier

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.mongo]
ROOT = Path(__file__).resolve().parents[2]
USERS = (*SERVICES, "tthc", "downstream", "admin", "system")
PASSWORDS = {user: f"secret-{user}-{os.getpid()}" for user in USERS}
PHONE, EMAIL, NAME, ID_NUMBER = (
    "0912345678",
    "canary.e2e@example.vn",
    "Lê Văn Canary",
    "042088776655",
)
SECOND_PHONE = "0987 654 321"
COMMENT = f"Cán bộ {NAME} hẹn gọi lại {SECOND_PHONE}, thư {EMAIL}"
CANARIES = (PHONE, "912345678", EMAIL, NAME, "canary", ID_NUMBER, SECOND_PHONE, "987654321")
# The development outbox keeps recipients in clear by design (refused in production).
CLEAR_BY_DESIGN = {("sampling", "outbox")}


def readable(data: bytes) -> str:
    """A message body as text, JSON's escaped Vietnamese letters included."""
    try:
        return json.dumps(json.loads(data), ensure_ascii=False)
    except ValueError:
        return data.decode(errors="replace")


def leaks(text: str) -> list[str]:
    return [c for c in CANARIES if c.casefold() in text.casefold()]


async def stream_leaks(nc: nats.aio.client.Client) -> dict[str, list[str]]:
    """Canaries found in any message (body or headers) of any stream."""
    js = nc.jetstream()
    found: dict[str, list[str]] = {}
    for info in await js.streams_info():
        for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
            try:
                message = await js.get_msg(info.config.name, seq)
            except nats.js.errors.NotFoundError:
                continue
            if (
                info.config.name == "SIPAS_RAW_DOSSIERS"
                and message.subject not in INTAKE_RAW_SOURCES
            ):
                continue  # as the TTHC system sent it: kept 7 days, encrypted at rest
            text = readable(message.data or b"") + str(message.headers)
            if hits := leaks(text):
                found[f"{info.config.name}#{seq}"] = hits
    return found


async def database_leaks(mongo_url: str, credentials: dict[str, str]) -> dict[str, list[str]]:
    """Canaries found in any document of any service's database."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url)
    found: dict[str, list[str]] = {}
    try:
        for service in SERVICES:
            db = client[credentials[f"SIPAS_{service.upper()}_DATABASE"]]
            for name in await db.list_collection_names():
                if (service, name) in CLEAR_BY_DESIGN:
                    continue
                documents = [d async for d in db[name].find()]
                if hits := leaks(json.dumps(documents, default=str, ensure_ascii=False)):
                    found[f"{service}.{name}"] = hits
    finally:
        await client.close()
    return found


async def test_services_work_end_to_end_with_least_privilege_users(mongo_url, tmp_path):
    server = EmbeddedNats(
        tmp_path / "nats",
        accounts=ROOT / "deploy" / "nats" / "accounts.conf",
        env={password_variable(u): pw for u, pw in PASSWORDS.items()},
    )
    url = server.start()
    credentials = {
        f"SIPAS_{s.upper()}_{key}": value
        for s in SERVICES
        for key, value in (
            ("NATS_USER", s),
            ("NATS_PASSWORD", PASSWORDS[s]),
            ("DATABASE", f"sec_{s}_{os.getpid()}"),
        )
    }
    stack = Stack(
        tmp_path / "stack",
        ports={},
        nats_url=url,
        mongo_url=mongo_url,
        extra_env={
            **credentials,
            "SIPAS_NATS_ADMIN_USER": "admin",  # publishes the stack's development keys
            "SIPAS_NATS_ADMIN_PASSWORD": PASSWORDS["admin"],
            "SIPAS_SAMPLING_DEV_OUTBOX": "true",
            "SIPAS_SAMPLING_SAMPLING_RATE": "1.0",
            "SIPAS_SCORING_N_MIN": "1",
        },
    )
    tthc = downstream = None
    try:
        stack.start()
        tthc = await nats.connect(
            url, user="tthc", password=PASSWORDS["tthc"], inbox_prefix=inbox_prefix("tthc")
        )
        downstream = await nats.connect(
            url,
            user="downstream",
            password=PASSWORDS["downstream"],
            inbox_prefix=inbox_prefix("downstream"),
        )
        indices: list[dict[str, object]] = []

        async def on_index(msg: object) -> None:
            indices.append(json.loads(msg.data))  # type: ignore[attr-defined]

        await downstream.subscribe("sipas.index.updated.>", cb=on_index)
        now = datetime.now(UTC)
        record = {
            "dossier_id": "000.00.00.H42-261120-9001",
            "unit": "Xã Cổ Đạm",
            "procedure_code": "1.001193",
            "applicant_kind": "individual",
            "submission_channel": "direct",
            "received_at": (now - timedelta(days=1)).isoformat(),
            "delivered_at": (now - timedelta(minutes=1)).isoformat(),
            "applicant_id": ID_NUMBER,
            "contact": {"phone": PHONE, "email": EMAIL, "name": NAME},
        }
        await tthc.jetstream().publish("sipas.raw.dossier.one-stop", json.dumps(record).encode())

        async with httpx.AsyncClient(timeout=10) as http:
            async for attempt in AsyncRetrying(
                stop=stop_after_delay(30), wait=wait_fixed(0.2), reraise=True
            ):
                with attempt:
                    outbox = (await http.get(f"{stack.url('sampling')}/dev/outbox")).json()
                    assert len(outbox) == 1
            token = outbox[0]["link"].rsplit("/", 1)[-1]
            async for attempt in AsyncRetrying(
                stop=stop_after_delay(30), wait=wait_fixed(0.2), reraise=True
            ):
                with attempt:
                    answer = await http.post(
                        f"{stack.url('intake')}/v1/responses",
                        json={"token": token, "answers": {"HL.DV.E1.1": 5}, "comment": COMMENT},
                    )
                    assert answer.status_code == 201, answer.text

        async for attempt in AsyncRetrying(
            stop=stop_after_delay(30), wait=wait_fixed(0.2), reraise=True
        ):
            with attempt:
                assert {"ht-nx-co-dam", "ht"} <= {i["unit"] for i in indices}  # unit and roll-up
        # The webhook queues records on intake's own raw source: allowed for intake only.
        webhook_record = {**record, "dossier_id": "000.00.00.H42-261120-9002"}
        feed = {"Authorization": f"Bearer {stack.dev_keys['tthc']}"}
        async with httpx.AsyncClient(timeout=10) as http:
            posted = await post_dossier(
                http, f"{stack.url('intake')}/v1/dossiers", webhook_record, feed
            )
            assert posted.status_code == 202, posted.text
            async for attempt in AsyncRetrying(
                stop=stop_after_delay(30), wait=wait_fixed(0.2), reraise=True
            ):
                with attempt:
                    known = await http.get(
                        f"{stack.url('intake')}/v1/dossiers/{webhook_record['dossier_id']}",
                        headers=feed,
                    )
                    assert known.status_code == 200, known.text
        for service in SERVICES:
            log = stack.log_path(service).read_text()
            assert "permissions violation" not in log.lower(), f"{service}: {log[-1500:]}"
            assert leaks(log) == [], f"{service}'s log"
        # Personal data only sealed: in no stream (dead letters included) and no database.
        admin = await nats.connect(url, user="admin", password=PASSWORDS["admin"])
        try:
            assert await stream_leaks(admin) == {}
        finally:
            await admin.close()
        assert await database_leaks(mongo_url, credentials) == {}
    finally:
        for client in (tthc, downstream):
            if client is not None:
                await client.close()
        stack.stop()
        server.stop()
