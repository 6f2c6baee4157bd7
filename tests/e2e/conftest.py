"""The running system the route-by-route tests of this folder share.

The permission matrix and the Schemathesis run both call every route of every service; one
stack (the four services and the console, on its own nats-server) serves both, started once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from sipas_runtime.embedded import EmbeddedNats
from sipas_runtime.stack import Stack


@pytest.fixture(scope="package")
def stack(infra: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every service and the console, own NATS; the infrastructure's Mongo-wire server."""
    workdir = tmp_path_factory.mktemp("system")
    server = EmbeddedNats(workdir / "nats")
    prefix = f"m{uuid.uuid4().hex[:8]}"
    running = Stack(
        workdir / "stack",
        ports={},
        nats_url=server.start(),
        mongo_url=infra.mongo_url,
        extra_env={
            f"SIPAS_{s.upper()}_DATABASE": f"{prefix}_{s}"
            for s in ("intake", "sampling", "scoring", "alerts", "console")
        },
    )
    try:
        yield running.start()
    finally:
        running.stop()
        server.stop()
