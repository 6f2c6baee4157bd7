"""Who is calling: a person or a machine, their roles and the units they act for.

A principal's *units* are the roots of its scope: each unit and every unit below it in the
time-versioned hierarchy (``sipas_contracts.units``) on the day of the request. A supervisor
of Sở Nội vụ holds the province, a commune's handler holds the commune. A principal with no
unit is outside every unit (it may still use routes that are not about a unit).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from sipas_contracts.units import UnitHierarchy
from sipas_runtime.identity.roles import permissions_of

Kind = Literal["person", "machine"]
PROVINCE_OFFSET = timedelta(hours=7)  # Vietnam, no daylight saving


def province_day(now: datetime | None = None) -> date:
    """The date in the province (the day of the unit hierarchy that applies)."""
    return ((now or datetime.now(UTC)) + PROVINCE_OFFSET).date()


class OutOfScopeError(Exception):
    """Raised when a principal asks about a unit outside its scope."""

    def __init__(self, unit: str) -> None:
        super().__init__(f"unit {unit!r} is outside the caller's units")
        self.unit = unit


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    subject: str
    name: str
    kind: Kind
    roles: frozenset[str]
    units: frozenset[str]
    credential: Literal["token", "key"] = "token"
    permissions: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "permissions", permissions_of(self.roles))

    def may(self, permission: str) -> bool:
        """Whether the principal's roles carry ``permission``."""
        return permission in self.permissions

    def scope(self, hierarchy: UnitHierarchy, on: date | None = None) -> UnitScope:
        """The principal's units on ``on`` (default: today in the province)."""
        return UnitScope(self.units, hierarchy, on or province_day())


class UnitScope:
    """Units under any of ``roots`` on a given day of the hierarchy."""

    def __init__(self, roots: Iterable[str], hierarchy: UnitHierarchy, on: date) -> None:
        self.roots = frozenset(roots)
        self._hierarchy = hierarchy
        self._on = on

    def covers(self, unit: str) -> bool:
        """Whether ``unit`` is one of the roots or below one of them."""
        if unit in self.roots:
            return True
        # A unit the hierarchy does not know has no ancestors: in nobody's scope but its own.
        return not self.roots.isdisjoint(self._hierarchy.ancestors(unit, self._on))

    def check(self, unit: str) -> None:
        """Raise :class:`OutOfScopeError` unless ``unit`` is covered."""
        if not self.covers(unit):
            raise OutOfScopeError(unit)

    def units(self) -> frozenset[str]:
        """Every unit covered (the roots and their descendants)."""
        found: set[str] = set()
        for root in self.roots:
            found |= self.subtree(root)
        return frozenset(found)

    def subtree(self, unit: str) -> set[str]:
        """``unit`` and every unit below it."""
        found, todo = {unit}, [unit]
        while todo:
            for child in self._hierarchy.children(todo.pop(), self._on):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        return found

    def narrow(self, unit: str | None, *, include_subtree: bool = True) -> frozenset[str]:
        """Units to query for an optional ``unit`` filter (403 outside the scope)."""
        if unit is None:
            return self.units()
        self.check(unit)
        return frozenset(self.subtree(unit) if include_subtree else {unit}) & self.units()
