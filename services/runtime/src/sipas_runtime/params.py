"""Path and query parameters every service's API shares: identifiers in the code alphabet.

Campaign ids and unit codes travel as NATS subject tokens (``sipas_contracts.ids``), so an
API that takes one refuses anything else with a 422 naming the parameter, before it can
reach a store, a subject or a file name.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from sipas_contracts.ids import CODE_PATTERN

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
