"""Who holds each claim of the units one owner decides for, in memory (issue #22).

A dossier claims its applicant in the unit (one dossier per applicant per unit and
campaign) and itself (a dossier sent again is a repeat, decided before):
``eligibility.claim_key``. The store-backed decision reads and inserts these claims in
its transaction (``MongoDecisionStore.claim``); the owner of a unit's partition answers
them from memory, the same way, and writes the new ones with its next checkpoint as the
same documents (``{_id: key, dossier_id}``), so either path reads what the other wrote.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class ClaimBook:
    """Claims held, and those taken since the last checkpoint."""

    def __init__(self) -> None:
        self._held: dict[str, str] = {}
        self._fresh: dict[str, str] = {}

    def claim(self, claims: Mapping[str, str]) -> tuple[set[str], set[str]]:
        """Claim ``key → dossier``; returns (keys held by another dossier, repeats).

        A repeat is a key this very dossier already held. What was held before this call
        decides, as it does in the store (the batch's own claims are distinct keys).
        """
        found = self.check(claims)
        self.take(claims)
        return found

    def check(self, claims: Mapping[str, str]) -> tuple[set[str], set[str]]:
        """What :meth:`claim` would answer, taking nothing."""
        others = {k for k, d in claims.items() if self._held.get(k, d) != d}
        repeats = {k for k, d in claims.items() if self._held.get(k) == d}
        return others, repeats

    def take(self, claims: Mapping[str, str]) -> None:
        """Hold the keys nobody held yet (a held key keeps its dossier)."""
        for key, dossier in claims.items():
            if key not in self._held:
                self._held[key] = self._fresh[key] = dossier

    def all_documents(self) -> list[dict[str, Any]]:
        """Every claim held, as documents (after a store that may have lost some)."""
        return [{"_id": key, "dossier_id": dossier} for key, dossier in self._held.items()]

    def changed(self) -> list[dict[str, Any]]:
        """The claims taken since the last :meth:`saved`, as documents."""
        return [{"_id": key, "dossier_id": dossier} for key, dossier in self._fresh.items()]

    def saved(self, documents: Iterable[Mapping[str, Any]]) -> None:
        """These claims are stored."""
        for doc in documents:
            self._fresh.pop(doc["_id"], None)

    def load(self, documents: Iterable[Mapping[str, Any]]) -> None:
        """Replace the book by the stored claims."""
        self._held = {doc["_id"]: doc["dossier_id"] for doc in documents}
        self._fresh = {}
