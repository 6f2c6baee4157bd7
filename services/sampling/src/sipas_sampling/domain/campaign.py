"""A survey campaign: what is measured, on whom, how many, how they are drawn and invited.

A campaign is data (YAML file or JSON through the API) validated into :class:`Campaign`.
Errors name the field and the reason. Once a campaign has taken decisions its *design*
(seed, window, scope, population, sample size, allocation, mode) is frozen, so that every
draw can be re-run; only operational fields (channels, quiet hours, reminders, templates)
may change. :func:`design_digest` fingerprints the frozen part.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Literal, Self

from pydantic import Field, model_validator

from sipas_contracts.events import ApplicantKind, InvitationChannel
from sipas_contracts.ids import CampaignId, UnitCode
from sipas_sampling.domain.outreach import CampaignPart, QuietHours, Templates

Mode = Literal["continuous", "batch"]
KINDS: tuple[ApplicantKind, ...] = ("individual", "organisation")


class Window(CampaignPart):
    """Dossiers whose result was delivered from ``start`` to ``end`` (inclusive, local dates)."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class Scope(CampaignPart):
    """Units in scope: an explicit list, or every leaf under a unit (minus exclusions)."""

    units: tuple[UnitCode, ...] = ()
    under: UnitCode | None = None
    exclude: tuple[UnitCode, ...] = ()

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if bool(self.units) == bool(self.under):
            raise ValueError("give either 'units' (a list) or 'under' (a parent unit code)")
        return self


class Exclusions(CampaignPart):
    """Who is left out of the population (seed 002: online, postal and non-residents)."""

    online: bool = False
    postal: bool = False
    non_resident: bool = False
    minor: bool = False
    unknown_residence_is_resident: bool = True


class ContactCap(CampaignPart):
    """At most ``max_invitations`` to one applicant within ``days``, across campaigns."""

    max_invitations: int = Field(default=1, ge=1, le=100)
    days: int = Field(default=90, ge=1, le=3650)


class Population(CampaignPart):
    """Population rules applied to every completed dossier."""

    exclude: Exclusions = Exclusions()
    procedure_fields: tuple[str, ...] = Field(
        default=(), description="Only these fields (lĩnh vực); empty = all"
    )
    one_per_applicant: bool = Field(
        default=True, description="One dossier per applicant per unit per campaign"
    )
    contact_cap: ContactCap | None = None


class Slovin(CampaignPart):
    """n = N / (1 + N·e²) with N the population (given, or observed at the draw)."""

    margin: float = Field(gt=0, lt=1)
    population: int | None = Field(default=None, ge=1)


class Precision(CampaignPart):
    """Cochran's n for a share with finite-population correction."""

    margin: float = Field(gt=0, lt=1)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    proportion: float = Field(default=0.5, gt=0, lt=1)
    population: int | None = Field(default=None, ge=1)


class SampleSize(CampaignPart):
    """Exactly one way to size the sample (``rate`` = fixed Bernoulli rate, no quotas)."""

    total: int | None = Field(default=None, ge=1)
    slovin: Slovin | None = None
    precision: Precision | None = None
    rate: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [
            k for k in ("total", "slovin", "precision", "rate") if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(f"give exactly one of total, slovin, precision, rate (got {given})")
        return self


class FixedPerUnit(CampaignPart):
    """The same quota per unit and applicant kind (seed 002: 15 + 10)."""

    individual: int = Field(ge=0)
    organisation: int = Field(ge=0)
    transfer: bool = Field(
        default=True, description="Move a kind's shortfall to the other kind of the same unit"
    )


class Proportional(CampaignPart):
    """Quota in proportion to each unit's dossier count, with floor, cap, largest remainder."""

    floor: int = Field(default=0, ge=0)
    cap: int | None = Field(default=None, ge=1)
    basis: dict[UnitCode, int] | None = Field(
        default=None, description="Dossier counts per unit (e.g. last year); None = observed"
    )

    @model_validator(mode="after")
    def _sane(self) -> Self:
        if self.cap is not None and self.cap < self.floor:
            raise ValueError(f"cap {self.cap} is below floor {self.floor}")
        if self.basis is not None and any(v < 0 for v in self.basis.values()):
            raise ValueError("basis counts must be >= 0")
        return self


class Allocation(CampaignPart):
    """How the total is shared between units."""

    fixed_per_unit: FixedPerUnit | None = None
    proportional: Proportional | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.fixed_per_unit is None) == (self.proportional is None):
            raise ValueError("give exactly one of fixed_per_unit, proportional")
        return self


class Reserve(CampaignPart):
    """Reserve list size per stratum: ``ratio`` of the official quota, rounded up."""

    ratio: float = Field(default=0.5, ge=0, le=5)


