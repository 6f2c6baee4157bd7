"""Counter tablets (kiosks): device registrations (key hash only) and spent form nonces."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from sipas_contracts.events import ResponseRecorded
from sipas_intake.store.collections import KIOSK_NONCES, KIOSKS
from sipas_intake.store.outbox import Outbox
from sipas_runtime.mongo import Database, Document, in_transaction


class KioskExistsError(ValueError):
    """Raised when a device id is registered twice."""


class KioskStore(Protocol):
    """Counter tablets and the nonces of what they sent."""

    async def register(self, key_hash: str, device: dict[str, Any], now: datetime) -> None:
        """Register a device under the hash of its key."""
        ...

    async def get(self, key_hash: str) -> Document | None:
        """An active device by key hash."""
        ...

    async def devices(self) -> list[Document]:
        """Every device (without key hashes), newest first."""
        ...

    async def revoke(self, device_id: str, now: datetime) -> bool:
        """Stop a device's key from working; False when no active device has that id."""
        ...

    async def record(
        self,
        key_hash: str,
        nonce: str,
        event: ResponseRecorded,
        outbox: Outbox,
        *,
        now: datetime,
        interval: timedelta,
    ) -> str | None:
        """Spend the form nonce, pace the device and queue the event; or say why not."""
        ...


class MongoKioskStore:
    """The ``kiosks`` and ``kiosk_nonces`` collections."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def _kiosks(self) -> AsyncCollection[Document]:
        return self._db[KIOSKS]

    @property
    def _nonces(self) -> AsyncCollection[Document]:
        return self._db[KIOSK_NONCES]

    async def register(self, key_hash: str, device: dict[str, Any], now: datetime) -> None:
        """Register a device under the hash of its key."""
        try:
            await self._kiosks.insert_one(
                {"_id": key_hash, **device, "created_at": now, "revoked_at": None}
            )
        except DuplicateKeyError as exc:
            msg = f"device {device['device_id']!r} is already registered"
            raise KioskExistsError(msg) from exc

    async def get(self, key_hash: str) -> Document | None:
        """An active device by key hash."""
        return await self._kiosks.find_one({"_id": key_hash, "revoked_at": None})

    async def devices(self) -> list[Document]:
        """Every device (without key hashes), newest first."""
        cursor = self._kiosks.find({}, {"_id": 0}).sort("created_at", -1)
        return [doc async for doc in cursor]

    async def revoke(self, device_id: str, now: datetime) -> bool:
        """Stop a device's key from working; False when no active device has that id."""
        result = await self._kiosks.update_one(
            {"device_id": device_id, "revoked_at": None}, {"$set": {"revoked_at": now}}
        )
        return result.modified_count == 1

    async def record(
        self,
        key_hash: str,
        nonce: str,
        event: ResponseRecorded,
        outbox: Outbox,
        *,
        now: datetime,
        interval: timedelta,
    ) -> str | None:
        """Spend the form nonce, pace the device and queue the event; or say why not."""
        outcome: list[str] = []

        async def work(session: AsyncClientSession) -> None:
            device = await self._kiosks.find_one_and_update(
                {
                    "_id": key_hash,
                    "revoked_at": None,
                    "$or": [{"last_answer_at": None}, {"last_answer_at": {"$lte": now - interval}}],
                },
                {"$set": {"last_answer_at": now}},
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            if device is None:
                outcome.append("too_soon")
                return
            await self._nonces.insert_one({"_id": nonce, "at": now}, session=session)
            await outbox.add([event], now, session)

        try:
            await in_transaction(self._db.client, work)
        except DuplicateKeyError:
            return "already_recorded"
        return outcome[0] if outcome else None
