"""How a campaign reaches people: quiet hours and the invitation texts' settings.

Part of a campaign's definition (:mod:`sipas_sampling.domain.campaign`) that may change
after it has decided (operational, not design).
"""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CampaignPart(BaseModel):
    """Base of a campaign's parts: frozen, unknown fields refused by name."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class QuietHours(CampaignPart):
    """No message leaves between ``start`` and ``end`` (local time; may wrap midnight)."""

    start: time
    end: time


class ZaloTemplate(CampaignPart):
    """An approved ZNS template and which of its parameters carry what."""

    template_id: str = Field(min_length=1, max_length=32)
    unit_param: str = "ten_co_quan"
    link_param: str = "link"
    dossier_param: str | None = "ma_ho_so"
    officer_param: str | None = None


class Templates(CampaignPart):
    """Message texts; placeholders: {unit}, {link}, {dossier}, {officer_clause}."""

    sms: str | None = None
    text: str | None = None
    email_subject: str | None = None
    language: Literal["vi", "en"] = "vi"
    zalo: ZaloTemplate | None = None
    include_officer: bool = Field(default=True, description="Name the handling officer")
