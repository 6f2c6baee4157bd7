"""Hand-written in-memory stand-ins for the alerts service's stores (each passes its contract).

Imported as ``services.alerts.tests.fakes``; the contract suites in
``integration/test_store_contracts.py`` run the same behaviour against these and the real
Mongo-wire server.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_alerts.domain.activity import DayCount
from sipas_alerts.domain.index_rules import Figure
from sipas_alerts.store.signals import ActivityKey


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


class InMemoryActivityStore:
    """Invitations and responses per (campaign, unit, day) in a dict of counters."""

    def __init__(self) -> None:
        self.days: dict[ActivityKey, Counter[str]] = {}

    async def add(
        self, field: str, counts: Counter[ActivityKey], session: AsyncClientSession | None
    ) -> None:
        for key, n in counts.items():
            self.days.setdefault(key, Counter())[field] += n

    async def since(self, first: date) -> dict[tuple[str, str], dict[date, DayCount]]:
        found: dict[tuple[str, str], dict[date, DayCount]] = {}
        for (campaign, unit, day), fields in self.days.items():
            if day >= first:
                count = DayCount(fields["invitations"], fields["responses"])
                found.setdefault((campaign, unit), {})[day] = count
        return found


class InMemoryFigureStore:
    """The latest version of each (campaign, unit, period) figure in a dict."""

    def __init__(self) -> None:
        self.figures: dict[tuple[str, str, str], Figure] = {}

    async def periods(
        self, campaign_id: str, unit: str, session: AsyncClientSession | None
    ) -> dict[str, Figure]:
        return {
            period: figure
            for (campaign, at, period), figure in self.figures.items()
            if (campaign, at) == (campaign_id, unit)
        }

    async def keep(self, figure: Figure, session: AsyncClientSession | None) -> None:
        key = (figure.campaign_id, figure.unit, figure.period)
        if key not in self.figures or self.figures[key].version < figure.version:
            self.figures[key] = figure
