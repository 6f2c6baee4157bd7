"""What a campaign's page counts: invitations by unit, list, channel and state; population.

Both reads are one aggregation each over the campaign's documents (indexed by campaign),
so the page costs two round trips however many invitations the campaign has.
"""

from __future__ import annotations

from typing import Protocol

from typing_extensions import override

from sipas_runtime.mongo import Document, MongoStore
from sipas_sampling.domain.progress import InvitationCount
from sipas_sampling.store.collections import INVITATIONS, POPULATION


class ProgressStore(Protocol):
    """The counts behind ``GET /v1/campaigns/{id}``."""

    async def invitations(self, campaign_id: str) -> list[InvitationCount]:
        """Invitations counted by unit, list, current channel and state."""
        ...

    async def eligible(self, campaign_id: str) -> dict[str, int]:
        """Eligible dossiers of a batch campaign's population, by unit."""
        ...


class MongoProgressStore(MongoStore, ProgressStore):
    """Counts behind ``GET /v1/campaigns/{id}``."""

    @override
    async def invitations(self, campaign_id: str) -> list[InvitationCount]:
        pipeline: list[Document] = [
            {"$match": {"campaign": campaign_id}},
            {
                "$group": {
                    "_id": {
                        "unit": "$unit",
                        "list": "$list",
                        "state": "$state",
                        "channel": {"$arrayElemAt": ["$channels", "$channel_index"]},
                    },
                    "n": {"$sum": 1},
                }
            },
        ]
        return [
            InvitationCount(
                unit=d["_id"]["unit"],
                draw_list=d["_id"]["list"],
                channel=d["_id"]["channel"],
                state=d["_id"]["state"],
                n=d["n"],
            )
            async for d in await self.db[INVITATIONS].aggregate(pipeline)
        ]

    @override
    async def eligible(self, campaign_id: str) -> dict[str, int]:
        pipeline: list[Document] = [
            {"$match": {"campaign": campaign_id, "eligible": True}},
            {"$group": {"_id": "$unit", "n": {"$sum": 1}}},
        ]
        return {
            str(d["_id"]): int(d["n"]) async for d in await self.db[POPULATION].aggregate(pipeline)
        }
