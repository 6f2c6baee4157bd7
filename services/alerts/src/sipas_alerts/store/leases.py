"""Leases: which instance runs a periodic job right now (SLA sweep, relay, rules).

Several alerts instances may run; each job is taken by one of them for ``ttl`` at a time.
A lease is one document, acquired with a conditional upsert: free (expired) or already
ours. Losing the race shows up as a duplicate key, which simply means "not this time".
Jobs still guard each write (case versions, notification keys), so an instance that
overruns its lease cannot apply a change twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from pymongo.errors import DuplicateKeyError
from typing_extensions import override

from sipas_runtime.mongo import Collection, MongoStore

LEASES = "leases"


class Leases(Protocol):
    """Named leases with an owner and an expiry."""

    async def acquire(self, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
        """Take (or extend) lease ``name`` for ``owner``; False when someone else holds it."""
        ...

    async def release(self, name: str, owner: str, *, now: datetime) -> None:
        """Give lease ``name`` back early (only if ``owner`` still holds it)."""
        ...


class MongoLeases(MongoStore, Leases):
    """Named leases with an owner and an expiry."""

    _leases = Collection(LEASES)

    @override
    async def acquire(self, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
        try:
            await self._leases.update_one(
                {"_id": name, "$or": [{"until": {"$lt": now}}, {"owner": owner}]},
                {"$set": {"owner": owner, "until": now + ttl}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True

    @override
    async def release(self, name: str, owner: str, *, now: datetime) -> None:
        await self._leases.update_one({"_id": name, "owner": owner}, {"$set": {"until": now}})
