"""Scoring's JetStream handler: fold responses into aggregates, emit the unit's new index."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_contracts.events import Event, IndexUpdated, ResponseRecorded
from sipas_contracts.ids import uuid7_for
from sipas_contracts.instrument import load_catalogue
from sipas_runtime.consumer import Batch, Handler
from sipas_scoring.domain import AggregateKey, compute_index, fold
from sipas_scoring.store import AggregateStore

PRODUCER = "scoring"


def decode_response(data: bytes) -> ResponseRecorded:
    """Decode a response-recorded event."""
    return ResponseRecorded.model_validate_json(data)


def index_event(doc: dict[str, Any], *, n_min: int) -> IndexUpdated:
    """The IndexUpdated event for an aggregate document; its id is fixed by (key, version)."""
    catalogue = load_catalogue(doc["instrument_id"])
    index = compute_index(catalogue, doc["counts"], doc["responses"], n_min)
    key = f"index:{doc['campaign_id']}:{doc['unit']}:{doc['version']}"
    return IndexUpdated(
        event_id=uuid7_for(key, doc["updated_at"]),
        occurred_at=doc["updated_at"],
        producer=PRODUCER,
        campaign_id=doc["campaign_id"],
        unit=doc["unit"],
        period="campaign",
        instrument_id=doc["instrument_id"],
        version=doc["version"],
        responses=doc["responses"],
        sipas=index.sipas,
        aspects=index.aspects,
        elements=index.elements,
        counts=doc["counts"],
    )


def on_responses(store: Callable[[], AggregateStore], *, n_min: int) -> Handler[ResponseRecorded]:
    """Handler: one $inc per touched aggregate, then the touched units' current index."""

    async def handle(
        batch: Batch[ResponseRecorded], session: AsyncClientSession
    ) -> Sequence[Event]:
        await store().apply(fold(d.event for d in batch.fresh), session)
        touched: set[AggregateKey] = {
            (d.event.campaign_id, d.event.unit) for d in [*batch.fresh, *batch.replayed]
        }
        docs = await store().get_many(sorted(touched), session)
        return [index_event(doc, n_min=n_min) for doc in docs]

    return handle
