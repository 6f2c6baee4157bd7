"""How a batch draw reads on its page: lists, substitutions, the observer's verification.

Lists per unit and kind, the substitution log, and the verification is the same check as
``sipas sampling verify``.

Pure functions over sampling's draw export (``GET /v1/campaigns/{id}/draw``: campaign,
population snapshot of dossier numbers, lists, substitution log; no personal data).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sipas_runtime.i18n import _
from sipas_sampling.domain.audit import Verification, verify_export

Json = dict[str, Any]
KINDS = {"individual": _("Individuals"), "organisation": _("Organisations")}
REASONS = {
    "refused": _("refused"),
    "unreachable": _("unreachable"),
    "ineligible": _("not eligible"),
}


@dataclass(frozen=True)
class Stratum:
    """One unit and applicant kind of a draw: its official and reserve lists, in order."""

    unit: str
    name: str
    kind: str
    official: list[str]
    reserve: list[str]
    replaced: frozenset[str]
    brought_in: frozenset[str]


def strata(export: Mapping[str, Any], name_of: Callable[[str], str]) -> list[Stratum]:
    """Every stratum of the draw, by unit name then kind, with who was replaced and by whom."""
    log = export.get("substitutions") or []
    replaced = frozenset(str(e["replaced"]) for e in log)
    brought_in = frozenset(str(e["substitute"]) for e in log)
    found = [
        Stratum(
            unit=unit,
            name=name_of(unit),
            kind=kind,
            official=list(lists.get("official", [])),
            reserve=list(lists.get("reserve", [])),
            replaced=replaced,
            brought_in=brought_in,
        )
        for unit, kinds in (export.get("lists") or {}).get("lists", {}).items()
        for kind, lists in kinds.items()
    ]
    return sorted(found, key=lambda s: (s.name, s.kind))


def verify(export: Mapping[str, Any]) -> Verification:
    """Re-run the draw from its seed and population; compare lists and substitutions."""
    return verify_export(export)


def population_size(export: Mapping[str, Any]) -> int:
    """Dossiers in the frozen population (every unit and kind)."""
    population = export.get("population") or {}
    return sum(len(members) for kinds in population.values() for members in kinds.values())


def log_rows(
    export: Mapping[str, Any], name_of: Callable[[str], str], say: Callable[[str], str]
) -> list[list[str]]:
    """The substitution log as table rows: number, unit, replaced, reason, substitute."""
    return [
        [
            str(entry.get("seq", "")),
            name_of(str(entry.get("unit", ""))),
            str(entry.get("replaced", "")),
            say(REASONS.get(str(entry.get("reason")), str(entry.get("reason")))),
            str(entry.get("substitute", "")),
        ]
        for entry in export.get("substitutions") or []
    ]
