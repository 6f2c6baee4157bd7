"""Hand-written in-memory stand-ins for sampling's stores (each passes its store's contract).

Imported as ``services.sampling.tests.fakes``; the contract suites in
``integration/test_store_contracts.py`` run the same behaviour against these and the real
Mongo-wire server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_runtime.channels import TokenPair
from sipas_runtime.writes import Writes


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


class InMemoryContactStore:
    """Invitation times and opt-out scopes in dicts (recorded at once: no transaction)."""

    def __init__(self) -> None:
        self.invited: dict[str, list[datetime]] = {}
        self.optouts: dict[str, list[str]] = {}

    async def contact_history(
        self, pseudonyms: Iterable[str], session: AsyncClientSession | None
    ) -> dict[str, list[datetime]]:
        return {p: list(self.invited[p]) for p in set(pseudonyms) if p in self.invited}

    def record_contacts(self, invited: Mapping[str, datetime], writes: Writes) -> None:
        for pseudonym, at in invited.items():
            self.invited[pseudonym] = [*self.invited.get(pseudonym, []), at][-20:]

    async def opted_out(
        self, hashes: Iterable[str], session: AsyncClientSession | None = None
    ) -> dict[str, list[str]]:
        return {h: list(self.optouts[h]) for h in set(hashes) if h in self.optouts}

    async def add_optouts(self, hashes: Iterable[str], channels: list[str], at: datetime) -> None:
        for h in hashes:
            known = self.optouts.setdefault(h, [])
            known += [c for c in channels if c not in known]
