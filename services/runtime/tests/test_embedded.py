"""The embedded servers survive a port taken between picking it and binding it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from pymongo import AsyncMongoClient

from sipas_runtime import embedded
from sipas_runtime.embedded import EmbeddedMongo, EmbeddedNats, InfrastructureError
from sipas_runtime.processes import free_port


@pytest.fixture
def taken() -> Iterator[int]:
    """A loopback port another process holds."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def picks_taken_first(monkeypatch: pytest.MonkeyPatch, port: int) -> list[int]:
    """Make the first port the servers pick the taken one; record every pick."""
    picks: list[int] = []

    def pick() -> int:
        picks.append(port if not picks else free_port())
        return picks[-1]

    monkeypatch.setattr(embedded, "free_port", pick)
    return picks


async def test_nats_picks_another_port_when_its_port_was_taken(
    tmp_path: Path, taken: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    picks = picks_taken_first(monkeypatch, taken)
    server = EmbeddedNats(tmp_path)
    try:
        server.start()
        nc = await nats.connect(server.url)
        await nc.close()
    finally:
        server.stop()

    assert picks[0] == taken
    assert server.port not in (0, taken)


async def test_mongo_picks_another_port_when_its_port_was_taken(
    tmp_path: Path, taken: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    picks = picks_taken_first(monkeypatch, taken)
    server = EmbeddedMongo(tmp_path)
    try:
        server.start()
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(server.url)
        assert (await client.admin.command("ping"))["ok"] == 1
        await client.close()
    finally:
        server.stop()

    assert picks[0] == taken
    assert server.port != taken


def test_a_port_the_caller_fixed_is_not_replaced(tmp_path: Path, taken: int) -> None:
    server = EmbeddedNats(tmp_path, port=taken)
    try:
        with pytest.raises(InfrastructureError, match="address already in use"):
            server.start()
    finally:
        server.stop()
