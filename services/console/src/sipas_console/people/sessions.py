"""Server-side sessions behind an HttpOnly cookie, each with its own CSRF token.

The cookie holds 256 random bits; the database keeps only their SHA-256 (a stolen database
dump opens no session). A session is ``pending`` after a correct password when a second
factor is due, ``active`` once signed in; it ends at sign-out, after ``IDLE`` without use
or ``LIFETIME`` after sign-in, whichever comes first (a TTL index removes it).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from sipas_runtime.mongo import delete_many

SESSIONS = "sessions"
COOKIE = "sipas_session"
IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=10)
PENDING = timedelta(minutes=5)
TOUCH_EVERY = timedelta(minutes=1)
Stage = Literal["pending", "active"]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    """A signed-in (or half signed-in) person's session."""

    id: str
    person_id: str
    stage: Stage
    csrf: str
    started_at: datetime
    seen_at: datetime
    ends_at: datetime
    method: str = "password"


class SessionStore:
    """Sessions in the console's database."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._sessions = db[SESSIONS]

    async def create_indexes(self) -> None:
        """Sessions expire by themselves."""
        await self._sessions.create_index([("ends_at", ASCENDING)], expireAfterSeconds=0)

    async def open(
        self, person_id: str, stage: Stage, *, now: datetime, method: str = "password"
    ) -> tuple[str, Session]:
        """A new session; the cookie value (shown only here) and the session."""
        token = secrets.token_urlsafe(32)
        ends = now + (PENDING if stage == "pending" else IDLE)
        session = Session(
            _digest(token), person_id, stage, secrets.token_urlsafe(32), now, now, ends, method
        )
        await self._sessions.insert_one(
            {
                "_id": session.id,
                "person_id": person_id,
                "stage": stage,
                "csrf": session.csrf,
                "started_at": now,
                "seen_at": now,
                "ends_at": ends,
                "method": method,
            }
        )
        return token, session

    async def find(self, token: str, *, now: datetime) -> Session | None:
        """The live session of a cookie value (its idle time restarts)."""
        doc = await self._sessions.find_one({"_id": _digest(token)})
        if doc is None or _aware(doc["ends_at"]) <= now:
            return None
        session = Session(
            doc["_id"], doc["person_id"], doc["stage"], doc["csrf"], _aware(doc["started_at"]),
            _aware(doc["seen_at"]), _aware(doc["ends_at"]), doc.get("method", "password"),
        )  # fmt: skip
        if session.stage == "active" and now - session.seen_at >= TOUCH_EVERY:
            ends = min(now + IDLE, session.started_at + LIFETIME)
            await self._sessions.update_one(
                {"_id": session.id}, {"$set": {"seen_at": now, "ends_at": ends}}
            )
        return session

    async def close(self, session_id: str) -> None:
        """End a session (sign-out)."""
        await self._sessions.delete_one({"_id": session_id})

    async def close_all(self, person_id: str) -> int:
        """End every session of a person (deactivated, roles changed, password reset)."""
        return await delete_many(self._sessions, {"person_id": person_id})


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
