"""SIPAS Live contracts: events, subjects, streams, the instrument and the unit hierarchy.

This package is pure (pydantic + PyYAML only): every service depends on it, none of it
touches the network or a database.
"""

from sipas_contracts import ids, schemas, streams, subjects
from sipas_contracts.events import (
    EVENT_TYPES,
    AlertRaised,
    Answer,
    AnyEvent,
    ApplicantKind,
    CampaignPlanned,
    CaseUpdated,
    CollectionMode,
    DossierCompleted,
    Event,
    IndexFigure,
    IndexUpdated,
    InvitationClosed,
    InvitationSent,
    ResponseRecorded,
    any_event_adapter,
)
from sipas_contracts.ids import CampaignId, UnitCode, uuid7, uuid7_for
from sipas_contracts.units import UnitHierarchy, load_hierarchy_file, load_sample_hierarchy

__all__ = [
    "EVENT_TYPES",
    "AlertRaised",
    "Answer",
    "AnyEvent",
    "ApplicantKind",
    "CampaignId",
    "CampaignPlanned",
    "CaseUpdated",
    "CollectionMode",
    "DossierCompleted",
    "Event",
    "IndexFigure",
    "IndexUpdated",
    "InvitationClosed",
    "InvitationSent",
    "ResponseRecorded",
    "UnitCode",
    "UnitHierarchy",
    "any_event_adapter",
    "ids",
    "load_hierarchy_file",
    "load_sample_hierarchy",
    "schemas",
    "streams",
    "subjects",
    "uuid7",
    "uuid7_for",
]
