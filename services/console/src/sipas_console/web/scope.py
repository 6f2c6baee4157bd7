"""Whose page it is: the signed-in viewer's units, and whether a unit is among them.

The identity gate authenticates the viewer; this module only reads what it left on the
request. A viewer's *units* are the roots of their scope: each unit and every unit below
it in the unit hierarchy on the day (a supervisor holds the province, a commune's handler
the commune). The services apply the same rule to every call; the console applies it to
the live updates it forwards, which no service filters for it.
"""

from __future__ import annotations

from datetime import date

from fastapi import Request

from sipas_contracts.units import UnitHierarchy


def viewer_units(request: Request) -> frozenset[str] | None:
    """The roots of the viewer's scope; None when nobody is signed in."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        return None
    return frozenset(principal.units)


def covers(hierarchy: UnitHierarchy, roots: frozenset[str], unit: str, on: date) -> bool:
    """Whether ``unit`` is one of ``roots`` or below one of them on ``on``."""
    if unit in roots:
        return True
    if unit not in hierarchy.units:
        return False  # a unit the hierarchy does not know is in nobody's scope but its own
    return not roots.isdisjoint(hierarchy.ancestors(unit, on))
