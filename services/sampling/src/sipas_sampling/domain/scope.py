"""Which units a campaign rates: its explicit list, or the leaves under a unit in its window."""

from __future__ import annotations

from datetime import date

from sipas_contracts.units import UnitHierarchy, UnitHierarchyError
from sipas_sampling.domain.campaign import Campaign


def _change_days(hierarchy: UnitHierarchy, start: date, end: date) -> set[date]:
    days = {start, end}
    for link in hierarchy.links:
        for day in (link.valid_from, link.valid_to):
            if day is not None and start <= day <= end:
                days.add(day)
    return days


def units_in_scope(campaign: Campaign, hierarchy: UnitHierarchy) -> tuple[str, ...]:
    """Unit codes in scope, sorted; raises ``UnitHierarchyError`` naming an unknown unit."""
    scope = campaign.scope
    for code in (*scope.units, *scope.exclude, *([scope.under] if scope.under else [])):
        if code not in hierarchy.units:
            raise UnitHierarchyError(f"scope: unknown unit {code!r}")
    if scope.units:
        chosen = set(scope.units)
    else:
        assert scope.under is not None  # Scope validation: units or under
        chosen = set()
        for day in _change_days(hierarchy, campaign.window.start, campaign.window.end):
            if hierarchy.is_active(scope.under, day):
                chosen |= {u for u in hierarchy.leaves(scope.under, day) if u != scope.under}
    return tuple(sorted(chosen - set(scope.exclude)))
