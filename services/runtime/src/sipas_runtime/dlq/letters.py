"""Dead letters: what a consumer set aside, on the DLQ stream and in its own store.

A consumer that gives up on a message publishes the original bytes on
``sipas.dlq.<service>`` with the reason in headers (for people: ``sipas dlq list``), then
records ``{durable, seq}`` in its own ``dead_letters`` collection. That record is what a
replay trusts (``sipas dlq replay``): a letter is applied again only to the consumer that
recorded it, from the source stream by sequence, and taking the record is part of the
transaction that applies it — so a letter is replayed at most once, and a forged letter
(whose body or headers anyone with the DLQ subject could write) names no record.
A message of a stream that holds personal data in clear (the raw TTHC records) is never
copied: its letter has an empty body and ``Sipas-Dlq-Body: withheld``, and is read or
replayed from its source while the stream keeps it.
Resuming (``sipas_runtime.resume``) skips recorded sequences: a poison message is not
replayed into the DLQ again at every start.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote, unquote

import structlog
from nats.js import JetStreamContext
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from sipas_contracts import subjects
from sipas_contracts.streams import PERSONAL_DATA_STREAMS
from sipas_runtime.logs import mask_text
from sipas_runtime.messages import StreamMessage
from sipas_runtime.metrics import RuntimeMetrics
from sipas_runtime.mongo import Document

log = structlog.get_logger(__name__)
DEAD = "dead_letters"
_MAX_REASON = 1500
# NATS header values must be ASCII: the reason is percent-encoded (UTF-8), which leaves
# ASCII text readable as is; decode_reason() restores Vietnamese text exactly.
_HEADER_SAFE = "".join(chr(c) for c in range(32, 127) if chr(c) != "%")


def decode_reason(header_value: str) -> str:
    """The human-readable reason stored in a ``Sipas-Dlq-Reason`` header."""
    return unquote(header_value)


def failure_reason(exc: BaseException) -> str:
    """What a dead letter says about a failed handler: the error's kind and codes.

    A database error's text quotes the documents it failed on (a duplicate key error holds
    the whole invitation), so only its codes are kept; other errors keep their message with
    phone numbers and e-mail addresses masked.
    """
    name = type(exc).__name__
    if not isinstance(exc, PyMongoError):
        return f"handler failed: {name}: {mask_text(str(exc))}"
    details = getattr(exc, "details", None)
    errors = list(getattr(exc, "write_errors", None) or [])
    if isinstance(details, dict):
        errors += details.get("writeErrors") or []
    codes = {e.get("code") for e in errors if isinstance(e, dict)}
    codes.add(getattr(exc, "code", None))
    known = sorted(str(c) for c in codes if c is not None)
    return f"handler failed: {name}" + (f" (error code {', '.join(known)})" if known else "")


def record_id(durable: str, seq: int) -> str:
    """The ``_id`` of a consumer's record of the dead letter of stream sequence ``seq``."""
    return f"{durable}:{seq}"


class DeadLetters:
    """Publishes unprocessable messages to ``sipas.dlq.<service>`` and records them."""

    def __init__(
        self,
        js: JetStreamContext,
        metrics: RuntimeMetrics,
        database: Callable[[], AsyncDatabase[Document]],
    ) -> None:
        self._js = js
        self._metrics = metrics
        self._database = database

    async def send(self, msg: StreamMessage, *, consumer: str, kind: str, reason: str) -> None:
        """Store ``msg``'s original bytes on the DLQ stream, then record it; raises on failure."""
        headers = {
            "Nats-Msg-Id": f"dlq:{consumer}:{msg.seq}",
            "Sipas-Dlq-Kind": kind,
            "Sipas-Dlq-Reason": quote(" ".join(reason[:_MAX_REASON].split()), safe=_HEADER_SAFE),
            "Sipas-Dlq-Consumer": consumer,
            "Sipas-Dlq-Stream": msg.stream,
            "Sipas-Dlq-Stream-Seq": str(msg.seq),
            "Sipas-Dlq-Subject": msg.subject,
            "Sipas-Dlq-At": datetime.now(UTC).isoformat(),
        }
        body = msg.data
        if msg.stream in PERSONAL_DATA_STREAMS:
            body, headers["Sipas-Dlq-Body"] = b"", "withheld"
        await self._js.publish(subjects.dead_letter(self._metrics.service), body, headers=headers)
        await self._database()[DEAD].update_one(
            {"_id": record_id(consumer, msg.seq)},
            {
                "$setOnInsert": {
                    "durable": consumer,
                    "stream": msg.stream,
                    "seq": msg.seq,
                    "kind": kind,
                    "at": datetime.now(UTC),
                }
            },
            upsert=True,
        )
        self._metrics.dead_letters.labels(self._metrics.service, consumer, kind).inc()
        log.warning("dead_lettered", consumer=consumer, kind=kind, reason=reason[:300], seq=msg.seq)


async def dead_sequences(database: AsyncDatabase[Document], durable: str) -> set[int]:
    """Stream sequences ``durable`` has dead-lettered and not replayed since."""
    prefix = f"{durable}:"
    cursor = database[DEAD].find(
        {"_id": {"$gte": prefix, "$lt": f"{durable};"}}, {"seq": 1}
    )  # ':' + 1 == ';': the ids of this durable only
    return {int(doc["seq"]) async for doc in cursor}


async def take(
    database: AsyncDatabase[Document], durable: str, seq: int, session: AsyncClientSession
) -> bool:
    """Remove the record of a dead letter in ``session``'s transaction; False if there is none."""
    result = await database[DEAD].delete_one({"_id": record_id(durable, seq)}, session=session)
    return result.deleted_count == 1
