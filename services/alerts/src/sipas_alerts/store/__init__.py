"""The alerts service's Mongo adapters (the only package that knows Mongo)."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from sipas_alerts.store.cases import ALERTS, CASES, GROUPS, CaseStore
from sipas_alerts.store.leases import LEASES, Leases
from sipas_alerts.store.notifications import NOTIFICATIONS, Notification, NotificationQueue
from sipas_alerts.store.outbox import OUTBOX, Outbox
from sipas_alerts.store.reads import CaseQuery, CaseReader
from sipas_alerts.store.signals import ACTIVITY, FIGURES, ActivityStore, FigureStore

COLLECTIONS = (CASES, GROUPS, ALERTS, OUTBOX, NOTIFICATIONS, FIGURES, ACTIVITY, LEASES)

__all__ = [
    "COLLECTIONS",
    "ActivityStore",
    "CaseQuery",
    "CaseReader",
    "CaseStore",
    "FigureStore",
    "Leases",
    "Notification",
    "NotificationQueue",
    "Outbox",
    "Stores",
    "create_indexes",
]


class Stores:
    """Every adapter on one database."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.cases = CaseStore(db)
        self.reads = CaseReader(db)
        self.outbox = Outbox(db)
        self.notifications = NotificationQueue(db)
        self.figures = FigureStore(db)
        self.activity = ActivityStore(db)
        self.leases = Leases(db)


async def create_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    """The indexes the queries need (idempotent)."""
    await db[CASES].create_index([("next_due_at", 1)])
    await db[CASES].create_index([("unit", 1), ("state", 1), ("_id", -1)])
    await db[CASES].create_index([("opened_at", -1)])
    await db[ALERTS].create_index([("case_id", 1), ("occurred_at", -1)])
    await db[ALERTS].create_index([("unit", 1), ("occurred_at", -1)])
    await db[ALERTS].create_index([("source_event_id", 1)])
    await db[OUTBOX].create_index([("source", 1)])
    await db[OUTBOX].create_index([("pending", 1), ("created_at", 1)])
    await db[NOTIFICATIONS].create_index([("status", 1), ("next_at", 1)])
    await db[NOTIFICATIONS].create_index([("case_id", 1)])
    await db[FIGURES].create_index([("campaign_id", 1), ("unit", 1)])
    await db[ACTIVITY].create_index([("day", 1)])
