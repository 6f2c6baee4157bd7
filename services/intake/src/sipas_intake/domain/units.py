"""Unit references as sources write them → unit codes, remembered between records.

``UnitHierarchy.resolve`` compares a reference with every unit's codes and names; the
same few references repeat on every record of a province, so the answer (or the error)
is kept per (reference, date). The hierarchy is immutable, so the memory never lies.
"""

from __future__ import annotations

from datetime import date

from sipas_contracts.units import UnitHierarchy, UnitHierarchyError

CACHE_LIMIT = 8192


class CachedUnits:
    """A memoising front of a :class:`UnitHierarchy` (same ``resolve``/``is_active``)."""

    def __init__(self, hierarchy: UnitHierarchy) -> None:
        self.hierarchy = hierarchy
        # A failure is kept as its message: re-raising one exception object would chain a
        # new traceback onto it every time (unbounded memory on a steady stream of records).
        self._known: dict[tuple[str, date], tuple[str, bool]] = {}

    def resolve(self, reference: str, on: date) -> str:
        """The unit code ``reference`` means on ``on`` (raises UnitHierarchyError)."""
        key = (reference, on)
        found = self._known.get(key)
        if found is None:
            try:
                found = (self.hierarchy.resolve(reference, on), True)
            except UnitHierarchyError as exc:
                found = (str(exc), False)
            if len(self._known) >= CACHE_LIMIT:
                self._known.clear()
            self._known[key] = found
        text, resolved = found
        if not resolved:
            raise UnitHierarchyError(text)
        return text

    def is_active(self, code: str, on: date) -> bool:
        """Whether ``code`` is a unit valid on ``on``."""
        return self.hierarchy.is_active(code, on)
