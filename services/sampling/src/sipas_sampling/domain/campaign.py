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
from datetime import date, time
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sipas_contracts.events import ApplicantKind, InvitationChannel
from sipas_contracts.ids import CampaignId, UnitCode

Mode = Literal["continuous", "batch"]
KINDS: tuple[ApplicantKind, ...] = ("individual", "organisation")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Window(_Model):
    """Dossiers whose result was delivered from ``start`` to ``end`` (inclusive, local dates)."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class Scope(_Model):
    """Units in scope: an explicit list, or every leaf under a unit (minus exclusions)."""

    units: tuple[UnitCode, ...] = ()
    under: UnitCode | None = None
    exclude: tuple[UnitCode, ...] = ()

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if bool(self.units) == bool(self.under):
            raise ValueError("give either 'units' (a list) or 'under' (a parent unit code)")
        return self


class Exclusions(_Model):
    """Who is left out of the population (seed 002: online, postal and non-residents)."""

    online: bool = False
    postal: bool = False
    non_resident: bool = False
    minor: bool = False
    unknown_residence_is_resident: bool = True


class ContactCap(_Model):
    """At most ``max_invitations`` to one applicant within ``days``, across campaigns."""

    max_invitations: int = Field(default=1, ge=1, le=100)
    days: int = Field(default=90, ge=1, le=3650)


class Population(_Model):
    """Population rules applied to every completed dossier."""

    exclude: Exclusions = Exclusions()
    procedure_fields: tuple[str, ...] = Field(
        default=(), description="Only these fields (lĩnh vực); empty = all"
    )
    one_per_applicant: bool = Field(
        default=True, description="One dossier per applicant per unit per campaign"
    )
    contact_cap: ContactCap | None = None


class Slovin(_Model):
    """n = N / (1 + N·e²) with N the population (given, or observed at the draw)."""

    margin: float = Field(gt=0, lt=1)
    population: int | None = Field(default=None, ge=1)


class Precision(_Model):
    """Cochran's n for a share with finite-population correction."""

    margin: float = Field(gt=0, lt=1)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    proportion: float = Field(default=0.5, gt=0, lt=1)
    population: int | None = Field(default=None, ge=1)


class SampleSize(_Model):
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


class FixedPerUnit(_Model):
    """The same quota per unit and applicant kind (seed 002: 15 + 10)."""

    individual: int = Field(ge=0)
    organisation: int = Field(ge=0)
    transfer: bool = Field(
        default=True, description="Move a kind's shortfall to the other kind of the same unit"
    )


class Proportional(_Model):
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


class Allocation(_Model):
    """How the total is shared between units."""

    fixed_per_unit: FixedPerUnit | None = None
    proportional: Proportional | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.fixed_per_unit is None) == (self.proportional is None):
            raise ValueError("give exactly one of fixed_per_unit, proportional")
        return self


class Reserve(_Model):
    """Reserve list size per stratum: ``ratio`` of the official quota, rounded up."""

    ratio: float = Field(default=0.5, ge=0, le=5)


class QuietHours(_Model):
    """No message leaves between ``start`` and ``end`` (local time; may wrap midnight)."""

    start: time
    end: time


class ZaloTemplate(_Model):
    """An approved ZNS template and which of its parameters carry what."""

    template_id: str = Field(min_length=1, max_length=32)
    unit_param: str = "ten_co_quan"
    link_param: str = "link"
    dossier_param: str | None = "ma_ho_so"
    officer_param: str | None = None


class Templates(_Model):
    """Message texts; placeholders: {unit}, {link}, {dossier}, {officer_clause}."""

    sms: str | None = None
    text: str | None = None
    email_subject: str | None = None
    language: Literal["vi", "en"] = "vi"
    zalo: ZaloTemplate | None = None
    include_officer: bool = Field(default=True, description="Name the handling officer")


class Campaign(_Model):
    """A campaign as the operator writes it."""

    id: CampaignId
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
        if sorted(self.reminder_days) != list(self.reminder_days) or any(
            d <= 0 or d >= self.token_ttl_days for d in self.reminder_days
        ):
            raise ValueError("reminder_days must increase and lie within token_ttl_days")
        return self

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
