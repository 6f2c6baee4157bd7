"""Single sign-on attempts between leaving for the provider and coming back (10 minutes).

Kept by state in the console's database (any instance can take the answer) and bound to
the browser that left: its ``sipas_sso`` cookie must name the same state, so a stranger's
callback link cannot sign someone in as the stranger.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from sipas_console.people.sso import Attempt

ATTEMPTS = "sso_attempts"
COOKIE = "sipas_sso"
LIFETIME = timedelta(minutes=10)


class AttemptStore:
    """Pending sign-on attempts, each usable once."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._attempts = db[ATTEMPTS]

    async def create_indexes(self) -> None:
        """Attempts expire by themselves."""
        await self._attempts.create_index([("ends_at", ASCENDING)], expireAfterSeconds=0)

    async def keep(self, attempt: Attempt, *, now: datetime) -> None:
        """Remember an attempt until the browser comes back."""
        await self._attempts.insert_one(
            {
                "_id": attempt.state,
                "nonce": attempt.nonce,
                "verifier": attempt.verifier,
                "next": attempt.next,
                "ends_at": now + LIFETIME,
            }
        )

    async def take(self, state: str, *, now: datetime) -> Attempt | None:
        """The attempt of ``state``, removed (None when unknown, used or expired)."""
        doc = await self._attempts.find_one_and_delete({"_id": state})
        if doc is None:
            return None
        ends = (
            doc["ends_at"] if doc["ends_at"].tzinfo else doc["ends_at"].replace(tzinfo=now.tzinfo)
        )
        if ends <= now:
            return None
        return Attempt(doc["_id"], doc["nonce"], doc["verifier"], doc["next"])
