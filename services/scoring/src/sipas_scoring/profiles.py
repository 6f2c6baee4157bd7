"""Mongo adapter for campaign scoring profiles (one document per campaign)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from sipas_scoring.domain.profile import CampaignProfile, ProfileSettings

PROFILES = "profiles"
Document = dict[str, Any]


class ProfileStore:
    """Stored profiles; campaigns without one get the defaults from settings."""

    def __init__(self, db: AsyncDatabase[Document], defaults: ProfileSettings) -> None:
        self._profiles = db[PROFILES]
        self._defaults = defaults

    async def get(self, campaign_id: str) -> CampaignProfile | None:
        """The stored profile of a campaign, if any."""
        doc = await self._profiles.find_one({"_id": campaign_id})
        return None if doc is None else _profile(doc)

    async def get_or_default(self, campaign_id: str) -> CampaignProfile:
        """The stored profile, else revision 0 built from the service defaults."""
        stored = await self.get(campaign_id)
        if stored is not None:
            return stored
        return CampaignProfile(campaign_id=campaign_id, **self._defaults.model_dump())

    async def put(self, campaign_id: str, settings: ProfileSettings, actor: str) -> CampaignProfile:
        """Replace the campaign's settings; the revision goes up by one."""
        doc = await self._profiles.find_one_and_update(
            {"_id": campaign_id},
            {
                "$set": {
                    "settings": settings.model_dump(mode="json"),
                    "updated_by": actor,
                    "updated_at": datetime.now(UTC),
                },
                "$inc": {"revision": 1},
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:  # pragma: no cover - an upsert always returns the document
            msg = f"profile of {campaign_id} was not stored"
            raise RuntimeError(msg)
        return _profile(doc)

    async def all(self) -> list[CampaignProfile]:
        """Every stored profile."""
        return [_profile(doc) async for doc in self._profiles.find({}).sort("_id", 1)]


def _profile(doc: Document) -> CampaignProfile:
    return CampaignProfile(
        campaign_id=doc["_id"],
        revision=doc.get("revision", 0),
        updated_by=doc.get("updated_by"),
        **doc.get("settings", {}),
    )
