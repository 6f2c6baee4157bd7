"""Scoring's HTTP API: live indices, publication and the public published figures.

Who may call what is in :mod:`sipas_scoring.api.permissions` (the identity gate enforces
it): live figures (:mod:`~sipas_scoring.api.indices`) are for staff and downstream readers,
publication (:mod:`~sipas_scoring.api.publications`) for operators and approvers, and only
published figures are public (:mod:`~sipas_scoring.api.public`). Errors are problem+json
documents naming the field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sipas_runtime.app_service import ServiceOf

if TYPE_CHECKING:
    from sipas_scoring.app import ScoringService

service_of: ServiceOf[ScoringService] = ServiceOf()
