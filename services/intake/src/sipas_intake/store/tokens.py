"""Survey tokens (keyed hashes only) and the single-use claim of each invitation.

A response is accepted in one transaction that (1) marks the token used only if it is
still unused and unexpired, (2) claims the invitation (unique id: one response per
invitation even when reminders carried new tokens) and (3) stores the response event in
the outbox. Two concurrent submits conflict on the token document: one commits, the
other is retried by the driver, finds the token used and is refused.

An invitation sampling replaced from the reserve list (invitation-closed) is claimed for no
response and its tokens are closed, in one transaction with the consumer's position. The
claim decides the order: whichever of a response and the closure claims the invitation
first wins. A response recorded before the closure arrived stands (the closure changes
nothing); once the closure is in, the survey link and enumerators' interviews are refused.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Protocol
from uuid import UUID

from pymongo import DESCENDING, UpdateMany, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError
from typing_extensions import override

from sipas_contracts.events import InvitationClosed, InvitationSent, ResponseRecorded
from sipas_intake.domain.responses import TokenGrant
from sipas_intake.store.collections import CLAIMS, TOKENS
from sipas_intake.store.outbox import Outbox
from sipas_runtime.mongo import Collection, Document, MongoStore, in_transaction


class TokenProblem(Enum):
    """Why a token (or an invitation) cannot take a response."""

    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    CLOSED = "closed"


class _AlreadyAnsweredError(Exception):
    """Internal: the token or invitation was used by a transaction that committed first."""


class TokenStore(Protocol):
    """Survey tokens registered from invitation-sent events, each consumed once."""

    async def register(
        self, invitations: list[InvitationSent], session: AsyncClientSession
    ) -> None:
        """Remember each invitation's token hash (idempotent; the latest expiry wins)."""
        ...

    async def close(self, closures: list[InvitationClosed], session: AsyncClientSession) -> None:
        """Claim each replaced invitation for no response (unless answered) and close its tokens."""
        ...

    async def grant(self, token_hash: str, now: datetime) -> TokenGrant | TokenProblem:
        """What the token allows, or why it cannot be used."""
        ...

    async def grant_for_invitation(
        self, invitation_id: UUID, now: datetime
    ) -> tuple[str, TokenGrant] | TokenProblem:
        """The newest token of an invitation (for enumerators), or why it cannot be used."""
        ...

    async def consume(
        self,
        token_hash: str,
        event: ResponseRecorded,
        outbox: Outbox,
        now: datetime,
        *,
        submission: UUID | None = None,
    ) -> TokenProblem | None:
        """Use the token, claim its invitation and queue the event, atomically.

        ``submission``: the sender's own id for this answer (an enumerator's device), kept
        with the claim so that sending it again can be told from someone else's answer.
        """
        ...

    async def claim(self, invitation_id: UUID) -> Document | None:
        """The recorded answer of an invitation: response id, when, the sender's submission id."""
        ...


class MongoTokenStore(MongoStore, TokenStore):
    """Token hashes registered from invitation-sent events; consumed atomically once."""

    _tokens = Collection(TOKENS)
    _claims = Collection(CLAIMS)

    @override
    async def register(
        self, invitations: list[InvitationSent], session: AsyncClientSession
    ) -> None:
        if not invitations:
            return
        operations = [
            UpdateOne(
                {"_id": inv.token_hash},
                # A reminder re-sending the same token may extend its expiry, nothing else.
                {"$setOnInsert": _token_document(inv), "$max": {"expires_at": inv.expires_at}},
                upsert=True,
            )
            for inv in invitations
        ]
        await self._tokens.bulk_write(operations, ordered=False, session=session)

    @override
    async def close(self, closures: list[InvitationClosed], session: AsyncClientSession) -> None:
        if not closures:
            return
        claims = [
            UpdateOne(
                {"_id": c.invitation_id},
                {"$setOnInsert": {"closed": c.reason, "at": c.occurred_at, "response_id": None}},
                upsert=True,
            )
            for c in closures
        ]
        await self._claims.bulk_write(claims, ordered=False, session=session)
        closing = [
            UpdateMany(
                {"invitation_id": c.invitation_id, "used_at": None},
                {"$set": {"closed_at": c.occurred_at}},
            )
            for c in closures
        ]
        await self._tokens.bulk_write(closing, ordered=False, session=session)

    @override
    async def grant(self, token_hash: str, now: datetime) -> TokenGrant | TokenProblem:
        return grant_or_problem(await self._tokens.find_one({"_id": token_hash}), now)

    @override
    async def grant_for_invitation(
        self, invitation_id: UUID, now: datetime
    ) -> tuple[str, TokenGrant] | TokenProblem:
        doc = await self._tokens.find_one(
            {"invitation_id": invitation_id}, sort=[("expires_at", DESCENDING)]
        )
        grant = grant_or_problem(doc, now)
        if isinstance(grant, TokenProblem) or doc is None:
            return grant if isinstance(grant, TokenProblem) else TokenProblem.UNKNOWN
        return str(doc["_id"]), grant

    @override
    async def consume(
        self,
        token_hash: str,
        event: ResponseRecorded,
        outbox: Outbox,
        now: datetime,
        *,
        submission: UUID | None = None,
    ) -> TokenProblem | None:
        async def work(session: AsyncClientSession) -> None:
            used = await self._tokens.update_one(
                {"_id": token_hash, "used_at": None, "expires_at": {"$gt": now}},
                {"$set": {"used_at": now, "mode": event.collection_mode}},
                session=session,
            )
            if used.modified_count != 1:
                raise _AlreadyAnsweredError
            await self._claims.insert_one(
                {
                    "_id": event.invitation_id,
                    "response_id": event.response_id,
                    "at": now,
                    "submission": submission,
                },
                session=session,
            )
            await outbox.add([event], now, session)

        try:
            await in_transaction(self.db.client, work)
        except (_AlreadyAnsweredError, DuplicateKeyError):
            return await self._refusal(token_hash, event, now)
        return None

    async def _refusal(
        self, token_hash: str, event: ResponseRecorded, now: datetime
    ) -> TokenProblem:
        """Why a response was not recorded: its token, or the claim that came first."""
        claim = await self.claim(event.invitation_id) if event.invitation_id else None
        if claim is not None and claim.get("closed"):
            return TokenProblem.CLOSED
        problem = await self.grant(token_hash, now)
        return problem if isinstance(problem, TokenProblem) else TokenProblem.USED

    @override
    async def claim(self, invitation_id: UUID) -> Document | None:
        return await self._claims.find_one({"_id": invitation_id})


def _token_document(inv: InvitationSent) -> dict[str, Any]:
    return {
        "invitation_id": inv.invitation_id,
        "campaign_id": inv.campaign_id,
        "unit": inv.unit,
        "stratum": inv.stratum,
        "instrument_id": inv.instrument_id,
        "channel": inv.channel,
        "draw_list": inv.draw_list,
        "used_at": None,
    }


def grant_or_problem(doc: Document | None, now: datetime) -> TokenGrant | TokenProblem:
    """What a stored token allows: a used token says so first, then a closed, an expired one."""
    if doc is None:
        return TokenProblem.UNKNOWN
    if doc.get("used_at") is not None:
        return TokenProblem.USED
    if doc.get("closed_at") is not None:
        return TokenProblem.CLOSED
    if doc["expires_at"] <= now:
        return TokenProblem.EXPIRED
    return TokenGrant.model_validate(doc)
