"""Fixtures shared by every test package: real NATS and Mongo-wire servers.

Infrastructure is resolved once per session (env URLs -> testcontainers -> embedded; see
``sipas_runtime.infra``). Each test gets its own Mongo database and, where it needs the
fixed SIPAS stream names, its own nats-server, so tests never see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from pymongo import AsyncMongoClient

from sipas_runtime.embedded import EmbeddedNats
from sipas_runtime.infra import Infrastructure, provide
from sipas_runtime.stack import Stack


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infrastructure]:
    with provide(tmp_path_factory.mktemp("infra")) as infrastructure:
        yield infrastructure


@pytest.fixture(scope="session")
def mongo_url(infra: Infrastructure) -> str:
    return infra.mongo_url


@pytest.fixture
def nats_url(infra: Infrastructure, tmp_path: Path) -> Iterator[str]:
    """A nats-server for this test alone (the shared one when SIPAS_NATS_URL is set)."""
    if infra.source != "embedded":
        yield infra.nats_url
        return
    server = EmbeddedNats(tmp_path / "nats")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def db_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def mongo(mongo_url: str) -> AsyncIterator[AsyncMongoClient[dict[str, object]]]:
    """A client on this test's event loop (AsyncMongoClient must not cross loops)."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        mongo_url, tz_aware=True, uuidRepresentation="standard"
    )
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def stack_factory(nats_url: str, mongo_url: str, tmp_path: Path) -> Iterator[object]:
    """Start the services as processes against this test's servers; stopped afterwards."""
    started: list[Stack] = []
    prefix = f"e{uuid.uuid4().hex[:8]}"

    def make(
        extra_env: dict[str, str] | None = None, services: tuple[str, ...] | None = None
    ) -> Stack:
        env = {
            f"SIPAS_{s.upper()}_DATABASE": f"{prefix}_{s}"
            for s in ("intake", "sampling", "scoring", "alerts", "console")
        }
        stack = Stack(
            tmp_path / f"stack{len(started)}",
            ports={},
            nats_url=nats_url,
            mongo_url=mongo_url,
            extra_env={**env, **(extra_env or {})},
            **({"services": services} if services else {}),
        )
        started.append(stack)
        return stack.start()

    try:
        yield make
    finally:
        for stack in started:
            stack.stop()


def pytest_report_header() -> str:
    sources = "env" if os.environ.get("SIPAS_NATS_URL") else "containers or embedded"
    return f"SIPAS infrastructure: {sources}"
