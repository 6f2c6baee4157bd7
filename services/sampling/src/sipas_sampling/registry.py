"""The campaigns a sampling instance works with, held in memory and refreshed from Mongo."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import structlog

from sipas_contracts.events import Event
from sipas_contracts.units import UnitHierarchy
from sipas_sampling.domain.campaign import Campaign
from sipas_sampling.domain.plan import continuous_quotas, planned
from sipas_sampling.domain.scope import units_in_scope
from sipas_sampling.settings import Settings
from sipas_sampling.store.campaigns import CampaignStore
from sipas_sampling.store.decisions import DecisionStore

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ActiveCampaign:
    """A campaign with its resolved units, time zone and window bounds (UTC)."""

    campaign: Campaign
    units: frozenset[str]
    zone: ZoneInfo
    status: str = "active"
    starts: datetime = field(init=False)
    ends: datetime = field(init=False)

    def __post_init__(self) -> None:
        window = self.campaign.window
        object.__setattr__(self, "starts", datetime.combine(window.start, time.min, self.zone))
        object.__setattr__(self, "ends", datetime.combine(window.end, time.max, self.zone))

    @property
    def id(self) -> str:
        """The campaign id."""
        return self.campaign.id


def env_campaign(settings: Settings, province: str) -> Campaign:
    """The zero-configuration development campaign (fixed rate, every unit, no quiet hours)."""
    channels = [c.strip() for c in settings.channel_order.split(",") if c.strip()]
    return Campaign.model_validate(
        {
            "id": settings.campaign_id,
            "name_vi": "Chiến dịch phát triển (cấu hình qua biến môi trường)",
            "instrument_id": settings.instrument_id,
            "mode": "continuous",
            "seed": settings.seed,
            "window": {"start": settings.campaign_start, "end": date(2099, 12, 31)},
            "scope": {"under": province},
            "sample_size": {"rate": settings.sampling_rate},
            "channels": channels,
            "token_ttl_days": settings.token_ttl_days,
        }
    )


Announce = Callable[[Sequence[Event]], Awaitable[object]]


class Registry:
    """Active campaigns by id; refreshed periodically so every instance sees API changes.

    Every stored plan is announced (``campaign-planned``) through ``announce``.
    """

    def __init__(
        self,
        hierarchy: UnitHierarchy,
        campaigns: CampaignStore,
        decisions: DecisionStore,
        announce: Announce,
    ) -> None:
        self._hierarchy = hierarchy
        self._campaigns = campaigns
        self._decisions = decisions
        self._announce = announce
        self._active: dict[str, ActiveCampaign] = {}
        self._known: dict[str, str] = {}

    async def save(self, campaign: Campaign, *, frozen: bool = True) -> bool:
        """Validate against the hierarchy, store, set quotas; returns True when new."""
        units = units_in_scope(campaign, self._hierarchy)
        now = datetime.now(UTC)
        created = await self._campaigns.save(campaign, now, frozen=frozen)
        if campaign.mode == "continuous":
            quotas, expected = continuous_quotas(campaign, units)
            if any(q is not None for q in quotas.values()):
                await self._decisions.set_quotas(campaign.id, quotas, expected)
        await self.refresh()
        await self._announce([planned(campaign, units, now)])
        return created

    async def announce_all(self) -> None:
        """Publish every stored plan again (a consumer that joined late learns them all)."""
        stored_at = await self._campaigns.stored_at()
        await self._announce(
            [
                planned(active.campaign, sorted(active.units), stored_at[active.id])
                for active in self._active.values()
                if active.id in stored_at
            ]
        )

    async def refresh(self) -> None:
        """Reload every campaign from Mongo."""
        active: dict[str, ActiveCampaign] = {}
        for campaign, status in await self._campaigns.all():
            if self._known.get(campaign.id) != status and status == "closed":
                self._campaigns.forget_key(campaign.id)
            self._known[campaign.id] = status
            units = frozenset(units_in_scope(campaign, self._hierarchy))
            active[campaign.id] = ActiveCampaign(
                campaign, units, ZoneInfo(campaign.timezone), status
            )
        self._active = active

    def get(self, campaign_id: str) -> ActiveCampaign | None:
        """A campaign by id (active or closed)."""
        return self._active.get(campaign_id)

    def deciding(self) -> list[ActiveCampaign]:
        """Campaigns that take dossiers (not closed)."""
        return [c for c in self._active.values() if c.status == "active"]

    def all(self) -> list[ActiveCampaign]:
        """Every known campaign."""
        return list(self._active.values())
