"""The audit log: an append-only, hash-chained record of decisions about people and data.

Each service keeps its own log (collection ``audit`` in its database) of the decisions it
makes: the console of sign-ins, failed sign-ins, changes of roles and scopes, machine keys
made and revoked; every service of the first use of a machine key each hour; alerts of
contact reveals; scoring of publication decisions. An entry holds its sequence number, time,
action, actor, target and details (never a secret, a password or a token), the hash of the
entry before it and its own SHA-256 over all of that. The newest entry's number and hash are
kept beside the log (``audit_head``), written in the same transaction, so removing the last
entries is noticed as surely as changing or removing one in the middle.

``sipas audit verify`` re-computes the chain from the database or from an export
(``sipas audit export``, JSON lines) and names the first entry that does not hold.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.mongo_client import AsyncMongoClient

from sipas_runtime.mongo import Document, in_transaction

AUDIT = "audit"
AUDIT_HEAD = "audit_head"
GENESIS = "0" * 64


class AuditEntry(BaseModel):
    """One decision, chained to the one before it."""

    model_config = ConfigDict(frozen=True)

    seq: int = Field(ge=1)
    at: str = Field(description="UTC time, ISO 8601, exactly as hashed")
    service: str
    action: str
    actor: str
    target: str | None = None
    details: dict[str, str] = Field(default_factory=dict)
    prev: str
    hash: str

    def expected_hash(self) -> str:
        """The hash this entry must carry, from its content and its predecessor's hash."""
        return chain_hash(self.model_dump(mode="json", exclude={"hash"}))


def chain_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 of an entry's canonical JSON (sorted keys, no spaces, UTF-8)."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Breach:
    """Where the chain does not hold, and why."""

    seq: int
    reason: str


def verify(entries: Iterable[AuditEntry], head: tuple[int, str] | None) -> list[Breach]:
    """Every place the chain of ``entries`` (in order) breaks; empty when it holds."""
    breaches: list[Breach] = []
    expected_seq, prev = 1, GENESIS
    for entry in entries:
        if entry.seq != expected_seq:
            breaches.append(Breach(expected_seq, f"entry {expected_seq} is missing"))
        if entry.prev != prev:
            breaches.append(Breach(entry.seq, "does not follow the entry before it"))
        if entry.expected_hash() != entry.hash:
            breaches.append(Breach(entry.seq, "was changed after it was written"))
        expected_seq, prev = entry.seq + 1, entry.hash
    if head is not None and (expected_seq - 1, prev) != head:
        breaches.append(Breach(head[0], f"the log should end at entry {head[0]}"))
    return breaches


class AuditLog:
    """A service's audit log in its own database."""

    def __init__(
        self,
        client: Callable[[], AsyncMongoClient[Document]],
        database: str,
        service: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._database = database
        self.service = service
        self._clock = clock

    async def record(
        self, action: str, *, actor: str, target: str | None = None, **details: object
    ) -> AuditEntry:
        """Append one entry (retried by the driver when instances append at once)."""
        text = {key: str(value) for key, value in details.items() if value is not None}
        return await in_transaction(
            self._client(), lambda s: self._append(s, action, actor, target, text)
        )

    async def _append(
        self,
        session: AsyncClientSession,
        action: str,
        actor: str,
        target: str | None,
        details: dict[str, str],
    ) -> AuditEntry:
        db = self._client()[self._database]
        head = await db[AUDIT_HEAD].find_one({"_id": self.service}, session=session)
        seq, prev = (int(head["seq"]) + 1, str(head["hash"])) if head else (1, GENESIS)
        fields = {
            "seq": seq,
            "at": self._clock().astimezone(UTC).isoformat(timespec="microseconds"),
            "service": self.service,
            "action": action,
            "actor": actor,
            "target": target,
            "details": details,
            "prev": prev,
        }
        entry = AuditEntry.model_validate({**fields, "hash": chain_hash(fields)})
        await db[AUDIT].insert_one({"_id": seq, **entry.model_dump(mode="json")}, session=session)
        await db[AUDIT_HEAD].update_one(
            {"_id": self.service},
            {"$set": {"seq": seq, "hash": entry.hash}},
            upsert=True,
            session=session,
        )
        return entry

    async def entries(self, *, after: int = 0, limit: int = 0) -> list[AuditEntry]:
        """Entries after number ``after``, oldest first (``limit`` 0: all)."""
        db = self._client()[self._database]
        cursor = db[AUDIT].find({"_id": {"$gt": after}}).sort("_id", ASCENDING).limit(limit)
        return [AuditEntry.model_validate(_entry(doc)) async for doc in cursor]

    async def head(self) -> tuple[int, str] | None:
        """The newest entry's number and hash, as recorded beside the log."""
        doc = await self._client()[self._database][AUDIT_HEAD].find_one({"_id": self.service})
        return (int(doc["seq"]), str(doc["hash"])) if doc else None


def _entry(doc: Document) -> Document:
    return {k: v for k, v in doc.items() if k != "_id"}
