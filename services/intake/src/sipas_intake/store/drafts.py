"""Survey drafts: what a respondent entered so far, sealed, kept until sent or expired.

One document per token hash holds the sealed draft (see ``security.DraftCipher``), a
version for compare-and-set writes (two tabs saving at once never lose each other's
screens: the loser re-reads and merges again) and the invitation's expiry, after which
MongoDB's TTL monitor removes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pymongo.errors import DuplicateKeyError
from typing_extensions import override

from sipas_intake.store.collections import DRAFTS
from sipas_runtime.mongo import Collection, MongoStore


@dataclass(frozen=True)
class StoredDraft:
    """A sealed draft and the version it was read at (0: none stored yet)."""

    sealed: bytes | None
    version: int


class DraftStore(Protocol):
    """Survey answers entered so far, sealed for the token's holder."""

    async def get(self, token_hash: str) -> StoredDraft:
        """The draft of a token (an empty one at version 0 when none was saved)."""
        ...

    async def put(
        self, token_hash: str, sealed: bytes, *, read_at: int, expires_at: datetime, now: datetime
    ) -> bool:
        """Store a draft if nobody saved since it was read at ``read_at``; False otherwise."""
        ...

    async def delete(self, token_hash: str) -> None:
        """Forget a draft (its response was recorded)."""
        ...


class MongoDraftStore(MongoStore, DraftStore):
    """The ``drafts`` collection."""

    _drafts = Collection(DRAFTS)

    @override
    async def get(self, token_hash: str) -> StoredDraft:
        doc = await self._drafts.find_one({"_id": token_hash})
        if doc is None:
            return StoredDraft(None, 0)
        return StoredDraft(bytes(doc["sealed"]), int(doc["version"]))

    @override
    async def put(
        self, token_hash: str, sealed: bytes, *, read_at: int, expires_at: datetime, now: datetime
    ) -> bool:
        fields = {"sealed": sealed, "version": read_at + 1, "saved_at": now}
        if read_at == 0:
            try:
                await self._drafts.insert_one(
                    {"_id": token_hash, **fields, "expires_at": expires_at}
                )
            except DuplicateKeyError:
                return False
            return True
        result = await self._drafts.update_one(
            {"_id": token_hash, "version": read_at}, {"$set": fields}
        )
        return result.modified_count == 1

    @override
    async def delete(self, token_hash: str) -> None:
        await self._drafts.delete_one({"_id": token_hash})
