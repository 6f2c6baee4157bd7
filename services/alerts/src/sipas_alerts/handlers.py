"""Alerts' JetStream handler: evaluate response rules, store and emit alerts."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_alerts.domain import evaluate
from sipas_alerts.store import AlertStore
from sipas_contracts.events import Event, ResponseRecorded
from sipas_contracts.instrument import load_catalogue
from sipas_runtime.consumer import Batch, Handler


def decode_response(data: bytes) -> ResponseRecorded:
    """Decode a response-recorded event."""
    return ResponseRecorded.model_validate_json(data)


def on_responses(store: Callable[[], AlertStore], *, threshold: int) -> Handler[ResponseRecorded]:
    """Handler: store alerts of fresh responses; re-derive (same ids) for replayed ones."""

    async def handle(
        batch: Batch[ResponseRecorded], session: AsyncClientSession
    ) -> Sequence[Event]:
        fresh = [
            alert
            for d in batch.fresh
            for alert in evaluate(
                d.event, load_catalogue(d.event.instrument_id), threshold=threshold
            )
        ]
        await store().add(fresh, session)
        replayed = [
            alert
            for d in batch.replayed
            for alert in evaluate(
                d.event, load_catalogue(d.event.instrument_id), threshold=threshold
            )
        ]
        return [*fresh, *replayed]

    return handle
