"""Hand-written in-memory stand-ins for scoring's stores (each passes its store's contract).

Imported as ``services.scoring.tests.fakes``; the contract suites in
``integration/test_store_contracts.py`` run the same behaviour against these and the real
Mongo-wire server.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_contracts.events import CampaignPlanned
from sipas_runtime.mongo import Document
from sipas_scoring.domain.profile import CampaignProfile, ProfileSettings, effective_profile


class InMemoryProfileStore:
    """Plans and operators' settings in dicts, layered over the defaults like the Mongo store."""

    def __init__(self, defaults: ProfileSettings | None = None) -> None:
        self.defaults = defaults or ProfileSettings()
        self.plans: dict[str, CampaignPlanned] = {}
        self.settings: dict[str, Document] = {}

    async def plan(self, campaign_id: str) -> CampaignPlanned | None:
        return self.plans.get(campaign_id)

    async def save_plans(
        self, events: Iterable[CampaignPlanned], session: AsyncClientSession | None
    ) -> None:
        for event in events:
            current = self.plans.get(event.campaign_id)
            if current is None or current.occurred_at <= event.occurred_at:
                self.plans[event.campaign_id] = event

    async def explicit(self, campaign_id: str) -> Document | None:
        return self.settings.get(campaign_id)

    async def get_or_default(self, campaign_id: str) -> CampaignProfile:
        doc = self.settings.get(campaign_id, {})
        return effective_profile(
            campaign_id,
            self.defaults,
            self.plans.get(campaign_id),
            doc.get("settings", {}),
            revision=doc.get("revision", 0),
            updated_by=doc.get("updated_by"),
        )

    async def put(self, campaign_id: str, explicit: dict[str, Any], actor: str) -> CampaignProfile:
        revision = self.settings.get(campaign_id, {}).get("revision", 0) + 1
        self.settings[campaign_id] = {
            "_id": campaign_id,
            "settings": explicit,
            "updated_by": actor,
            "updated_at": datetime.now(UTC),
            "revision": revision,
        }
        return await self.get_or_default(campaign_id)
