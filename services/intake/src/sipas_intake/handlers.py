"""Intake's JetStream handlers.

Raw dossier records (``sipas.raw.dossier.<source>``) are decoded by the adapter their
source or ``Sipas-Format`` header names, validated once, and turned into dossier-completed
events; the ledger decides revisions (see ``domain.revisions``). Invitation-sent events
register the token hashes the survey form will accept; invitation-closed events (a member
replaced from the reserve list) close them (see ``store.tokens``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import structlog
from pydantic import Field, TypeAdapter
from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_contracts.events import DossierCompleted, Event, InvitationClosed, InvitationSent
from sipas_intake.domain.dossiers import (
    Crypto,
    NotCompleted,
    PreparedDossier,
    Units,
    Unsealed,
    prepare_unsealed,
    recheck,
)
from sipas_intake.domain.errors import DossierRejectedError, IntakeError, problem
from sipas_intake.domain.formats import PREPARED, Formats
from sipas_intake.domain.revisions import LedgerEntry, Outcome, decide
from sipas_intake.metrics import IntakeMetrics, Tally
from sipas_intake.store.ledger import DossierLedger
from sipas_intake.store.tokens import TokenStore
from sipas_runtime.batches import Batch, Delivery
from sipas_runtime.consumer import Handler
from sipas_runtime.decoding import MessageDecoder, RejectedError
from sipas_runtime.messages import Message

log = structlog.get_logger(__name__)
FORMAT_HEADER = "Sipas-Format"
OWN_SOURCES = frozenset({"http", "import"})  # raw sources only intake publishes on
_SCHEMA_CODES = frozenset({"missing", "invalid", "unexpected"})
InvitationEvent = Annotated[InvitationSent | InvitationClosed, Field(discriminator="event_type")]
_invitation_events: TypeAdapter[InvitationSent | InvitationClosed] = TypeAdapter(InvitationEvent)


@dataclass(frozen=True, slots=True)
class RawDossier:
    """A decoded raw record: a prepared event (still unsealed) or a not-completed dossier.

    The contact is sealed only when the ledger emits the record (a duplicate never is);
    sealing costs a few microseconds (see ``sipas_runtime.privacy.Sealer``), less than
    handing it to a thread.
    """

    result: Unsealed | NotCompleted
    entry: str

    def event(self, revision: int, seal: Callable[[dict[str, str]], str]) -> DossierCompleted:
        """The event of ``revision``, with the contact sealed."""
        unsealed = self.result
        assert isinstance(unsealed, Unsealed)  # only completed records are emitted
        sealed = seal(unsealed.contact) if unsealed.contact else None
        return unsealed.prepared.finalise(revision, sealed_contact=sealed)


@dataclass(frozen=True)
class DossierReader:
    """Everything needed to read and validate a raw record, and to seal contacts."""

    formats: Formats
    hierarchy: Units
    crypto: Crypto
    metrics: IntakeMetrics

    def seal(self, records: Sequence[Unsealed]) -> list[PreparedDossier]:
        """The records with their contacts sealed for sampling."""
        return [record.seal(self.crypto.seal) for record in records]

    def read(
        self, document: object, *, fmt: str | None, source: str | None, now: datetime
    ) -> Unsealed | NotCompleted:
        """Adapter → validation → prepared event (raises IntakeError naming fields)."""
        name = self.formats.choose(fmt, source=source, document=document)
        record = self.formats.read(name, document)
        if isinstance(record, NotCompleted):
            return record
        # Problems found after mapping name the field as the source does (a column, a HoSo
        # field), not by its canonical name.
        names = self.formats.source_fields(name)
        try:
            unsealed = prepare_unsealed(
                record, hierarchy=self.hierarchy, crypto=self.crypto, now=now
            )
        except DossierRejectedError as exc:
            raise DossierRejectedError(_renamed(exc.errors, names)) from None
        warnings = unsealed.prepared.warnings
        if names and warnings:
            renamed = unsealed.prepared.model_copy(update={"warnings": _renamed(warnings, names)})
            return Unsealed(renamed, unsealed.contact)
        return unsealed

    def decode(self, msg: Message) -> RawDossier:
        """Decode one raw message; what cannot be accepted goes to the DLQ with its reason."""
        source = msg.subject.rsplit(".", 1)[-1]
        entry = self.metrics.entry(source)
        fmt = (msg.headers or {}).get(FORMAT_HEADER)
        now = datetime.now(UTC)
        try:
            if fmt == PREPARED:
                if source not in OWN_SOURCES:
                    raise DossierRejectedError(
                        [problem("Sipas-Format", "prepared records come only from intake itself")]
                    )
                prepared = PreparedDossier.model_validate_json(msg.data)
                recheck(prepared, hierarchy=self.hierarchy, now=now)
                return RawDossier(Unsealed(prepared, None), entry)
            document = json.loads(msg.data)
            result = self.read(document, fmt=fmt, source=source, now=now)
            return RawDossier(result, entry)
        except IntakeError as exc:
            self.rejected(entry, exc.code)
            raise RejectedError(str(exc), kind=_dlq_kind(exc.code)) from exc
        except RecursionError as exc:
            self.rejected(entry, "malformed")
            raise RejectedError("JSON nested too deeply", kind="malformed") from exc
        except ValueError:  # invalid JSON, bad UTF-8, a prepared record that does not validate
            self.rejected(entry, "malformed")
            raise

    def rejected(self, entry: str, code: str) -> None:
        """Count one rejected record."""
        self.metrics.count(self.metrics.dossiers, entry, "rejected")
        self.metrics.count(self.metrics.rejections, entry, code)

    def accepted(
        self, entry: str, outcome: Outcome, prepared: PreparedDossier, tally: Tally
    ) -> None:
        """Count one record the ledger decided on (and its contact quality when new).

        Counted in ``tally``, which the caller adds to the metrics once per batch.
        """
        metrics = self.metrics
        tally[metrics.dossiers, (entry, outcome.value)] += 1
        if outcome in {Outcome.ACCEPTED, Outcome.CORRECTED}:
            tally[metrics.accepted_by_unit, (prepared.candidate.unit,)] += 1
            channels: list[str] = [*prepared.candidate.contact_channels] or ["none"]
            for channel in channels:
                tally[metrics.contact_channels, (channel,)] += 1
            for warning in prepared.warnings:
                tally[metrics.contact_warnings, (warning["field"],)] += 1


def _renamed(problems: list[dict[str, str]], names: dict[str, str]) -> list[dict[str, str]]:
    return [{**p, "field": names.get(p["field"], p["field"])} for p in problems]


def _dlq_kind(code: str) -> str:
    if code == "malformed":
        return "malformed"
    return "schema" if code in _SCHEMA_CODES else "rejected"


def dossier_decoder(reader: DossierReader) -> MessageDecoder[RawDossier]:
    """The raw consumer's decoder."""
    return reader.decode


