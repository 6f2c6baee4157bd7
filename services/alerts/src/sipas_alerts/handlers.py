"""Alerts' JetStream handlers: responses, index updates and invitations in; cases out.

Each handler gets a batch (``fresh`` deliveries to apply, ``replayed`` ones applied
before) and the transaction's session; it returns the events to publish. Replayed
deliveries re-publish what they produced the first time, read back from the outbox.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import cache
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_alerts.casework import CaseDesk
from sipas_alerts.comment_vault import CommentVault
from sipas_alerts.domain.alerts import Hit
from sipas_alerts.domain.response_rules import Comment
from sipas_alerts.domain.windows import local_date
from sipas_alerts.rulebook import RuleBook
from sipas_alerts.store import Stores
from sipas_alerts.store.signals import ActivityKey
from sipas_contracts.events import Event, IndexUpdated, InvitationSent, ResponseRecorded
from sipas_contracts.instrument import available_catalogues
from sipas_runtime.batches import Batch, Delivery
from sipas_runtime.consumer import Handler
from sipas_runtime.decoding import RejectedError


@cache
def _instruments() -> frozenset[str]:
    return frozenset(available_catalogues())


def decode_response(data: bytes) -> ResponseRecorded:
    """A response-recorded event whose instrument the service knows."""
    event = ResponseRecorded.model_validate_json(data)
    if event.instrument_id not in _instruments():
        known = ", ".join(sorted(_instruments()))
        raise RejectedError(f"instrument_id: unknown instrument {event.instrument_id!r} ({known})")
    return event


def decode_index(data: bytes) -> IndexUpdated:
    """An index-updated event."""
    return IndexUpdated.model_validate_json(data)


def decode_invitation(data: bytes) -> InvitationSent:
    """An invitation-sent event."""
    return InvitationSent.model_validate_json(data)


def _sources(deliveries: Sequence[Delivery[Any]]) -> list[str]:
    return [str(d.event.event_id) for d in deliveries]


def on_responses(
    desk: CaseDesk, rules: RuleBook, stores: Stores, comments: CommentVault
) -> Handler[ResponseRecorded]:
    """Count responses per unit and day; evaluate the response rules; open or attach cases."""
    tz = rules.policy.calendar.tz

    def comment_of(response: ResponseRecorded) -> Comment | None:
        text = comments.read(response)
        return Comment(text, comments.keep(response)) if text else None

    async def handle(
        batch: Batch[ResponseRecorded], session: AsyncClientSession
    ) -> Sequence[Event]:
        counts: Counter[ActivityKey] = Counter(
            (d.event.campaign_id, d.event.unit, local_date(d.event.occurred_at, tz))
            for d in batch.fresh
        )
        await stores.activity.add("responses", counts, session)
        hits = [hit for d in batch.fresh for hit in rules.on_response(d.event, comment_of(d.event))]
        events = await desk.receive(hits, session)
        replayed = await desk.replay(_sources(batch.replayed), session) if batch.replayed else []
        return [*events, *replayed]

    return handle


def on_indexes(desk: CaseDesk, rules: RuleBook, stores: Stores) -> Handler[IndexUpdated]:
    """Remember each figure; evaluate the index rules against the unit's earlier figures.

    One read per batch (every figure of the (campaign, unit)s it touches) and the kept
    figures in the batch's writes: the events are judged in order in memory
    (:meth:`RuleBook.on_figures`), not with a find and a write per event.
    """

    async def handle(batch: Batch[IndexUpdated], session: AsyncClientSession) -> Sequence[Event]:
        events = [d.event for d in batch.fresh]
        hits: list[Hit] = []
        if events:
            known = await stores.figures.periods(rules.figure_units(events), session)
            hits, kept = rules.on_figures(events, known)
            stores.figures.keep(kept, batch.writes)
        cases = await desk.receive(hits, session)
        replayed = await desk.replay(_sources(batch.replayed), session) if batch.replayed else []
        return [*cases, *replayed]

    return handle


def on_invitations(rules: RuleBook, stores: Stores) -> Handler[InvitationSent]:
    """Count first invitations (not reminders) per unit and local day."""
    tz = rules.policy.calendar.tz

    async def handle(batch: Batch[InvitationSent], session: AsyncClientSession) -> Sequence[Event]:
        counts: Counter[ActivityKey] = Counter(
            (d.event.campaign_id, d.event.unit, local_date(d.event.occurred_at, tz))
            for d in batch.fresh
            if d.event.attempt == 1
        )
        await stores.activity.add("invitations", counts, session)
        return []

    return handle
