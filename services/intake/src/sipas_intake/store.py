"""Intake's Mongo adapter: survey tokens (single use) and the ledger of accepted dossiers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from sipas_contracts.events import DossierCompleted, InvitationSent
from sipas_intake.domain import TokenGrant

TOKENS = "tokens"
DOSSIERS = "dossiers"
COLLECTIONS = (TOKENS, DOSSIERS)


class TokenProblem(Enum):
    """Why a token cannot be used."""

    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


@dataclass(frozen=True)
class PendingResponse:
    """A consumed token whose response event is not yet confirmed published."""

    token_hash: str
    event_json: str


class TokenStore:
    """Token hashes registered from invitation-sent events; consumed atomically once."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._tokens = db[TOKENS]

    async def register(
        self, invitations: list[InvitationSent], session: AsyncClientSession
    ) -> None:
        """Remember each invitation's token hash (idempotent)."""
        for inv in invitations:
            await self._tokens.update_one(
                {"_id": inv.token_hash},
                {
                    "$setOnInsert": {
                        "invitation_id": inv.invitation_id,
                        "campaign_id": inv.campaign_id,
                        "unit": inv.unit,
                        "stratum": inv.stratum,
                        "instrument_id": inv.instrument_id,
                        "expires_at": inv.expires_at,
                        "used_at": None,
                    }
                },
                upsert=True,
                session=session,
            )

    async def grant(self, token_hash: str, now: datetime) -> TokenGrant | TokenProblem:
        """What the token allows, or why it cannot be used."""
        doc = await self._tokens.find_one({"_id": token_hash})
        if doc is None:
            return TokenProblem.UNKNOWN
        if doc.get("used_at") is not None:
            return TokenProblem.USED
        if doc["expires_at"] <= now:
            return TokenProblem.EXPIRED
        return TokenGrant.model_validate(doc)

    async def consume(self, token_hash: str, now: datetime, event_json: str) -> TokenProblem | None:
        """Mark the token used and store the response event in one atomic update."""
        doc = await self._tokens.find_one_and_update(
            {"_id": token_hash, "used_at": None, "expires_at": {"$gt": now}},
            {"$set": {"used_at": now, "response": event_json, "published": False}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None:
            return None
        problem = await self.grant(token_hash, now)
        return problem if isinstance(problem, TokenProblem) else TokenProblem.USED

    async def mark_published(self, token_hash: str) -> None:
        """The response event is on the stream; drop the copy."""
        await self._tokens.update_one(
            {"_id": token_hash}, {"$set": {"published": True}, "$unset": {"response": ""}}
        )

    async def unpublished(self, used_before: datetime, limit: int = 500) -> list[PendingResponse]:
        """Responses accepted but not confirmed published (crash between commit and publish)."""
        cursor = self._tokens.find(
            {"published": False, "used_at": {"$lt": used_before}}, {"response": 1}
        ).limit(limit)
        return [PendingResponse(doc["_id"], doc["response"]) async for doc in cursor]


class DossierLedger:
    """Dossier ids already turned into events (duplicate deliveries are dropped)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._dossiers = db[DOSSIERS]

    async def admit(
        self, events: list[DossierCompleted], session: AsyncClientSession
    ) -> list[DossierCompleted]:
        """Record new dossiers; return only the events not seen before."""
        ids = [e.dossier_id for e in events]
        seen = {
            doc["_id"]
            async for doc in self._dossiers.find({"_id": {"$in": ids}}, {"_id": 1}, session=session)
        }
        fresh: dict[str, DossierCompleted] = {}
        for event in events:
            if event.dossier_id not in seen and event.dossier_id not in fresh:
                fresh[event.dossier_id] = event
        if fresh:
            await self._dossiers.insert_many(
                [
                    {
                        "_id": e.dossier_id,
                        "event_id": e.event_id,
                        "unit": e.unit,
                        "revision": e.revision,
                    }
                    for e in fresh.values()
                ],
                session=session,
            )
        return list(fresh.values())
