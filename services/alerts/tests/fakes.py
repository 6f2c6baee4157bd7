"""Hand-written in-memory stand-ins for the alerts service's stores (each passes its contract).

Imported as ``services.alerts.tests.fakes``; the contract suites in
``integration/test_store_contracts.py`` run the same behaviour against these and the real
Mongo-wire server.
"""

from __future__ import annotations

from datetime import datetime, timedelta


class InMemoryLeases:
    """Leases in a dict: owner and the instant the lease ends."""

    def __init__(self) -> None:
        self.held: dict[str, tuple[str, datetime]] = {}

    async def acquire(self, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
        holder, until = self.held.get(name, (owner, now))
        if holder != owner and until >= now:
            return False
        self.held[name] = (owner, now + ttl)
        return True

    async def release(self, name: str, owner: str, *, now: datetime) -> None:
        if name in self.held and self.held[name][0] == owner:
            self.held[name] = (owner, now)
