"""Counter tablets (kiosks): device registrations (key hash only) and spent form nonces."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError
from typing_extensions import override

from sipas_contracts.events import ResponseRecorded
from sipas_intake.store.collections import KIOSK_NONCES, KIOSKS
from sipas_intake.store.outbox import Outbox
from sipas_runtime.mongo import Collection, Document, MongoStore, in_transaction


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


class MongoKioskStore(MongoStore, KioskStore):
    """The ``kiosks`` and ``kiosk_nonces`` collections."""

    _kiosks = Collection(KIOSKS)
    _nonces = Collection(KIOSK_NONCES)

    @override
    async def register(self, key_hash: str, device: dict[str, Any], now: datetime) -> None:
        try:
            await self._kiosks.insert_one(
                {"_id": key_hash, **device, "created_at": now, "revoked_at": None}
            )
        except DuplicateKeyError as exc:
            msg = f"device {device['device_id']!r} is already registered"
            raise KioskExistsError(msg) from exc

    @override
    async def get(self, key_hash: str) -> Document | None:
        return await self._kiosks.find_one({"_id": key_hash, "revoked_at": None})

    @override
    async def devices(self) -> list[Document]:
        cursor = self._kiosks.find({}, {"_id": 0}).sort("created_at", -1)
        return [doc async for doc in cursor]

    @override
    async def revoke(self, device_id: str, now: datetime) -> bool:
        result = await self._kiosks.update_one(
            {"device_id": device_id, "revoked_at": None}, {"$set": {"revoked_at": now}}
        )
        return result.modified_count == 1

    @override
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
            await in_transaction(self.db.client, work)
        except DuplicateKeyError:
            return "already_recorded"
        return outcome[0] if outcome else None
