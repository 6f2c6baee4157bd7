"""The console's signing keys: made, rotated and published for every service to verify.

One key signs at a time: the newest. Every ``rotate_after`` a new key is made (by whichever
console instance gets there first: the key's rotation slot is unique); keys stay published
in the identity bucket until every token they signed has expired, then are retired. The
private halves stay in the console's database; services only ever see public keys.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from nats.js.kv import KeyValue
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from sipas_runtime.identity.bucket import publish_signing_key, retire_signing_key
from sipas_runtime.identity.tokens import TOKEN_TTL, SigningKey

SIGNING_KEYS = "signing_keys"
log = structlog.get_logger(__name__)


class SigningKeys:
    """The keys in the console's database, the active one cached in memory."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], *, rotate_after: timedelta) -> None:
        self._keys = db[SIGNING_KEYS]
        self.rotate_after = rotate_after
        self.active: SigningKey | None = None

    async def create_indexes(self) -> None:
        """One key per rotation slot (instances racing to rotate make one key)."""
        await self._keys.create_index("slot", unique=True)

    def _slot(self, now: datetime) -> int:
        return int(now.timestamp() // self.rotate_after.total_seconds())

    async def refresh(self, kv: KeyValue, *, now: datetime) -> SigningKey:
        """Make this slot's key if missing, publish live keys, retire expired ones."""
        slot = self._slot(now)
        if await self._keys.find_one({"slot": slot}) is None:
            key = SigningKey.generate()
            try:
                await self._keys.insert_one(
                    {"_id": key.kid, "slot": slot, "jwk": dict(key.private_jwk), "made_at": now}
                )
                log.info("signing_key_made", kid=key.kid)
            except DuplicateKeyError:
                pass  # another instance made this slot's key
        keys = [doc async for doc in self._keys.find({}).sort("slot", DESCENDING)]
        newest = keys[0]
        self.active = SigningKey(newest["_id"], newest["jwk"])
        # A key stops signing when the next one is made; its tokens live TOKEN_TTL more.
        for doc, successor in zip(keys[1:], keys, strict=False):
            if _aware(successor["made_at"]) + TOKEN_TTL + timedelta(minutes=1) < now:
                await retire_signing_key(kv, doc["_id"])
                await self._keys.delete_one({"_id": doc["_id"]})
                log.info("signing_key_retired", kid=doc["_id"])
            else:
                await publish_signing_key(
                    kv, doc["_id"], SigningKey(doc["_id"], doc["jwk"]).public_jwk()
                )
        await publish_signing_key(kv, self.active.kid, self.active.public_jwk())
        return self.active

    async def public_keys(self) -> list[dict[str, Any]]:
        """The JWKS: public halves of the keys still published."""
        keys = [doc async for doc in self._keys.find({}).sort("slot", DESCENDING)]
        return [SigningKey(doc["_id"], doc["jwk"]).public_jwk() for doc in keys]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
