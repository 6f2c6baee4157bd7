"""How fieldwork stands per unit: answers recorded through invitations, by mode, and paper forms.

Read from what intake already keeps (used tokens carry the mode they were answered in;
imported paper forms carry campaign, unit and mode), so interviews, online answers and
paper forms show side by side without another copy. Counts only: no answer, no identity.
"""

from __future__ import annotations

from typing import Protocol

from typing_extensions import override

from sipas_intake.store.collections import PAPER_FORMS, TOKENS
from sipas_runtime.mongo import Document, MongoStore

Counts = dict[str, dict[str, int]]
"""unit → collection mode → responses."""


class FieldworkLedger(Protocol):
    """Counts of answers per unit and mode (interviews, online, paper)."""

    async def summary(self, campaign_id: str) -> tuple[Counts, Counts]:
        """(answers through invitations, paper forms imported), per unit and mode."""
        ...


class MongoFieldworkLedger(MongoStore, FieldworkLedger):
    """Counts per unit and mode over the ``tokens`` and ``paper_forms`` collections."""

    async def _grouped(self, collection: str, match: Document) -> Counts:
        pipeline: list[Document] = [
            {"$match": match},
            {"$group": {"_id": {"unit": "$unit", "mode": "$mode"}, "n": {"$sum": 1}}},
        ]
        counts: Counts = {}
        async for row in await self.db[collection].aggregate(pipeline):
            unit, mode = row["_id"]["unit"], row["_id"].get("mode") or "online"
            counts.setdefault(unit, {})[mode] = counts.get(unit, {}).get(mode, 0) + row["n"]
        return counts

    @override
    async def summary(self, campaign_id: str) -> tuple[Counts, Counts]:
        invited = await self._grouped(
            TOKENS, {"campaign_id": campaign_id, "used_at": {"$ne": None}}
        )
        paper = await self._grouped(PAPER_FORMS, {"campaign": campaign_id})
        return invited, paper
