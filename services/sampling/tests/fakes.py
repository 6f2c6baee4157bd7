"""Hand-written in-memory stand-ins for sampling's stores (each passes its store's contract).

Imported as ``services.sampling.tests.fakes``; the contract suites in
``integration/test_store_contracts.py`` run the same behaviour against these and the real
Mongo-wire server.
"""

from __future__ import annotations

from sipas_runtime.channels import TokenPair


class InMemoryZaloTokenStore:
    """The Zalo OA's token pair in memory, swapped only by the holder of its refresh token."""

    def __init__(self) -> None:
        self.pair: TokenPair | None = None

    async def load(self) -> TokenPair | None:
        return self.pair

    async def swap(self, old_refresh_token: str, new: TokenPair) -> bool:
        if self.pair is None or self.pair.refresh_token != old_refresh_token:
            return False
        self.pair = new
        return True

    async def bootstrap(self, pair: TokenPair) -> None:
        if self.pair is None:
            self.pair = pair
