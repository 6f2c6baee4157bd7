"""The alerts service's Mongo adapters (the only package that knows Mongo).

Each store is a ``Protocol`` (what the service asks of it) beside its ``Mongo…``
implementation; :class:`Stores` builds every one once, on the service's database.
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
        """Cases, their groups and their alerts."""
        self.reads: CaseReader = MongoCaseReader(db)
        """The queries the case API needs."""
        self.outbox: Outbox = MongoOutbox(db)
        """Emitted events until JetStream has them."""
        self.notifications: NotificationQueue = MongoNotificationQueue(db)
        """Pending and past notifications."""
        self.figures: FigureStore = MongoFigureStore(db)
        """The latest SIPAS figure per (campaign, unit, period)."""
        self.activity: ActivityStore = MongoActivityStore(db)
        """Invitations and responses per (campaign, unit, day)."""
        self.leases: Leases = MongoLeases(db)
        """Named leases with an owner and an expiry."""


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
