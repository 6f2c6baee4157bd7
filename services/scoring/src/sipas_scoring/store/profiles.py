"""Mongo adapter for campaign scoring profiles and the plans they follow.

``profiles`` holds what operators set explicitly (one document per campaign, with a
revision); ``plans`` the latest ``campaign-planned`` event of each campaign. The profile
in force is computed from both and the service defaults (``domain.profile``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from typing_extensions import override

from sipas_contracts.events import CampaignPlanned
from sipas_runtime.mongo import Collection, Database, Document, MongoStore
from sipas_scoring.domain.profile import CampaignProfile, ProfileSettings, effective_profile

PROFILES = "profiles"
PLANS = "plans"


class ProfileSource(Protocol):
    """Where the profile in force comes from (:class:`ProfileStore`; a fake in tests)."""

    async def get_or_default(self, campaign_id: str) -> CampaignProfile:
        """The profile in force for ``campaign_id`` (the defaults when nothing is stored)."""
        ...


class ProfileStore(Protocol):
    """Profiles and plans; a campaign without either gets the service defaults."""

    async def plan(self, campaign_id: str) -> CampaignPlanned | None:
        """The latest plan sampling announced for a campaign, if any."""
        ...

    async def save_plans(
        self, events: Iterable[CampaignPlanned], session: AsyncClientSession
    ) -> None:
        """Keep each campaign's latest plan (by ``occurred_at``); older ones are ignored."""
        ...

    async def explicit(self, campaign_id: str) -> Document | None:
        """What operators set for a campaign (``settings``, ``revision``, ``updated_by``)."""
        ...

    async def get_or_default(self, campaign_id: str) -> CampaignProfile:
        """The profile in force: service defaults, then the plan, then the operators' choices."""
        ...

    async def put(self, campaign_id: str, explicit: dict[str, Any], actor: str) -> CampaignProfile:
        """Replace what operators set (only the given fields); the revision goes up by one."""
        ...


class MongoProfileStore(MongoStore, ProfileStore):
    """Stored profiles and plans; campaigns without either get the service defaults."""

    def __init__(self, db: Database, defaults: ProfileSettings) -> None:
        super().__init__(db)
        self._defaults = defaults

    _profiles = Collection(PROFILES)
    _plans = Collection(PLANS)

    @override
    async def plan(self, campaign_id: str) -> CampaignPlanned | None:
        doc = await self._plans.find_one({"_id": campaign_id})
        return None if doc is None else CampaignPlanned.model_validate(doc["event"])

    @override
    async def save_plans(
        self, events: Iterable[CampaignPlanned], session: AsyncClientSession
    ) -> None:
        for event in events:
            current = await self._plans.find_one({"_id": event.campaign_id}, session=session)
            if current is not None and current["occurred_at"] > event.occurred_at:
                continue
            await self._plans.replace_one(
                {"_id": event.campaign_id},
                {"event": event.model_dump(mode="json"), "occurred_at": event.occurred_at},
                upsert=True,
                session=session,
            )

    @override
    async def explicit(self, campaign_id: str) -> Document | None:
        return await self._profiles.find_one({"_id": campaign_id})

    @override
    async def get_or_default(self, campaign_id: str) -> CampaignProfile:
        doc = await self.explicit(campaign_id) or {}
        return effective_profile(
            campaign_id,
            self._defaults,
            await self.plan(campaign_id),
            doc.get("settings", {}),
            revision=doc.get("revision", 0),
            updated_by=doc.get("updated_by"),
        )

    @override
    async def put(self, campaign_id: str, explicit: dict[str, Any], actor: str) -> CampaignProfile:
        doc = await self._profiles.find_one_and_update(
            {"_id": campaign_id},
            {
                "$set": {
                    "settings": explicit,
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
        return await self.get_or_default(campaign_id)
