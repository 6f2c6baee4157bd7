"""Fixtures of scoring's integration tests: the service in-process on real servers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from nats.aio.client import Client

from sipas_contracts import subjects
from sipas_contracts.events import Event
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.testing import Identities, eventually
from sipas_scoring.app import ScoringService, create_app
from sipas_scoring.settings import Settings


class Harness:
    """The scoring app started in this test's event loop, an HTTP client and event capture."""

    def __init__(self, app: Any, nc: Client) -> None:
        self.app = app
        self.scoring: ScoringService = app.state.service
        self.nc = nc
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://scoring"
        )
        self.ids: Identities | None = None
        self.indexes: list[dict[str, Any]] = []
        self.index_subjects: list[str] = []

    async def start(self) -> None:
        async def collect(msg: Any) -> None:
            self.indexes.append(json.loads(msg.data))
            self.index_subjects.append(msg.subject)

        await self.nc.subscribe("sipas.index.updated.>", cb=collect)
        self.ids = await Identities.open(self.scoring.settings.nats_url)
        await self.scoring.runtime.start()
        # A supervisor by default; tests about permissions pass their own headers.
        self.http.headers.update(self.ids.headers("supervisor"))

    async def stop(self) -> None:
        await self.http.aclose()
        await self.scoring.runtime.stop()
        if self.ids is not None:
            await self.ids.close()

    async def publish(self, *events: Event) -> list[int]:
        """Publish events to JetStream; returns their stream sequences."""
        js = self.nc.jetstream()
        seqs = []
        for event in events:
            ack = await js.publish(
                subjects.for_event(event), encode(event), headers=event_headers(event)
            )
            seqs.append(ack.seq)
        return seqs

    def latest(self, campaign: str, unit: str, period: str = "campaign") -> dict[str, Any] | None:
        found = [
            e
            for e in self.indexes
            if e["campaign_id"] == campaign and e["unit"] == unit and e["period"] == period
        ]
        return max(found, key=lambda e: e["version"]) if found else None


@pytest.fixture
def settings(nats_url: str, mongo_url: str, db_name: str) -> Settings:
    return Settings(
        nats_url=nats_url,
        mongo_url=mongo_url,
        database=db_name,
        batch_timeout=0.01,
        index_interval=0.05,
        rollup_interval=0.2,
        n_min=2,
        n_min_unit=3,
        checkpoint_interval=0.05,
        owner_timeout=3,
        env="test",
    )


@pytest.fixture
async def make_harness(nc: Client) -> AsyncIterator[Callable[[Settings], Any]]:
    """Start a scoring app with given settings (stopped after the test)."""
    started: list[Harness] = []

    async def make(settings: Settings) -> Harness:
        h = Harness(create_app(settings), nc)
        await h.start()
        started.append(h)
        return h

    try:
        yield make
    finally:
        for h in started:
            await h.stop()


@pytest.fixture
async def harness(settings: Settings, make_harness: Callable[[Settings], Any]) -> Harness:
    harness: Harness = await make_harness(settings)
    return harness


@pytest.fixture
def wait() -> Callable[..., Any]:
    return eventually
