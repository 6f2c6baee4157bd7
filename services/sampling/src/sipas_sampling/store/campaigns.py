"""Campaign definitions, their vault keys, batch draws and the substitution log."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any, Protocol

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError
from typing_extensions import override

from sipas_runtime.mongo import Database, Document, MongoStore, update_many
from sipas_sampling.domain.audit import ANNOUNCED
from sipas_sampling.domain.campaign import Campaign, changed_design_fields, design_digest
from sipas_sampling.store.collections import CAMPAIGN_KEYS, CAMPAIGNS, DRAWS, SUBSTITUTIONS
from sipas_sampling.vault import new_key


class DesignFrozenError(ValueError):
    """Raised when a campaign that already decided is changed in its design fields."""


class CampaignStore(Protocol):
    """Campaigns, their vault keys, draws and substitutions."""

    async def save(self, campaign: Campaign, now: datetime, *, frozen: bool = True) -> bool:
        """Create or update a campaign; returns True when it is new.

        ``frozen=False`` lets a started campaign change its design (development only).
        """
        ...

    async def all(self) -> list[tuple[Campaign, str]]:
        """Every campaign with its status."""
        ...

    async def stored_at(self) -> dict[str, datetime]:
        """When each campaign's current definition was stored."""
        ...

    async def get(self, campaign_id: str) -> tuple[Campaign, str] | None:
        """One campaign with its status."""
        ...

    async def mark_started(self, campaign_ids: list[str]) -> None:
        """Freeze the design of campaigns about to take decisions (once per process)."""
        ...

    async def key(self, campaign_id: str) -> str | None:
        """The campaign's vault key (created on first use; None once shredded)."""
        ...

    async def close(self, campaign_id: str, now: datetime) -> None:
        """Close fieldwork: destroy the vault key (crypto-shredding) and mark closed."""
        ...

    def forget_key(self, campaign_id: str) -> None:
        """Drop a cached key (another instance may have shredded it)."""
        ...

    async def draw(self, campaign_id: str) -> Document | None:
        """The campaign's draw (batch mode), if made."""
        ...

    async def add_draw(
        self, campaign_id: str, document: Document, session: AsyncClientSession
    ) -> None:
        """Store the draw; raises ``DuplicateKeyError`` if one exists."""
        ...

    async def substitutions(
        self, campaign_id: str, session: AsyncClientSession | None = None
    ) -> list[Document]:
        """The substitution log in order."""
        ...

    async def add_substitution(
        self, campaign_id: str, entry: dict[str, Any], session: AsyncClientSession
    ) -> None:
        """Append one chained entry (its seq makes a concurrent append conflict)."""
        ...

    async def unannounced(self, limit: int = 500) -> list[Document]:
        """Entries of every campaign written ``announced: False`` and not marked since."""
        ...

    async def unannounced_draws(self) -> list[Document]:
        """Draws (``_id`` and ``at``) written ``announced: False`` and not marked since."""
        ...

    async def mark_draw_announced(self, campaign_id: str) -> None:
        """Record that the events of a campaign's draw are on the stream."""
        ...

    async def mark_announced(self, campaign_id: str, seq: int) -> None:
        """Record that the events of a campaign's entry ``seq`` are on the stream."""
        ...


