"""Which adapter reads an input: generic JSON, one-stop ``HoSo``, or a configured field map.

The format is chosen, in order, by: the caller (``?format=`` / ``Sipas-Format`` header),
the raw source's configuration (``sipas.raw.dossier.<source>``), a field map listing the
source, the content (an object with ``MaHoSo`` is a ``HoSo``; one holding a field map's
dossier-number column is read with that map), else generic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sipas_intake.domain.dossiers import DossierRecord, NotCompleted, parse_record
from sipas_intake.domain.errors import DossierRejectedError, problem
from sipas_intake.domain.fieldmap import FieldMap
from sipas_intake.domain.hoso import SOURCE_FIELDS, from_hoso

GENERIC = "generic"
HOSO = "hoso"
PREPARED = "prepared"
AUTO = "auto"


@dataclass(frozen=True)
class Formats:
    """The formats intake can read: the built-in ones plus the configured field maps."""

    field_maps: Mapping[str, FieldMap] = field(default_factory=dict)
    source_formats: Mapping[str, str] = field(default_factory=dict)

    def names(self) -> tuple[str, ...]:
        """Every format a caller may name."""
        return (GENERIC, HOSO, *sorted(self.field_maps))

    def choose(self, requested: str | None, *, source: str | None, document: object) -> str:
        """The format to read ``document`` with."""
        if requested and requested != AUTO:
            return requested
        if source is not None:
            configured = self.source_formats.get(source) or next(
                (m.name for m in self.field_maps.values() if source in m.sources), None
            )
            if configured is not None:
                return configured
        return self._by_content(document)

    def _by_content(self, document: object) -> str:
        if not isinstance(document, Mapping) or "dossier_id" in document:
            return GENERIC
        if "MaHoSo" in document:
            return HOSO
        return next((m.name for m in self.field_maps.values() if m.recognises(document)), GENERIC)

    def source_fields(self, name: str) -> dict[str, str]:
        """How format ``name`` names each canonical field (for errors found after mapping)."""
        if name == HOSO:
            return dict(SOURCE_FIELDS)
        if name in self.field_maps:
            return {t: r.label(t) for t, r in self.field_maps[name].fields.items()}
        return {}

    def read(self, name: str, document: object) -> DossierRecord | NotCompleted:
        """Read one record in format ``name``; raises :class:`DossierRejectedError`."""
        if name not in self.names():
            reason = f"unknown format {name!r}; known: {', '.join(self.names())}"
            raise DossierRejectedError([problem("format", reason, "unknown_format")])
        if not isinstance(document, Mapping):
            kind = type(document).__name__
            raise DossierRejectedError(
                [problem("(body)", f"expected a JSON object, got {kind}", "malformed")]
            )
        if name == HOSO:
            return from_hoso(document)
        if name == GENERIC:
            return parse_record(dict(document))
        return self.field_maps[name].apply(document)
