"""What an acknowledged write to the store is worth: the durability a service states.

Every service says at start-up (log event ``store_durability``) and in ``/readyz`` which
server holds its state, whether a commit it was told about is on disk, and the write
concern it writes with. What "on disk" means depends on the server:

- **MongoDB** honours the write concern: ``w: "majority", j: true`` (what
  ``sipas_runtime.mongo`` asks for) acknowledges a commit once it is in the on-disk
  journal of a majority of the replica set.
- **SecantusDB** (the embedded Mongo-wire server) ignores ``j`` on ``commitTransaction``:
  a commit is on disk only when the server runs with ``--sync-on-commit``, and the server
  does not report whether it does. So the embedded launcher *declares* it: right after
  starting a server it writes ``{sync_on_commit, process_id}`` to ``local.sipas_server``,
  where ``process_id`` is the server's ``hello.topologyVersion.processId``. A service
  believes the declaration only while that id is the one the server reports now — a
  server restarted by somebody else, with other flags, is "unknown", not "synced".

Without sync, ``kill -9`` of SecantusDB lost acknowledged commits (issue #16: 5 of 838
small transactions in a 3 s probe); with ``--sync-on-commit`` none.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pymongo import AsyncMongoClient, MongoClient
from pymongo.read_concern import ReadConcern

from sipas_runtime.mongo import Document

DECLARATION_DB = "local"  # facts about one server process, never replicated on MongoDB
DECLARATION_COLLECTION = "sipas_server"
DECLARATION_ID = "durability"


@dataclass(frozen=True)
class StoreDurability:
    """What the store a service writes to does with an acknowledged commit."""

    server: str
    """e.g. ``SecantusDB 0.7.0b3`` or ``MongoDB 8.0.4``."""
    topology: str
    """e.g. ``replica set rs0, 3 members`` or ``standalone``."""
    commits_synced: bool | None
    """True: an acknowledged commit is on disk; False: it may be lost; None: unknown."""
    why: str
    """The reason for ``commits_synced``, for operators."""
    write_concern: dict[str, Any]
    process_id: str
    """The server process's ``topologyVersion.processId`` (changes when it restarts)."""

    def details(self) -> dict[str, Any]:
        """The statement as JSON-ready data (``/readyz``, logs)."""
        return asdict(self)


def process_id(hello: Document) -> str:
    """The server process's identity from a ``hello`` reply ("" when it has none)."""
    return str((hello.get("topologyVersion") or {}).get("processId", ""))


async def describe_store(client: AsyncMongoClient[Document]) -> StoreDurability:
    """Ask the server what it is and decide what an acknowledged commit is worth."""
    hello = await client.admin.command("hello")
    status = await client.admin.command("serverStatus")
    concern = dict(client.write_concern.document)
    pid = process_id(hello)
    members = len(hello.get("hosts") or [])
    topology = (
        f"replica set {hello['setName']}, {members} member{'s' if members != 1 else ''}"
        if hello.get("setName")
        else "standalone"
    )
    if "secantus" in status:
        server = f"SecantusDB {status['secantus'].get('version', '?')}"
        synced, why = await _declared(client, pid)
    else:
        server = f"MongoDB {status.get('version', '?')}"
        synced = bool(concern.get("j")) or None
        why = (
            "journaled write concern: acknowledged once in the on-disk journal"
            if synced
            else "the write concern does not ask for the journal (j)"
        )
    return StoreDurability(server, topology, synced, why, concern, pid)


async def _declared(client: AsyncMongoClient[Document], pid: str) -> tuple[bool | None, str]:
    collection = client[DECLARATION_DB].get_collection(
        DECLARATION_COLLECTION, read_concern=ReadConcern()
    )
    declared = await collection.find_one({"_id": DECLARATION_ID})
    if not declared or declared.get("process_id") != pid:
        return None, (
            "SecantusDB does not report whether it syncs commits, and this server process "
            "was not started by sipas: start it with --sync-on-commit"
        )
    if declared.get("sync_on_commit"):
        return True, "SecantusDB started by sipas with --sync-on-commit"
    return False, "SecantusDB started without --sync-on-commit: kill -9 loses recent commits"


def declare(url: str, *, sync_on_commit: bool) -> None:
    """Record, in the server just started at ``url``, how it was started (launchers only)."""
    client: MongoClient[Document] = MongoClient(url, serverSelectionTimeoutMS=5000)
    try:
        pid = process_id(client.admin.command("hello"))
        client[DECLARATION_DB][DECLARATION_COLLECTION].replace_one(
            {"_id": DECLARATION_ID},
            {"_id": DECLARATION_ID, "sync_on_commit": sync_on_commit, "process_id": pid},
            upsert=True,
        )
    finally:
        client.close()
