"""Alerts' Mongo adapter: raised alerts (the case workflow builds on them)."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from sipas_contracts.events import AlertRaised

ALERTS = "alerts"
COLLECTIONS = (ALERTS,)


class AlertStore:
    """Alerts by id; a redelivered response never stores a second alert."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._alerts = db[ALERTS]

    async def add(self, alerts: list[AlertRaised], session: AsyncClientSession) -> None:
        """Store new alerts (ids are deterministic; existing ones are left untouched)."""
        for alert in alerts:
            await self._alerts.update_one(
                {"_id": alert.alert_id},
                {"$setOnInsert": alert.model_dump(mode="json", exclude={"alert_id"})},
                upsert=True,
                session=session,
            )

    async def list(self, unit: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Most recent alerts, optionally for one unit."""
        query = {"unit": unit} if unit else {}
        cursor = self._alerts.find(query).sort("occurred_at", -1).limit(limit)
        return [doc async for doc in cursor]
