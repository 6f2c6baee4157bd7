"""Sampling's HTTP API: campaigns, draws and lists, opt-outs, delivery reports, dev outbox.

Who may call what is in :mod:`sipas_sampling.api.permissions` (the identity gate enforces
it): operators run campaigns, enumerators get the lists of their units with contacts,
observers (MTTQ, Veterans' Association) read and verify, never a contact. Gateway
callbacks authenticate with their own tokens and signatures. Errors are problem+json
documents naming the field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sipas_runtime.app_service import ServiceOf

if TYPE_CHECKING:
    from sipas_sampling.app import SamplingService

service_of: ServiceOf[SamplingService] = ServiceOf()
