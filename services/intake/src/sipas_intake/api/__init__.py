"""Intake's JSON API (problem+json errors): dossiers, responses, forms, paper, kiosks.

Who may call what is in :mod:`sipas_intake.api.permissions` (the identity gate enforces
it): TTHC systems and operators feed dossiers, operators import paper forms and manage
kiosks, enumerators enter interviews (their id comes from their token, never from the
request body); the survey form and respondents' answers need only the survey token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sipas_runtime.app_service import ServiceOf

if TYPE_CHECKING:
    from sipas_intake.app import IntakeService

service_of: ServiceOf[IntakeService] = ServiceOf()
