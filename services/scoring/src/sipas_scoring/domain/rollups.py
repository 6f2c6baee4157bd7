"""Roll-ups through the time-versioned unit hierarchy, and history through successions.

- A unit's roll-up tally is its own tally plus those of every unit below it on the
  hierarchy date (leaf counts are summed, never indices averaged), so a district or the
  province is recomputed exactly from counts for any period.
- Year-on-year comparison across a reorganisation: each earlier unit's tally is carried
  to the unit(s) that carry its work on the comparison date, with the succession share
  (merged communes add up; a split commune's history is apportioned by its share, and
  such figures are flagged as estimated).
- Ranks are computed within a *tier*: communes, wards and towns (cấp xã) together;
  departments and service centres together; districts; the province.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from sipas_contracts.units import UnitHierarchy
from sipas_scoring.domain.tally import Tally

TIERS = {
    "province": "province",
    "district": "district",
    "commune": "commune",
    "ward": "commune",
    "town": "commune",
    "department": "department",
    "service_centre": "department",
    "service_point": "department",
}
UNKNOWN_TIER = "unknown"
"""Units present in the data but absent from the hierarchy: shown, never ranked."""


def tier_of(hierarchy: UnitHierarchy, code: str) -> str:
    """The ranking tier of a unit (``unknown`` when the hierarchy does not know it)."""
    unit = hierarchy.units.get(code)
    return TIERS[unit.kind] if unit is not None else UNKNOWN_TIER


def rollup(tallies: Mapping[str, Tally], hierarchy: UnitHierarchy, on: date) -> dict[str, Tally]:
    """Every unit with data and every ancestor on ``on``: own tally plus descendants'."""
    out: dict[str, Tally] = {}
    for code, tally in tallies.items():
        targets = [code]
        if code in hierarchy.units:
            targets += hierarchy.ancestors(code, on)
        for target in targets:
            out.setdefault(target, Tally()).add(tally)
    return out


@dataclass(frozen=True)
class Carried:
    """Earlier tallies re-expressed on today's units."""

    tallies: dict[str, Tally]
    estimated: frozenset[str]
    """Units whose history includes an apportioned (split) share."""
    unmapped: frozenset[str]
    """Earlier units with no successor on the comparison date (their history is dropped)."""


def carry_forward(tallies: Mapping[str, Tally], hierarchy: UnitHierarchy, on: date) -> Carried:
    """Map earlier units' tallies onto the units that carry their work on ``on``."""
    out: dict[str, Tally] = {}
    estimated: set[str] = set()
    unmapped: set[str] = set()
    for code, tally in tallies.items():
        if code not in hierarchy.units:
            out.setdefault(code, Tally()).add(tally)  # unknown units are kept as they are
            continue
        successors = hierarchy.successors(code, on)
        if not successors:
            unmapped.add(code)
            continue
        for successor, share in successors.items():
            exact = Fraction(str(share))
            out.setdefault(successor, Tally()).add(tally if exact == 1 else tally.scaled(exact))
            if exact != 1:
                estimated.add(successor)
    return Carried(out, frozenset(estimated), frozenset(unmapped))
