"""The alerting policy as data: rules per campaign, SLAs, the calendar and who is told.

A policy is read from YAML (``sipas_alerts.config``) and validated here. ``rules`` are the
defaults; ``campaigns.<id>`` lists only what differs for one campaign and is merged over
the defaults, key by key. Every rule can be switched off with ``enabled: false``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sipas_alerts.domain.calendar import WorkingCalendar
from sipas_alerts.domain.windows import Window
from sipas_contracts.events import Severity

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^https?://\S+$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LowRatingRule(_Frozen):
    """Any satisfaction item answered at or below ``max_level``."""

    enabled: bool = True
    window: Window = "week"
    max_level: int = Field(default=2, ge=1, le=4)
    critical_level: int = Field(default=1, ge=1, le=4, description="At or below: critical")


class AnswerRule(_Frozen):
    """A perception item answered with a flagged code (default: any unfavourable code)."""

    enabled: bool = True
    window: Window = "week"
    items: tuple[str, ...] = Field(min_length=1)
    flag_codes: tuple[int, ...] | None = None
    severity: Severity = "critical"


class CommentRule(_Frozen):
    """A free-text comment the classifier finds negative."""

    enabled: bool = True
    window: Window = "week"
    extra_terms: tuple[str, ...] = ()
    extra_grave_terms: tuple[str, ...] = ()
    min_matches: int = Field(default=1, ge=1)


class IndexBelowRule(_Frozen):
    """A unit's SIPAS index (with sufficient n) falls below ``threshold``."""

    enabled: bool = True
    threshold: float = Field(default=70.0, ge=0, le=100)


class IndexDropRule(_Frozen):
    """The index drops more than ``max_drop`` points versus the previous period."""

    enabled: bool = True
    max_drop: float = Field(default=5.0, gt=0, le=100)


class ResponseRateRule(_Frozen):
    """The response rate of the last window collapses versus the window before."""

    enabled: bool = True
    window: Window = "week"
    window_days: int = Field(default=7, ge=1, le=90)
    lag_days: int = Field(default=2, ge=0, le=30, description="Days left for people to answer")
    min_invitations: int = Field(default=20, ge=1)
    max_relative_drop: float = Field(default=0.5, gt=0, lt=1)


class SilenceRule(_Frozen):
    """Invitations went out but no response came back for ``days`` days."""

    enabled: bool = True
    window: Window = "week"
    days: int = Field(default=7, ge=1, le=90)
    grace_days: int = Field(default=2, ge=0, le=30)
    min_invitations: int = Field(default=5, ge=1)


class RuleSet(_Frozen):
    """Every rule of one campaign."""

    low_rating: LowRatingRule = LowRatingRule()
    extra_payment: AnswerRule = AnswerRule(items=("ND.6", "ND.EXTRA_PAY"))
    harassment: AnswerRule = AnswerRule(items=("ND.5", "ND.HARASS"))
    too_many_trips: AnswerRule = AnswerRule(items=("ND.X1", "ND.TRIPS"), severity="warning")
    late_result: AnswerRule = AnswerRule(items=("ND.X2", "ND.ON_TIME"), severity="warning")
    negative_comment: CommentRule = CommentRule()
    index_below_threshold: IndexBelowRule = IndexBelowRule()
    index_drop: IndexDropRule = IndexDropRule()
    response_rate_collapse: ResponseRateRule = ResponseRateRule()
    silent_unit: SilenceRule = SilenceRule()
    previous_campaign: str | None = Field(
        default=None, description="Campaign whose 'campaign' period the drop rule compares with"
    )

    def answer_rules(self) -> dict[str, AnswerRule]:
        """The perception rules by rule id."""
        return {
            "extra_payment": self.extra_payment,
            "harassment": self.harassment,
            "too_many_trips": self.too_many_trips,
            "late_result": self.late_result,
        }


