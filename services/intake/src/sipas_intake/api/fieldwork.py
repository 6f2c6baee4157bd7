"""Fieldwork per unit: answers recorded through invitations by mode, and paper forms imported.

What the enumerators' screens show beside their lists, so interviews, online answers and the
paper forms typed in later appear in one place. Counts only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from sipas_contracts.ids import CODE_PATTERN
from sipas_intake.api import service_of

router = APIRouter(prefix="/v1/fieldwork", tags=["fieldwork"])


class UnitFieldwork(BaseModel):
    """One unit's answers so far."""

    unit: str
    invited: dict[str, int] = Field(
        description="Answers through invitations by collection mode (online, face_to_face...)"
    )
    paper: dict[str, int] = Field(description="Paper forms imported, by collection mode")


class Fieldwork(BaseModel):
    """A campaign's answers per unit."""

    campaign_id: str
    units: list[UnitFieldwork]


@router.get("/{campaign_id}", summary="Answers so far per unit: interviews, online, paper")
async def fieldwork(
    campaign_id: Annotated[str, Path(pattern=CODE_PATTERN)], request: Request
) -> Fieldwork:
    """Counts per unit and collection mode of the answers intake recorded for a campaign."""
    invited, paper = await service_of(request).stores.fieldwork.summary(campaign_id)
    units = sorted(set(invited) | set(paper))
    return Fieldwork(
        campaign_id=campaign_id,
        units=[
            UnitFieldwork(unit=u, invited=invited.get(u, {}), paper=paper.get(u, {})) for u in units
        ],
    )
