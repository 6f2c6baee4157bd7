"""The sessions a process's transactions run in, known to the instances that outlive it.

A process killed (kill -9, OOM, a lost machine) inside a transaction leaves that
transaction open on the store, holding the locks of every document it wrote, until the
store reaps it (``transactionLifetimeLimitSeconds``, 60 s by default on MongoDB and on
SecantusDB). Until then every transaction that writes one of those documents fails with
a write conflict and is retried: the successor of a killed service, writing the same
position documents, stalls for a minute.

So each service process records, in its own database (``runtime_instances``), the
sessions its transactions ran in, ``{_id: instance, service, roles, lsids: [...], at}``, and
beats (``at``) every :data:`BEAT_SECONDS`. Any instance of the same service that finds a
record not beaten for :data:`DEAD_AFTER_SECONDS` ends that record's sessions
(``killSessions``: the store aborts their open transactions and releases the locks at
once) and removes it. The same record tells the other instances of the service that this
one is alive and what it does (``roles``, :meth:`InstanceSessions.live`: sampling spreads
the partitions of its dossiers over the live deciding instances). A taker-over that
knows whose state it takes (``checkpoints.claim``) ends the previous owner's sessions at
once, without waiting for its record to age.

Ending the sessions of an instance that is only slow, not dead, costs it a retry: its
open transaction is aborted, and the driver runs it again (``NoSuchTransaction`` carries
the ``TransientTransactionError`` label); the record is beaten again with every session
it knows. Clocks: ``at`` is the beating host's clock, compared with the reaping host's;
hosts are expected to keep time within a second (NTP), far below :data:`DEAD_AFTER_SECONDS`.

Recording costs one write per new session, not per transaction: the driver reuses its
server sessions (a pool), so a process uses about as many as it runs transactions at once.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from bson import Binary
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError

from sipas_runtime.mongo import Document
from sipas_runtime.partitions import live_instances

log = structlog.get_logger(__name__)
INSTANCES = "runtime_instances"
BEAT_SECONDS = 1.0
DEAD_AFTER_SECONDS = 5.0


def session_id(lsid: Any) -> Document:  # noqa: ANN401 - as the driver or the store gives it
    """A session id as the server takes it back (a client may decode its UUID natively)."""
    value = lsid["id"]
    return {"id": value if isinstance(value, Binary) else Binary.from_uuid(value)}


async def end_sessions(client: AsyncMongoClient[Document], lsids: Iterable[Any]) -> None:
    """End sessions (``killSessions``): the store aborts their open transactions at once."""
    ids = [session_id(lsid) for lsid in lsids]
    if ids:
        await client.admin.command({"killSessions": ids})


class InstanceSessions:
    """A process's record of its sessions, and the reaping of dead instances' (docstring)."""

    def __init__(
        self,
        client: AsyncMongoClient[Document],
        database: str,
        instance: str,
        service: str,
        roles: Iterable[str] = (),
    ) -> None:
        self._client = client
        self._collection = client[database][INSTANCES]
        self.instance = instance
        self._service = service
        self._roles = sorted(roles)
        self._known: dict[bytes, Document] = {}

    async def start(self) -> None:
        """Record this instance; end the sessions of dead ones; route transactions here."""
        await self.beat()
        _registered[id(self._client)] = (weakref.ref(self._client), self)

    async def stop(self) -> None:
        """On stop: forget the record (the client ends its sessions as it closes)."""
        _registered.pop(id(self._client), None)
        await self._collection.delete_one({"_id": self.instance})

    async def note(self, session: AsyncClientSession) -> None:
        """Record ``session`` before a transaction runs in it (once per session)."""
        lsid = session_id(session.session_id)
        key = bytes(lsid["id"])
        if key not in self._known:
            self._known[key] = lsid
            await self._record()

    async def beat(self) -> None:
        """Say this instance is alive, then end the sessions of the ones that are not."""
        await self._record()
        stale = datetime.now(UTC) - timedelta(seconds=DEAD_AFTER_SECONDS)
        async for dead in self._collection.find({"at": {"$lt": stale}}):
            await self._reap(dead)

    async def live(self, role: str, within: float) -> set[str]:
        """The instances with ``role`` that beat in the last ``within`` seconds (this one too)."""
        now = datetime.now(UTC)
        beats = {
            doc["_id"]: (_aware(doc["at"]) + timedelta(seconds=within)).timestamp()
            async for doc in self._collection.find({"roles": role}, {"at": 1})
        }
        alive = live_instances(beats, now.timestamp())
        return alive | ({self.instance} if role in self._roles else set())

    async def end(self, instance: str) -> None:
        """End ``instance``'s sessions now (its state was taken over: it is dead or fenced)."""
        if instance and instance != self.instance:
            record = await self._collection.find_one({"_id": instance})
            if record is not None:
                await end_sessions(self._client, record.get("lsids", []))

    async def _record(self) -> None:
        await self._collection.update_one(
            {"_id": self.instance},
            {
                "$set": {"service": self._service, "roles": self._roles, "at": datetime.now(UTC)},
                "$addToSet": {"lsids": {"$each": list(self._known.values())}},
            },
            upsert=True,
        )

    async def _reap(self, dead: Document) -> None:
        try:
            await end_sessions(self._client, dead.get("lsids", []))
        except PyMongoError:  # e.g. not allowed: the store reaps them itself, a minute later
            log.exception("dead_instance_sessions_not_ended", instance=dead["_id"])
        else:
            sessions = len(dead.get("lsids", []))
            log.warning("dead_instance_sessions_ended", instance=dead["_id"],
                        sessions=sessions, beaten=dead["at"].isoformat())  # fmt: skip
        await self._collection.delete_one({"_id": dead["_id"], "at": dead["at"]})


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # a client without tz_aware


_registered: dict[int, tuple[weakref.ref[AsyncMongoClient[Document]], InstanceSessions]] = {}


def of(client: AsyncMongoClient[Document]) -> InstanceSessions | None:
    """The record of sessions of this client's process, if it keeps one (services do)."""
    entry = _registered.get(id(client))
    if entry is None or entry[0]() is not client:
        return None
    return entry[1]