class SlaPolicy(_Frozen):
    """Deadlines in working days, and whom a breach escalates to."""

    acknowledge_days: float = Field(default=1, gt=0, le=60)
    resolve_days: float = Field(default=5, gt=0, le=120)
    auto_close_days: float | None = Field(
        default=5, gt=0, description="Resolved cases close after this many working days"
    )
    escalate_acknowledge_to: tuple[str, ...] = ("snv",)
    escalate_resolve_to: tuple[str, ...] = ("snv",)

    @model_validator(mode="after")
    def _ordered(self) -> SlaPolicy:
        if self.resolve_days < self.acknowledge_days:
            raise ValueError("resolve_days must not be shorter than acknowledge_days")
        return self


class Contact(_Frozen):
    """A designated recipient: an e-mail address or a webhook URL."""

    channel: Literal["email", "webhook"]
    address: str = Field(min_length=3, max_length=500)
    name: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _address_fits_channel(self) -> Contact:
        pattern = _EMAIL if self.channel == "email" else _URL
        if not pattern.match(self.address):
            kind = "an e-mail address" if self.channel == "email" else "an http(s) URL"
            raise ValueError(f"address {self.address!r} is not {kind}")
        return self


class Agency(_Frozen):
    """A supervising agency that breaches escalate to (Sở Nội vụ, Văn phòng UBND tỉnh...)."""

    name_vi: str = Field(min_length=1)
    name_en: str = ""
    contacts: tuple[Contact, ...] = ()


class Routing(_Frozen):
    """Who is told: each unit's designated contacts, the agencies, the operators."""

    units: dict[str, tuple[Contact, ...]] = Field(default_factory=dict)
    default: tuple[Contact, ...] = ()
    agencies: dict[str, Agency] = Field(
        default_factory=lambda: {
            "snv": Agency(name_vi="Sở Nội vụ", name_en="Department of Home Affairs")
        }
    )
    operators: tuple[Contact, ...] = ()

    def contacts_for(self, unit: str, ancestors: Sequence[str] = ()) -> tuple[Contact, ...]:
        """The unit's contacts, else its nearest ancestor's, else the default ones."""
        for code in (unit, *ancestors):
            if self.units.get(code):
                return self.units[code]
        return self.default


class Policy(_Frozen):
    """The complete alerting policy."""

    calendar: WorkingCalendar = WorkingCalendar()
    sla: SlaPolicy = SlaPolicy()
    rules: RuleSet = RuleSet()
    campaigns: dict[str, RuleSet] = Field(default_factory=dict)
    routing: Routing = Routing()

    @model_validator(mode="before")
    @classmethod
    def _merge_campaigns(cls, data: object) -> object:
        if not isinstance(data, Mapping) or not data.get("campaigns"):
            return data
        rules = data.get("rules") or {}
        # Campaigns override the *complete* defaults, so a partial rule keeps its other fields.
        base = (rules if isinstance(rules, RuleSet) else RuleSet.model_validate(rules)).model_dump()
        campaigns = {
            cid: merged(base, raw) if isinstance(raw, Mapping) else raw
            for cid, raw in data["campaigns"].items()
        }
        return {**data, "campaigns": campaigns}

    @field_validator("campaigns")
    @classmethod
    def _campaign_ids(cls, value: dict[str, RuleSet]) -> dict[str, RuleSet]:
        for cid in value:
            if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", cid):
                raise ValueError(f"campaign id {cid!r} is not a valid code")
        return value

    @model_validator(mode="after")
    def _targets_exist(self) -> Policy:
        targets = {*self.sla.escalate_acknowledge_to, *self.sla.escalate_resolve_to}
        unknown = sorted(targets - set(self.routing.agencies))
        if unknown:
            raise ValueError(f"sla escalates to {unknown}, not among routing.agencies")
        return self

    def rules_for(self, campaign_id: str | None) -> RuleSet:
        """The rules of ``campaign_id`` (the defaults when it has no overrides)."""
        return self.campaigns.get(campaign_id or "", self.rules)


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` laid over ``base``, recursively for nested mappings."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out
