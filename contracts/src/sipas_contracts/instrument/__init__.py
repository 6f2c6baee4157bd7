"""The SIPAS instrument (questionnaire) as versioned, validated data."""

from sipas_contracts.instrument.loader import (
    CatalogueError,
    available_catalogues,
    load_catalogue,
    load_catalogue_file,
    parse_catalogue,
)
from sipas_contracts.instrument.models import (
    Aspect,
    Catalogue,
    Element,
    FormProfile,
    Item,
    Question,
    Scale,
    Section,
    SipasRule,
)

__all__ = [
    "Aspect",
    "Catalogue",
    "CatalogueError",
    "Element",
    "FormProfile",
    "Item",
    "Question",
    "Scale",
    "Section",
    "SipasRule",
    "available_catalogues",
    "load_catalogue",
    "load_catalogue_file",
    "parse_catalogue",
]
