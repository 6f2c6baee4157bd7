"""Fixtures shared by every test package: real NATS and Mongo-wire servers.

Infrastructure is resolved once per session (env URLs -> testcontainers -> embedded; see
``sipas_runtime.infra``). Each test gets its own Mongo database and, where it needs the
fixed SIPAS stream names, its own nats-server, so tests never see each other's data.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
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


# -- a bounded async test fails with its stack and leaves its event loop usable -------------
# pytest-timeout interrupts a test with a signal wherever the process is, often inside the
# event loop's own machinery: the test's task is left pending on a loop its fixtures' teardown
# then runs on, and that teardown can hang (it did: a service's stop never returned, with
# nothing on screen). So an async test is cancelled through asyncio a little before
# pytest-timeout would fire: it fails with a TimeoutError at the line it waited on, and its
# fixtures tear down on a healthy loop.
ASYNC_MARGIN_SECONDS = 10.0
_STARTED = pytest.StashKey[float]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    item.stash[_STARTED] = time.monotonic()  # pytest-timeout counts from here too
    return (yield)


def _seconds_allowed(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    if marker is not None and "timeout" in marker.kwargs:
        return float(marker.kwargs["timeout"])
    return float(item.config.getini("timeout") or 0)


def _cancelled_before_timeout(
    item: pytest.Function, test: Callable[..., Awaitable[None]]
) -> Callable[..., Awaitable[None]]:
    @functools.wraps(test)
    async def bounded(*args: object, **kwargs: object) -> None:
        allowed = _seconds_allowed(item)
        if allowed <= 0:
            await test(*args, **kwargs)
            return
        deadline = item.stash[_STARTED] + allowed - ASYNC_MARGIN_SECONDS
        async with asyncio.timeout(max(1.0, deadline - time.monotonic())):
            await test(*args, **kwargs)

    return bounded


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            item.obj = _cancelled_before_timeout(item, item.obj)
