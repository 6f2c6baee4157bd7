"""Hand-written in-memory stand-ins for intake's stores (each passes its store's contract).

Imported as ``services.intake.tests.fakes``; the contract suites in
``integration/test_store_contracts.py`` run the same behaviour against these and the real
Mongo-wire server.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sipas_contracts.events import InvitationClosed, InvitationSent, ResponseRecorded
from sipas_intake.domain.responses import TokenGrant
from sipas_intake.domain.revisions import LedgerEntry
from sipas_intake.store.drafts import StoredDraft
from sipas_intake.store.fieldwork import Counts
from sipas_intake.store.kiosks import KioskExistsError
from sipas_intake.store.ledger import UnitEntries
from sipas_intake.store.outbox import Outbox
from sipas_intake.store.paper import PaperForms
from sipas_intake.store.tokens import TokenProblem, grant_or_problem
from sipas_runtime.mongo import Document, Session


class InMemoryDraftStore:
    """Drafts in a dict, versioned like the Mongo store (expiry is the server's TTL: none)."""

    def __init__(self) -> None:
        self.drafts: dict[str, StoredDraft] = {}

    async def get(self, token_hash: str) -> StoredDraft:
        return self.drafts.get(token_hash, StoredDraft(None, 0))

    async def put(
        self, token_hash: str, sealed: bytes, *, read_at: int, expires_at: datetime, now: datetime
    ) -> bool:
        if (await self.get(token_hash)).version != read_at:
            return False
        self.drafts[token_hash] = StoredDraft(sealed, read_at + 1)
        return True

    async def delete(self, token_hash: str) -> None:
        self.drafts.pop(token_hash, None)


class InMemoryOutbox:
    """Queued response events in a dict, in the order they were added."""

    def __init__(self) -> None:
        self.queued: dict[UUID, tuple[ResponseRecorded, datetime, bool]] = {}

    async def add(
        self, events: Sequence[ResponseRecorded], now: datetime, session: Session = None
    ) -> None:
        for event in events:
            self.queued[event.event_id] = (event, now, False)

    async def mark_published(self, event_ids: Sequence[UUID]) -> None:
        for event_id in event_ids:
            if event_id in self.queued:
                event, at, _ = self.queued[event_id]
                self.queued[event_id] = (event, at, True)

    async def pending(self, created_before: datetime, limit: int = 500) -> list[ResponseRecorded]:
        waiting = [e for e, at, published in self.queued.values() if not published]
        return [e for e in waiting if self.queued[e.event_id][1] < created_before][:limit]

    async def count_pending(self) -> int:
        return sum(not published for _, _, published in self.queued.values())


class InMemoryPaperLedger:
    """Imported paper forms' content hashes in a dict, each key once; events go to the outbox."""

    def __init__(self) -> None:
        self.forms: dict[str, str] = {}
        self.imported: list[ResponseRecorded] = []

    async def known(self, keys: Sequence[str]) -> dict[str, str]:
        return {key: self.forms[key] for key in keys if key in self.forms}

    async def add(self, forms: PaperForms, outbox: Outbox, now: datetime) -> None:
        self.forms.update((key, content) for key, content, _ in forms)
        self.imported.extend(event for _, _, event in forms)
        await outbox.add([event for _, _, event in forms], now)


class InMemoryKioskStore:
    """Counter tablets by key hash and spent nonces in a set; a refused answer changes nothing."""

    def __init__(self) -> None:
        self.by_key: dict[str, Document] = {}
        self.nonces: set[str] = set()

    async def register(self, key_hash: str, device: dict[str, Any], now: datetime) -> None:
        taken = {d["device_id"] for d in self.by_key.values()}
        if key_hash in self.by_key or device["device_id"] in taken:
            msg = f"device {device['device_id']!r} is already registered"
            raise KioskExistsError(msg)
        self.by_key[key_hash] = {
            "_id": key_hash,
            **device,
            "created_at": now,
            "revoked_at": None,
            "last_answer_at": None,
        }

    async def get(self, key_hash: str) -> Document | None:
        device = self.by_key.get(key_hash)
        return device if device is not None and device["revoked_at"] is None else None

    async def devices(self) -> list[Document]:
        newest = sorted(self.by_key.values(), key=lambda d: d["created_at"], reverse=True)
        return [{k: v for k, v in d.items() if k != "_id"} for d in newest]

    async def revoke(self, device_id: str, now: datetime) -> bool:
        for device in self.by_key.values():
            if device["device_id"] == device_id and device["revoked_at"] is None:
                device["revoked_at"] = now
                return True
        return False

    async def record(
        self,
        key_hash: str,
        nonce: str,
        event: ResponseRecorded,
        outbox: Outbox,
        *,
        now: datetime,
        interval: timedelta,
    ) -> str | None:
        device = await self.get(key_hash)
        last = None if device is None else device.get("last_answer_at")
        if device is None or (last is not None and last > now - interval):
            return "too_soon"
        if nonce in self.nonces:
            return "already_recorded"
        device["last_answer_at"] = now
        self.nonces.add(nonce)
        await outbox.add([event], now)
        return None


class InMemoryDossierLedger:
    """Ledger entries by dossier id with their unit and dates, as the Mongo documents hold them."""

    def __init__(self) -> None:
        self.entries_by_id: dict[str, tuple[LedgerEntry, str, datetime, datetime]] = {}

    async def entries(self, dossier_ids: Sequence[str], session: Session) -> dict[str, LedgerEntry]:
        known = (self.entries_by_id.get(d) for d in set(dossier_ids))
        return {k[0].dossier_id: k[0] for k in known if k is not None}

    async def save(
        self, created: UnitEntries, changed: UnitEntries, now: datetime, session: Session
    ) -> None:
        for entry, unit in created:
            self.entries_by_id[entry.dossier_id] = (entry, unit, now, now)
        for entry, unit in changed:
            first_at = self.entries_by_id[entry.dossier_id][2]
            self.entries_by_id[entry.dossier_id] = (entry, unit, first_at, now)

    async def status(self, dossier_id: str) -> Document | None:
        if dossier_id not in self.entries_by_id:
            return None
        entry, unit, first_at, updated_at = self.entries_by_id[dossier_id]
        return {
            "_id": dossier_id,
            "revision": entry.revision,
            "unit": unit,
            "first_at": first_at,
            "updated_at": updated_at,
        }


class InMemoryTokenStore:
    """Token documents by hash and invitation claims by id, shaped as the Mongo store keeps them."""

    def __init__(self) -> None:
        self.tokens: dict[str, Document] = {}
        self.claims: dict[UUID, Document] = {}

    async def register(self, invitations: list[InvitationSent], session: Session) -> None:
        for inv in invitations:
            known = self.tokens.get(inv.token_hash)
            if known is not None:
                known["expires_at"] = max(known["expires_at"], inv.expires_at)
                continue
            fields = ("invitation_id", "campaign_id", "unit", "stratum", "instrument_id")
            self.tokens[inv.token_hash] = {
                **{name: getattr(inv, name) for name in fields},
                "_id": inv.token_hash,
                "channel": inv.channel,
                "draw_list": inv.draw_list,
                "expires_at": inv.expires_at,
                "used_at": None,
            }

    async def close(self, closures: list[InvitationClosed], session: Session) -> None:
        for c in closures:
            closed = {"_id": c.invitation_id, "closed": c.reason, "at": c.occurred_at}
            self.claims.setdefault(c.invitation_id, {**closed, "response_id": None})
            for token in self._of(c.invitation_id):
                if token["used_at"] is None:
                    token["closed_at"] = c.occurred_at

    def _of(self, invitation_id: UUID) -> list[Document]:
        return [t for t in self.tokens.values() if t["invitation_id"] == invitation_id]

    async def grant(self, token_hash: str, now: datetime) -> TokenGrant | TokenProblem:
        return grant_or_problem(self.tokens.get(token_hash), now)

    async def grant_for_invitation(
        self, invitation_id: UUID, now: datetime
    ) -> tuple[str, TokenGrant] | TokenProblem:
        newest = max(self._of(invitation_id), key=lambda t: t["expires_at"], default=None)
        grant = grant_or_problem(newest, now)
        if newest is None or isinstance(grant, TokenProblem):
            return grant if isinstance(grant, TokenProblem) else TokenProblem.UNKNOWN
        return str(newest["_id"]), grant

    async def consume(
        self,
        token_hash: str,
        event: ResponseRecorded,
        outbox: Outbox,
        now: datetime,
        *,
        submission: UUID | None = None,
    ) -> TokenProblem | None:
        token = self.tokens.get(token_hash)
        usable = token is not None and token["used_at"] is None and token["expires_at"] > now
        if token is None or not usable or event.invitation_id in self.claims:
            claim = self.claims.get(event.invitation_id) if event.invitation_id else None
            if claim is not None and claim.get("closed"):
                return TokenProblem.CLOSED
            problem = await self.grant(token_hash, now)
            return problem if isinstance(problem, TokenProblem) else TokenProblem.USED
        token.update(used_at=now, mode=event.collection_mode)
        claim = {"_id": event.invitation_id, "response_id": event.response_id, "at": now}
        self.claims[event.invitation_id] = {**claim, "submission": submission}
        await outbox.add([event], now)
        return None

    async def claim(self, invitation_id: UUID) -> Document | None:
        return self.claims.get(invitation_id)


class InMemoryFieldworkLedger:
    """Counts over the fakes' used tokens and imported paper forms, as Mongo counts its own."""

    def __init__(self, tokens: InMemoryTokenStore, paper: InMemoryPaperLedger) -> None:
        self.tokens, self.paper = tokens, paper

    async def summary(self, campaign_id: str) -> tuple[Counts, Counts]:
        invited: Counts = {}
        for token in self.tokens.tokens.values():
            if token["campaign_id"] == campaign_id and token["used_at"] is not None:
                _count(invited, token["unit"], token.get("mode") or "online")
        paper: Counts = {}
        for event in self.paper.imported:
            if event.campaign_id == campaign_id:
                _count(paper, event.unit, event.collection_mode)
        return invited, paper


def _count(counts: Counts, unit: str, mode: str) -> None:
    counts.setdefault(unit, {})[mode] = counts.get(unit, {}).get(mode, 0) + 1