class Campaign(CampaignPart):
    """A campaign as the operator writes it."""

    id: CampaignId
    as_of: date | None = Field(
        default=None,
        description="Day the plan's dates are written for (a template; see domain.template)",
    )
    name_vi: str = Field(min_length=1, max_length=300)
    name_en: str | None = Field(default=None, max_length=300)
    instrument_id: str = Field(min_length=1)
    mode: Mode
    seed: str = Field(min_length=4, max_length=200, description="Published draw seed")
    window: Window
    fieldwork_end: date | None = Field(
        default=None, description="Contacts are destroyed after this day (default: window end)"
    )
    scope: Scope
    population: Population = Population()
    sample_size: SampleSize | None = None
    allocation: Allocation | None = None
    reserve: Reserve = Reserve()
    channels: tuple[InvitationChannel, ...] = Field(min_length=1)
    quiet_hours: QuietHours | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    reminder_days: tuple[int, ...] = Field(default=(), max_length=5)
    token_ttl_days: int = Field(default=14, ge=1, le=120)
    expected_response_rate: float = Field(default=0.3, gt=0, le=1)
    n_min_unit: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="Respondents a unit needs to be ranked; default: scoring's (30), or "
        "planned_per_unit when the plan samples fewer",
    )
    templates: Templates = Templates()

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        size = self.sample_size
        if size is not None and size.rate is not None:
            if self.mode != "continuous" or self.allocation is not None:
                raise ValueError("sample_size.rate is for continuous campaigns without allocation")
        elif self.allocation is None:
            raise ValueError("allocation is required unless sample_size.rate is given")
        elif self.allocation.proportional is not None and size is None:
            raise ValueError("proportional allocation needs sample_size (total/slovin/precision)")
        elif self.allocation.fixed_per_unit is not None and size is not None:
            raise ValueError("fixed_per_unit sets the sample size itself: drop sample_size")
        if self.mode == "continuous" and self._needs_basis():
            raise ValueError(
                "continuous proportional allocation needs allocation.proportional.basis"
            )
        self._check_threshold()
        if sorted(self.reminder_days) != list(self.reminder_days) or any(
            d <= 0 or d >= self.token_ttl_days for d in self.reminder_days
        ):
            raise ValueError("reminder_days must increase and lie within token_ttl_days")
        return self

    def _check_threshold(self) -> None:
        planned = self.planned_per_unit
        if self.n_min_unit is not None and planned is not None and self.n_min_unit > planned:
            raise ValueError(
                f"n_min_unit: {self.n_min_unit} respondents are needed to rank a unit, but "
                f"the plan samples {planned} per unit ({self._planned_by()}); no unit could "
                f"ever be ranked: lower n_min_unit to {planned} or raise the quota"
            )

    def _planned_by(self) -> str:
        alloc = self.allocation
        if alloc is not None and alloc.fixed_per_unit is not None:
            fixed = alloc.fixed_per_unit
            return (
                f"allocation.fixed_per_unit: {fixed.individual} individuals + "
                f"{fixed.organisation} organisations"
            )
        return "allocation.proportional.floor"

    @property
    def planned_per_unit(self) -> int | None:
        """Forms the plan gives every unit at least: the fixed quota, or the floor (if any)."""
        alloc = self.allocation
        if alloc is None:
            return None
        if alloc.fixed_per_unit is not None:
            return alloc.fixed_per_unit.individual + alloc.fixed_per_unit.organisation or None
        assert alloc.proportional is not None  # Allocation validation: exactly one rule
        return alloc.proportional.floor or None

    def _needs_basis(self) -> bool:
        alloc = self.allocation
        return (
            alloc is not None
            and alloc.proportional is not None
            and alloc.proportional.basis is None
        )

    @property
    def closes_on(self) -> date:
        """The last day of fieldwork; contacts are destroyed after it."""
        return self.fieldwork_end or self.window.end

    @property
    def fixed_rate(self) -> float | None:
        """The Bernoulli rate of a quota-less continuous campaign."""
        return self.sample_size.rate if self.sample_size is not None else None


OPERATIONAL_FIELDS = frozenset(
    {"name_vi", "name_en", "channels", "quiet_hours", "reminder_days", "templates", "fieldwork_end"}
)


def design_digest(campaign: Campaign) -> str:
    """SHA-256 of the frozen design (everything but operational fields)."""
    design = campaign.model_dump(mode="json", exclude=set(OPERATIONAL_FIELDS))
    return hashlib.sha256(json.dumps(design, sort_keys=True).encode()).hexdigest()


def changed_design_fields(old: Campaign, new: Campaign) -> list[str]:
    """Design fields that differ between two versions of a campaign."""
    a = old.model_dump(mode="json", exclude=set(OPERATIONAL_FIELDS))
    b = new.model_dump(mode="json", exclude=set(OPERATIONAL_FIELDS))
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
