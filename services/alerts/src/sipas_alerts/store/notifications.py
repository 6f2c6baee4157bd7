"""The notification queue: messages to designated contacts, sent after the commit.

A notification is written in the same transaction as the case change that causes it, with
an idempotency key (case, version, change, recipient) as its id; a dispatcher claims due
ones with a lease (several instances never send the same one at the same time), sends
them through a channel and records the outcome. Retryable failures are rescheduled with
backoff; permanent ones are kept with the reason for operators to see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict
from pymongo import ReturnDocument
from typing_extensions import override

from sipas_runtime.mongo import Collection, MongoStore, Session

NOTIFICATIONS = "notifications"
Doc = dict[str, Any]
Status = Literal["pending", "sent", "failed", "skipped"]


class Notification(BaseModel):
    """One message to one recipient about one case change (or an operator alert)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    key: str
    case_id: str | None
    unit: str | None
    kind: str
    channel: Literal["email", "webhook"]
    recipient: str
    subject: str
    text: str
    params: dict[str, str] = {}
    attempts: int = 0
    status: Status = "pending"


@dataclass(frozen=True, slots=True)
class Attempt:
    """How one send of a notification went, and when to try again if it may be."""

    status: Status
    at: datetime
    detail: str = ""
    retry_at: datetime | None = None


class NotificationQueue(Protocol):
    """Pending and past notifications."""

    async def enqueue(
        self, notes: Sequence[Notification], session: Session, *, now: datetime
    ) -> None:
        """Queue notifications (in the caller's transaction)."""
        ...

    async def claim(
        self, *, now: datetime, owner: str, lease: timedelta, limit: int
    ) -> list[Notification]:
        """Take up to ``limit`` due notifications for ``lease`` (nobody else sends them)."""
        ...

    async def settle(self, note: Notification, attempt: Attempt) -> None:
        """Record how a send went: sent, failed for good, skipped, or pending until a retry."""
        ...

    async def of_case(self, case_id: str) -> list[Doc]:
        """Notifications about one case (for its detail view)."""
        ...


class MongoNotificationQueue(MongoStore, NotificationQueue):
    """Pending and past notifications."""

    _queue = Collection(NOTIFICATIONS)

    @override
    async def enqueue(
        self, notes: Sequence[Notification], session: Session, *, now: datetime
    ) -> None:
        docs = [
            {
                "_id": n.key,
                **n.model_dump(exclude={"key"}),
                "created_at": now,
                "next_at": now,
                "lease_until": None,
            }
            for n in notes
        ]
        if docs:
            await self._queue.insert_many(docs, ordered=False, session=session)

    @override
    async def claim(
        self, *, now: datetime, owner: str, lease: timedelta, limit: int
    ) -> list[Notification]:
        claimed: list[Notification] = []
        for _ in range(limit):
            doc = await self._queue.find_one_and_update(
                {
                    "status": "pending",
                    "next_at": {"$lte": now},
                    "$or": [{"lease_until": None}, {"lease_until": {"$lt": now}}],
                },
                {"$set": {"lease_until": now + lease, "lease_owner": owner}},
                sort=[("next_at", 1)],
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                break
            claimed.append(Notification.model_validate({**doc, "key": doc["_id"]}))
        return claimed

    @override
    async def settle(self, note: Notification, attempt: Attempt) -> None:
        update: Doc = {
            "status": attempt.status,
            "attempts": note.attempts + 1,
            "last_error": attempt.detail[:300] or None,
            "lease_until": None,
            "updated_at": attempt.at,
        }
        if attempt.status == "sent":
            update["sent_at"] = attempt.at
        if attempt.retry_at is not None:
            update["next_at"] = attempt.retry_at
        await self._queue.update_one({"_id": note.key}, {"$set": update})

    @override
    async def of_case(self, case_id: str) -> list[Doc]:
        cursor = self._queue.find(
            {"case_id": case_id},
            {"kind": 1, "channel": 1, "recipient": 1, "status": 1, "attempts": 1, "sent_at": 1},
        ).sort("created_at", 1)
        return [doc async for doc in cursor]
