"""Hand-written in-memory stand-ins for intake's stores (each passes its store's contract).

Imported as ``services.intake.tests.fakes``; the contract suites in
``integration/test_store_contracts.py`` run the same behaviour against these and the real
Mongo-wire server.
"""

from __future__ import annotations

from datetime import datetime

from sipas_intake.store.drafts import StoredDraft


class InMemoryDraftStore:
    """Drafts in a dict, versioned like the Mongo store (expiry is the server's TTL: none)."""

    def __init__(self) -> None:
        self.drafts: dict[str, StoredDraft] = {}

    async def get(self, token_hash: str) -> StoredDraft:
        return self.drafts.get(token_hash, StoredDraft(None, 0))

    async def put(
        self, token_hash: str, sealed: bytes, *, read_at: int, expires_at: datetime, now: datetime
    ) -> bool:
        if (await self.get(token_hash)).version != read_at:
            return False
        self.drafts[token_hash] = StoredDraft(sealed, read_at + 1)
        return True

    async def delete(self, token_hash: str) -> None:
        self.drafts.pop(token_hash, None)
