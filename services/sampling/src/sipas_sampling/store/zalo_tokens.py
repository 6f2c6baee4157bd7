"""The Zalo OA's token pair, kept in the service's database for every instance."""

from __future__ import annotations

from typing import Protocol

from typing_extensions import override

from sipas_runtime.channels import TokenPair, TokenStore
from sipas_runtime.mongo import MongoStore
from sipas_sampling.store.collections import ZALO_TOKENS


class ZaloTokenStore(TokenStore, Protocol):
    """The token pair the Zalo channel refreshes, seeded once from the settings."""

    async def bootstrap(self, pair: TokenPair) -> None:
        """Store the first pair if none is stored yet."""
        ...


class MongoZaloTokenStore(MongoStore, ZaloTokenStore):
    """The Zalo OA token pair, swapped atomically (single-use refresh tokens)."""

    async def load(self) -> TokenPair | None:
        """The current pair."""
        doc = await self.db[ZALO_TOKENS].find_one({"_id": "oa"})
        if doc is None:
            return None
        return TokenPair(doc["access_token"], doc["refresh_token"], float(doc["expires_at"]))

    async def swap(self, old_refresh_token: str, new: TokenPair) -> bool:
        """Replace the pair only if it still holds ``old_refresh_token``."""
        result = await self.db[ZALO_TOKENS].update_one(
            {"_id": "oa", "refresh_token": old_refresh_token},
            {
                "$set": {
                    "access_token": new.access_token,
                    "refresh_token": new.refresh_token,
                    "expires_at": new.expires_at,
                }
            },
        )
        return result.modified_count == 1

    @override
    async def bootstrap(self, pair: TokenPair) -> None:
        await self.db[ZALO_TOKENS].update_one(
            {"_id": "oa"},
            {
                "$setOnInsert": {
                    "access_token": pair.access_token,
                    "refresh_token": pair.refresh_token,
                    "expires_at": pair.expires_at,
                }
            },
            upsert=True,
        )
