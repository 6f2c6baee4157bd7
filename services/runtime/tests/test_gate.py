"""The identity gate in front of a real service app: tokens, keys, scopes, two instances.

Two instances of one app (two ServiceRuntimes, as two processes would be) watch the same
identity bucket on a real nats-server; a key made or revoked at run time takes effect on
both within 5 s, without a restart.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from sipas_runtime.identity import PUBLIC, Caller, RouteTable, allow
from sipas_runtime.service import ServiceRuntime
from sipas_runtime.settings import ServiceSettings
from sipas_runtime.testing import Identities, eventually

pytestmark = [pytest.mark.nats, pytest.mark.mongo]

router = APIRouter()


@router.get("/v1/open")
async def open_route() -> dict[str, str]:
    return {"status": "open"}


@router.get("/v1/units/{unit}/cases")
async def unit_cases(unit: str, caller: Caller) -> dict[str, str]:
    return {"unit": unit, "who": caller.subject}


@router.post("/v1/keys-only")
async def keys_only(caller: Caller) -> dict[str, str]:
    return {"who": caller.name}


PERMISSIONS = RouteTable(
    "probe",
    {
        ("GET", "/v1/open"): PUBLIC,
        ("GET", "/v1/units/{unit}/cases"): allow("cases.read", unit="unit"),
        ("POST", "/v1/keys-only"): allow("dossiers.submit"),
    },
)


class ProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "probe"


@pytest.fixture
async def instances(nats_url, mongo_url, db_name, ids) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two instances, started after the test's signing key is published (they load it)."""
    settings = ProbeSettings(nats_url=nats_url, mongo_url=mongo_url, database=db_name)
    runtimes = [ServiceRuntime(settings, title="probe") for _ in range(2)]
    apps: list[FastAPI] = [
        rt.create_app(routers=[router], permissions=PERMISSIONS) for rt in runtimes
    ]
    clients = []
    for runtime, app in zip(runtimes, apps, strict=True):
        await runtime.start()
        clients.append(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe")
        )
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()
        for runtime in runtimes:
            await runtime.stop()


@pytest.fixture
async def ids(nats_url) -> AsyncIterator[Identities]:
    async with await Identities.open(nats_url) as identities:
        yield identities


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


async def test_public_routes_need_nothing_and_others_need_a_credential(instances, ids):
    http = instances[0]

    assert (await http.get("/v1/open")).status_code == 200
    assert (await http.get("/healthz")).status_code == 200
    anonymous = await http.get("/v1/units/ht-nx-co-dam/cases")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="sipas"'
    assert anonymous.headers["content-type"] == "application/problem+json"
    garbage = await http.get("/v1/units/ht-nx-co-dam/cases", headers=bearer("not-a-token"))
    assert garbage.status_code == 401
    assert 'error="invalid_token"' in garbage.headers["www-authenticate"]


async def test_roles_and_unit_scope_decide_between_200_and_403(instances, ids):
    http = instances[0]
    handler = ids.headers("handler", units=["ht-nx-co-dam"])

    own = await http.get("/v1/units/ht-nx-co-dam/cases", headers=handler)
    other = await http.get("/v1/units/ht-nx-xuan-hoi/cases", headers=handler)
    province = await http.get("/v1/units/ht-nx-xuan-hoi/cases", headers=ids.headers("supervisor"))
    enumerator = await http.get("/v1/units/ht-nx-co-dam/cases", headers=ids.headers("enumerator"))

    assert own.status_code == 200
    assert own.json() == {"unit": "ht-nx-co-dam", "who": "test-handler"}
    assert other.status_code == 403
    assert other.json()["type"] == "urn:sipas:problem:out-of-scope"
    assert province.status_code == 200
    assert enumerator.status_code == 403


async def test_an_expired_token_is_refused(instances, ids):
    stale = ids.token("supervisor", now=datetime.now(UTC) - timedelta(minutes=11))

    answer = await instances[0].get("/v1/units/ht/cases", headers=bearer(stale))

    assert answer.status_code == 401


async def test_a_key_works_on_every_instance_within_5_s_and_stops_within_5_s(instances, ids):
    made = time.monotonic()
    key = await ids.key("tthc-feed", name="Một cửa Nghi Xuân")

    for http in instances:
        await eventually(lambda http=http: _answers(http, key, 200), seconds=5, interval=0.02)
    working = time.monotonic() - made
    revoked = time.monotonic()
    await ids.revoke(key)
    for http in instances:
        await eventually(lambda http=http: _answers(http, key, 401), seconds=5, interval=0.02)
    stopped = time.monotonic() - revoked

    assert working < 5
    assert stopped < 5
    reader = await ids.key("reader", units=["ht"])
    await eventually(lambda: _answers(instances[0], reader, 403), seconds=5, interval=0.02)


async def _answers(http: httpx.AsyncClient, key: str, status: int) -> bool:
    answer = await http.post("/v1/keys-only", headers=bearer(key))
    return answer.status_code == status
