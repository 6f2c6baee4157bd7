"""The alerts service's Mongo adapters (the only package that knows Mongo).

Stores, protocols, fakes and contract suites: docs/stores.md.
"""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from sipas_alerts.store.cases import ALERTS, CASES, GROUPS, CaseStore, MongoCaseStore
from sipas_alerts.store.leases import LEASES, Leases, MongoLeases
from sipas_alerts.store.notifications import (
    NOTIFICATIONS,
    MongoNotificationQueue,
    Notification,
    NotificationQueue,
)
from sipas_alerts.store.outbox import OUTBOX, MongoOutbox, Outbox
from sipas_alerts.store.reads import CaseQuery, CaseReader, MongoCaseReader
from sipas_alerts.store.signals import (
    ACTIVITY,
    FIGURES,
    ActivityStore,
    FigureStore,
    MongoActivityStore,
    MongoFigureStore,
)
from sipas_runtime.mongo import Database, Document

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
    """Every alerts store on one database, built once by the service's wiring."""

    def __init__(self, db: Database) -> None:
        self.cases: CaseStore = MongoCaseStore(db)
        self.reads: CaseReader = MongoCaseReader(db)
        self.outbox: Outbox = MongoOutbox(db)
        self.notifications: NotificationQueue = MongoNotificationQueue(db)
        self.figures: FigureStore = MongoFigureStore(db)
        self.activity: ActivityStore = MongoActivityStore(db)
        self.leases: Leases = MongoLeases(db)


async def create_indexes(db: AsyncDatabase[Document]) -> None:
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
