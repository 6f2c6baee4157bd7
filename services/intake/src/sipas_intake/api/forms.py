"""The questionnaires as JSON: what tablet apps and enumerators show (public, no identity)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from sipas_contracts.instrument import CatalogueError, available_catalogues, load_catalogue
from sipas_intake.questionnaire import Questionnaire, build
from sipas_runtime.i18n import Lang
from sipas_runtime.problems import ProblemError

router = APIRouter(prefix="/v1/forms", tags=["forms"])


class Instrument(BaseModel):
    """An instrument and its form profiles."""

    instrument_id: str
    title_vi: str
    title_en: str
    profiles: list[str]


@router.get("", summary="Instruments and their form profiles")
async def list_forms() -> list[Instrument]:
    """Every shipped instrument with the profiles a form can use."""
    out = []
    for instrument_id in available_catalogues():
        catalogue = load_catalogue(instrument_id)
        out.append(
            Instrument(
                instrument_id=instrument_id,
                title_vi=catalogue.title_vi,
                title_en=catalogue.title_en,
                profiles=sorted(catalogue.forms),
            )
        )
    return out


@router.get("/{instrument_id}", summary="One form: sections, items and answer options")
async def get_form(
    instrument_id: str,
    profile: Annotated[str, Query(max_length=64)] = "tthc_user",
    lang: Lang = "vi",
) -> Questionnaire:
    """The questionnaire of ``profile`` in Vietnamese (default) or English."""
    try:
        return build(load_catalogue(instrument_id), profile, lang)
    except CatalogueError as exc:
        raise ProblemError(404, str(exc), code="urn:sipas:problem:instrument-unknown") from exc
    except KeyError as exc:
        raise ProblemError(404, str(exc.args[0]), code="urn:sipas:problem:profile-unknown") from exc
