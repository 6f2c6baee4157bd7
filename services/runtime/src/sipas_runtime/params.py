"""Path and query parameters every service's API shares: codes and date-times.

Campaign ids and unit codes travel as NATS subject tokens (``sipas_contracts.ids``), so an
API that takes one refuses anything else with a 422 naming the parameter, before it can
reach a store, a subject or a file name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AwareDatetime, BeforeValidator

from sipas_contracts.ids import CODE_PATTERN

PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]*$"
"""Free text with no control character (it may be written into a file or a spreadsheet)."""
CampaignPath = Annotated[
    str, Path(pattern=CODE_PATTERN, description="Campaign id (letters, digits, - and _)")
]
CampaignQuery = Annotated[
    str | None, Query(pattern=CODE_PATTERN, description="Campaign id (letters, digits, - and _)")
]
UnitPath = Annotated[str, Path(pattern=CODE_PATTERN, description="Unit code, e.g. ht-nx-co-dam")]
UnitQuery = Annotated[
    str | None, Query(pattern=CODE_PATTERN, description="Unit code, e.g. ht-nx-co-dam")
]


def _iso_text(value: object) -> object:
    """Only ISO 8601 text is a date-time (pydantic alone reads ``0.5`` as a Unix time)."""
    if isinstance(value, datetime):
        return value
    msg = "expected an ISO 8601 date-time with its offset, e.g. 2026-12-07T08:00:00+07:00"
    if not isinstance(value, str):
        raise ValueError(msg)  # noqa: TRY004 - pydantic reports a ValueError as the field's error
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(msg) from exc
    return value


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_text)]
"""An aware date-time written as ISO 8601 text (``2026-12-07T08:00:00+07:00``)."""
