"""The survey funnel per unit and channel: eligible → invited → responded.

- *eligible*: completed dossiers (result delivered) in the campaign window, by submission
  channel — the population before the campaign's exclusions (those are sampling's);
- *invited*: distinct invitations (reminders are not new invitations), by the channel of
  the first attempt;
- *responded*: invitations that produced a response; response rate = responded / invited
  with a Wilson interval;
- *responses*: every response by collection mode, including kiosk and paper forms that
  have no invitation.
Counts are additive, so roll-ups sum them through the hierarchy like the indices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from sipas_contracts.events import CollectionMode
from sipas_contracts.ids import CampaignId, UnitCode
from sipas_contracts.units import UnitHierarchy
from sipas_scoring.domain.indices import Figure
from sipas_scoring.domain.rollups import tier_of
from sipas_scoring.domain.stats import Z_95, wilson


class Answered(BaseModel):
    """What the funnel needs of a response: which invitation it answers, if any."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    campaign_id: CampaignId
    unit: UnitCode
    collection_mode: CollectionMode
    invitation_id: UUID | None = None


def _add(into: dict[str, int], more: Mapping[str, int]) -> None:
    for key, n in more.items():
        into[key] = into.get(key, 0) + n


@dataclass
class FunnelCounts:
    """Additive funnel counts of one unit."""

    eligible: dict[str, int] = field(default_factory=dict)
    invited: dict[str, int] = field(default_factory=dict)
    responded: dict[str, int] = field(default_factory=dict)
    responses: dict[str, int] = field(default_factory=dict)

    def add(self, other: FunnelCounts) -> FunnelCounts:
        """Add ``other`` into this one (in place) and return it."""
        _add(self.eligible, other.eligible)
        _add(self.invited, other.invited)
        _add(self.responded, other.responded)
        _add(self.responses, other.responses)
        return self


def response_rate(responded: int, invited: int, z: float = Z_95) -> Figure:
    """Responded / invited in percent, with a Wilson interval (n = invitations)."""
    if invited <= 0:
        return Figure(None, None, None, 0, sufficient=False)
    low, high = wilson(responded, invited, z)
    return Figure(Fraction(100 * responded, invited), low, high, invited, sufficient=True)


@dataclass(frozen=True)
class ChannelLine:
    """Invitations of one channel and how many were answered."""

    invited: int
    responded: int
    rate: Figure


@dataclass(frozen=True)
class FunnelRow:
    """One unit's funnel."""

    unit: str
    name: str
    tier: str
    rollup: bool
    eligible: dict[str, int]
    channels: dict[str, ChannelLine]
    responses: dict[str, int]
    rate: Figure

    @property
    def eligible_total(self) -> int:
        """Completed dossiers in the window, all submission channels."""
        return sum(self.eligible.values())

    @property
    def invited_total(self) -> int:
        """Distinct invitations, all channels."""
        return sum(c.invited for c in self.channels.values())

    @property
    def responded_total(self) -> int:
        """Invitations answered, all channels."""
        return sum(c.responded for c in self.channels.values())


def funnel_rows(
    counts: Mapping[str, FunnelCounts], hierarchy: UnitHierarchy, on: date, z: float = Z_95
) -> list[FunnelRow]:
    """A row per unit with data and per ancestor on ``on`` (counts summed upward)."""
    rolled: dict[str, FunnelCounts] = {}
    parents: set[str] = set()
    for code, unit_counts in counts.items():
        ancestors = hierarchy.ancestors(code, on) if code in hierarchy.units else []
        parents.update(ancestors)
        for target in [code, *ancestors]:
            rolled.setdefault(target, FunnelCounts()).add(unit_counts)
    rows = []
    for unit in sorted(rolled, key=lambda u: (tier_of(hierarchy, u), u)):
        c = rolled[unit]
        channels = {
            ch: ChannelLine(n, c.responded.get(ch, 0), response_rate(c.responded.get(ch, 0), n, z))
            for ch, n in sorted(c.invited.items())
        }
        known = hierarchy.units.get(unit)
        rows.append(
            FunnelRow(
                unit=unit,
                name=known.name_vi if known else unit,
                tier=tier_of(hierarchy, unit),
                rollup=unit in parents,
                eligible=dict(sorted(c.eligible.items())),
                channels=channels,
                responses=dict(sorted(c.responses.items())),
                rate=response_rate(sum(c.responded.values()), sum(c.invited.values()), z),
            )
        )
    return rows