class MongoCampaignStore(MongoStore, CampaignStore):
    """Campaigns, keys, draws and substitutions."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._keys: dict[str, str | None] = {}
        self._started: set[str] = set()

    @override
    async def save(self, campaign: Campaign, now: datetime, *, frozen: bool = True) -> bool:
        existing = await self.db[CAMPAIGNS].find_one({"_id": campaign.id})
        definition = campaign.model_dump(mode="json")
        if existing is None:
            try:
                await self.db[CAMPAIGNS].insert_one(
                    {
                        "_id": campaign.id,
                        "definition": definition,
                        "digest": design_digest(campaign),
                        "status": "active",
                        "created_at": now,
                        "updated_at": now,
                        "started": False,
                    }
                )
            except DuplicateKeyError:
                return await self.save(campaign, now, frozen=frozen)
            return True
        old = Campaign.model_validate(existing["definition"])
        changed = changed_design_fields(old, campaign)
        if changed and existing.get("started") and frozen:
            raise DesignFrozenError(
                f"campaign {campaign.id!r} has taken decisions; its design is frozen "
                f"(changed: {', '.join(changed)}); create a new campaign instead"
            )
        await self.db[CAMPAIGNS].update_one(
            {"_id": campaign.id},
            {
                "$set": {
                    "definition": definition,
                    "digest": design_digest(campaign),
                    "updated_at": now,
                }
            },
        )
        return False

    @override
    async def all(self) -> list[tuple[Campaign, str]]:
        return [
            (Campaign.model_validate(d["definition"]), str(d["status"]))
            async for d in self.db[CAMPAIGNS].find({})
        ]

    @override
    async def stored_at(self) -> dict[str, datetime]:
        return {
            str(d["_id"]): d["updated_at"]
            async for d in self.db[CAMPAIGNS].find({}, {"updated_at": 1})
        }

    @override
    async def get(self, campaign_id: str) -> tuple[Campaign, str] | None:
        doc = await self.db[CAMPAIGNS].find_one({"_id": campaign_id})
        return (Campaign.model_validate(doc["definition"]), str(doc["status"])) if doc else None

    @override
    async def mark_started(self, campaign_ids: list[str]) -> None:
        # Outside the decision's transaction on purpose: freezing a little early is harmless,
        # and a retried transaction must not skip it.
        fresh = [c for c in campaign_ids if c not in self._started]
        if fresh:
            await update_many(
                self.db[CAMPAIGNS],
                {"_id": {"$in": fresh}, "started": False},
                {"$set": {"started": True}},
            )
            self._started.update(fresh)

    @override
    async def key(self, campaign_id: str) -> str | None:
        if campaign_id in self._keys:
            return self._keys[campaign_id]
        doc = await self.db[CAMPAIGN_KEYS].find_one({"_id": campaign_id})
        if doc is None:
            with contextlib.suppress(DuplicateKeyError):  # created by another instance
                await self.db[CAMPAIGN_KEYS].insert_one({"_id": campaign_id, "key": new_key()})
            doc = await self.db[CAMPAIGN_KEYS].find_one({"_id": campaign_id})
        value = doc.get("key") if doc else None
        self._keys[campaign_id] = value
        return value

    @override
    async def close(self, campaign_id: str, now: datetime) -> None:
        await self.db[CAMPAIGN_KEYS].update_one(
            {"_id": campaign_id}, {"$set": {"key": None, "shredded_at": now}}, upsert=True
        )
        self._keys[campaign_id] = None
        await self.db[CAMPAIGNS].update_one(
            {"_id": campaign_id}, {"$set": {"status": "closed", "closed_at": now}}
        )

    @override
    def forget_key(self, campaign_id: str) -> None:
        self._keys.pop(campaign_id, None)

    @override
    async def draw(self, campaign_id: str) -> Document | None:
        return await self.db[DRAWS].find_one({"_id": campaign_id})

    @override
    async def add_draw(
        self, campaign_id: str, document: Document, session: AsyncClientSession
    ) -> None:
        await self.db[DRAWS].insert_one({"_id": campaign_id, **document}, session=session)

    @override
    async def substitutions(
        self, campaign_id: str, session: AsyncClientSession | None = None
    ) -> list[Document]:
        cursor = (
            self.db[SUBSTITUTIONS].find({"campaign": campaign_id}, session=session).sort("seq", 1)
        )
        return [doc async for doc in cursor]

    @override
    async def add_substitution(
        self, campaign_id: str, entry: dict[str, Any], session: AsyncClientSession
    ) -> None:
        await self.db[SUBSTITUTIONS].insert_one(
            {"_id": f"{campaign_id}|{entry['seq']:06d}", "campaign": campaign_id, **entry},
            session=session,
        )

    @override
    async def unannounced(self, limit: int = 500) -> list[Document]:
        cursor = (
            self.db[SUBSTITUTIONS]
            .find({ANNOUNCED: False})
            .sort([("campaign", 1), ("seq", 1)])
            .limit(limit)
        )
        return [doc async for doc in cursor]

    @override
    async def unannounced_draws(self) -> list[Document]:
        cursor = self.db[DRAWS].find({ANNOUNCED: False}, {"at": 1}).sort("_id", 1)
        return [doc async for doc in cursor]

    @override
    async def mark_draw_announced(self, campaign_id: str) -> None:
        await self.db[DRAWS].update_one({"_id": campaign_id}, {"$set": {ANNOUNCED: True}})

    @override
    async def mark_announced(self, campaign_id: str, seq: int) -> None:
        await self.db[SUBSTITUTIONS].update_one(
            {"_id": f"{campaign_id}|{seq:06d}"}, {"$set": {ANNOUNCED: True}}
        )