def on_raw_dossiers(ledger: DossierLedger, reader: DossierReader) -> Handler[RawDossier]:
    """Decide each record's revision in stream order; emit new revisions (and replays)."""

    async def handle(batch: Batch[RawDossier], session: AsyncClientSession) -> Sequence[Event]:
        # Every delivery is decided by the ledger (dedup="handler"): it knows which raw
        # sequence produced which revision, so a replay re-emits the same event id.
        deliveries = sorted([*batch.fresh, *batch.replayed], key=lambda d: d.seq)
        completed: list[Delivery[RawDossier]] = []
        for delivery in deliveries:
            if isinstance(delivery.event.result, NotCompleted):
                reader.metrics.count(reader.metrics.dossiers, delivery.event.entry, "not_completed")
            else:
                completed.append(delivery)
        ids = [_unsealed(d).prepared.candidate.dossier_id for d in completed]
        known = await ledger.entries(ids, session)
        return await _decide_all(completed, known, ledger, reader, session)

    return handle


def _unsealed(delivery: Delivery[RawDossier]) -> Unsealed:
    result = delivery.event.result
    assert isinstance(result, Unsealed)  # filtered by the caller
    return result


async def _decide_all(
    completed: list[Delivery[RawDossier]],
    known: dict[str, LedgerEntry],
    ledger: DossierLedger,
    reader: DossierReader,
    session: AsyncClientSession,
) -> list[DossierCompleted]:
    entries: dict[str, LedgerEntry] = dict(known)
    units: dict[str, str] = {}
    emit: list[tuple[RawDossier, int]] = []
    tally = Tally()
    for delivery in completed:
        prepared = _unsealed(delivery).prepared
        dossier_id = prepared.candidate.dossier_id
        decision = decide(entries.get(dossier_id), dossier_id, prepared.fingerprint, delivery.seq)
        reader.accepted(delivery.event.entry, decision.outcome, prepared, tally)
        if decision.revision is None:
            continue
        emit.append((delivery.event, decision.revision))
        if decision.outcome != Outcome.REPLAYED:
            entries[dossier_id] = decision.entry
            units[dossier_id] = prepared.candidate.unit
    created = [(entries[i], u) for i, u in units.items() if i not in known]
    changed = [(entries[i], u) for i, u in units.items() if i in known]
    await ledger.save(created, changed, datetime.now(UTC), session)
    reader.metrics.add(tally)
    if len(emit) < len(completed):
        log.info("dossiers_not_emitted", count=len(completed) - len(emit))
    return [raw.event(revision, reader.crypto.seal) for raw, revision in emit]


def on_invitations(
    tokens: TokenStore,
) -> Handler[InvitationSent | InvitationClosed]:
    """Handler: register token hashes so answers can be accepted; close replaced ones.

    A closure is always behind its invitation in the stream, so registering a batch's
    invitations before closing its closures keeps the stream's order.
    """

    async def handle(
        batch: Batch[InvitationSent | InvitationClosed], session: AsyncClientSession
    ) -> Sequence[Event]:
        events = [d.event for d in batch.fresh]
        store = tokens
        await store.register([e for e in events if isinstance(e, InvitationSent)], session)
        await store.close([e for e in events if isinstance(e, InvitationClosed)], session)
        return []

    return handle


def decode_invitation(data: bytes) -> InvitationSent | InvitationClosed:
    """Decode an invitation-sent or -closed event (ValidationError goes to the DLQ)."""
    return _invitation_events.validate_json(data)
