"""What the index and activity rules remember (figures per period, counts per day).

The last figure per (campaign, unit, period), and invitations and responses per
(campaign, unit, local day).

Scoring publishes only the latest index per (campaign, unit); the drop rule needs the
previous period's figure, so alerts keeps its own copy rather than asking scoring.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from datetime import date
from typing import Any, Protocol

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from typing_extensions import override

from sipas_alerts.domain.activity import DayCount
from sipas_alerts.domain.index_rules import Figure, UnitKey
from sipas_runtime.mongo import Collection, MongoStore
from sipas_runtime.writes import Writes

FIGURES = "figures"
ACTIVITY = "activity"
Doc = dict[str, Any]
ActivityKey = tuple[str, str, date]
"""(campaign, unit, local day)"""


class FigureStore(Protocol):
    """The latest SIPAS figure per (campaign, unit, period)."""

    async def periods(
        self, units: AbstractSet[UnitKey], session: AsyncClientSession
    ) -> dict[UnitKey, dict[str, Figure]]:
        """Every period known for each (campaign, unit) of ``units``, in one read.

        A (campaign, unit) with no figure is absent from the result.
        """
        ...

    def keep(self, figures: Iterable[Figure], writes: Writes) -> None:
        """Remember ``figures`` with the batch's writes, replacing their periods' figures.

        The caller keeps only figures newer than the stored ones, as it read them with
        :meth:`periods` in the same transaction (a concurrent writer makes the
        transaction conflict and retry with fresh reads).
        """
        ...


class MongoFigureStore(MongoStore, FigureStore):
    """The latest SIPAS figure per (campaign, unit, period)."""

    _figures = Collection(FIGURES)

    @override
    async def periods(
        self, units: AbstractSet[UnitKey], session: AsyncClientSession
    ) -> dict[UnitKey, dict[str, Figure]]:
        if not units:
            return {}
        campaigns = sorted({campaign for campaign, _ in units})
        names = sorted({unit for _, unit in units})
        # One query on the (campaign_id, unit) index; with several campaigns it may also
        # return pairs nobody asked for, which are left out.
        cursor = self._figures.find(
            {"campaign_id": {"$in": campaigns}, "unit": {"$in": names}}, session=session
        )
        found: dict[UnitKey, dict[str, Figure]] = {}
        async for doc in cursor:
            key = (doc["campaign_id"], doc["unit"])
            if key in units:
                found.setdefault(key, {})[doc["period"]] = _figure(doc)
        return found

    @override
    def keep(self, figures: Iterable[Figure], writes: Writes) -> None:
        for figure in figures:
            key = f"{figure.campaign_id}|{figure.unit}|{figure.period}"
            writes.replace(FIGURES, {"_id": key}, figure.model_dump(), upsert=True)


def _figure(doc: Doc) -> Figure:
    return Figure.model_validate({k: v for k, v in doc.items() if k != "_id"})


class ActivityStore(Protocol):
    """Invitations and responses per (campaign, unit, day), as additive counters."""

    async def add(
        self, field: str, counts: Counter[ActivityKey], session: AsyncClientSession
    ) -> None:
        """``$inc`` ``field`` (invitations or responses) by ``counts``: one write per key."""
        ...

    async def since(self, first: date) -> dict[tuple[str, str], dict[date, DayCount]]:
        """Counts from ``first`` on, by (campaign, unit) and day."""
        ...


class MongoActivityStore(MongoStore, ActivityStore):
    """Invitations and responses per (campaign, unit, day), as additive counters."""

    _days = Collection(ACTIVITY)

    @override
    async def add(
        self, field: str, counts: Counter[ActivityKey], session: AsyncClientSession
    ) -> None:
        ops = [
            UpdateOne(
                {"_id": f"{campaign}|{unit}|{day.isoformat()}"},
                {
                    "$inc": {field: n},
                    "$setOnInsert": {"campaign_id": campaign, "unit": unit, "day": day.isoformat()},
                },
                upsert=True,
            )
            for (campaign, unit, day), n in counts.items()
        ]
        if ops:
            await self._days.bulk_write(ops, ordered=False, session=session)

    @override
    async def since(self, first: date) -> dict[tuple[str, str], dict[date, DayCount]]:
        found: dict[tuple[str, str], dict[date, DayCount]] = {}
        async for doc in self._days.find({"day": {"$gte": first.isoformat()}}):
            days = found.setdefault((doc["campaign_id"], doc["unit"]), {})
            days[date.fromisoformat(doc["day"])] = DayCount(
                doc.get("invitations", 0), doc.get("responses", 0)
            )
        return found
