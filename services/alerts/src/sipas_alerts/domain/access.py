"""Who may see and do what: roles scoped to a unit subtree.

- ``handler``: a unit's case handler (cán bộ xử lý). Sees and works the cases of its unit
  and every unit below it; the only role that may open respondents' call-back contacts.
- ``supervisor``: Sở Nội vụ / the province office. Sees every case, takes every action,
  including closing and reopening.
- ``observer``: MTTQ, Hội Cựu chiến binh, auditors. Sees every case, changes nothing, never
  sees contacts.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sipas_alerts.domain.cases import Actor
from sipas_alerts.domain.errors import OutOfScopeError
from sipas_contracts.units import UnitHierarchy

Role = Literal["handler", "supervisor", "observer"]
KEY_PREFIX = "sak_"


class Principal(BaseModel):
    """A person or system using the case API, identified by an API key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
    name: str = Field(default="", max_length=200)
    role: Role
    unit: str | None = Field(default=None, description="Required for handlers: their unit")
    key_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", repr=False)

    @model_validator(mode="after")
    def _handler_has_unit(self) -> Principal:
        if self.role == "handler" and not self.unit:
            raise ValueError(f"handler {self.id!r} needs a unit")
        return self

    @property
    def actor(self) -> Actor:
        """The principal as recorded in audit trails."""
        return Actor(self.id, self.role)


def hash_key(key: str) -> str:
    """SHA-256 of an API key (keys are 256-bit random, so a fast hash is enough)."""
    return hashlib.sha256(key.encode()).hexdigest()


def authenticate(key: str, principals: Iterable[Principal]) -> Principal | None:
    """The principal holding ``key`` (constant-time comparison), or None."""
    digest = hash_key(key)
    found = None
    for principal in principals:
        if hmac.compare_digest(principal.key_sha256, digest):
            found = principal
    return found


class Scope:
    """The units a principal may see, on a given day of the hierarchy."""

    def __init__(self, principal: Principal, hierarchy: UnitHierarchy, on: date) -> None:
        self.principal = principal
        self._hierarchy = hierarchy
        self._on = on
        self.units: frozenset[str] | None = None  # None: every unit
        if principal.role == "handler" and principal.unit is not None:
            self.units = frozenset(subtree(hierarchy, principal.unit, on))

    def covers(self, unit: str) -> bool:
        """Whether ``unit`` is within the scope."""
        return self.units is None or unit in self.units

    def check(self, unit: str) -> None:
        """Raise OutOfScopeError unless ``unit`` is within the scope."""
        if not self.covers(unit):
            raise OutOfScopeError(unit)

    def narrow(self, unit: str | None, *, include_subtree: bool = True) -> frozenset[str] | None:
        """Units to query for an optional ``unit`` filter (None: no restriction)."""
        if unit is None:
            return self.units
        self.check(unit)
        wanted = subtree(self._hierarchy, unit, self._on) if include_subtree else {unit}
        return frozenset(wanted) if self.units is None else frozenset(wanted) & self.units


def subtree(hierarchy: UnitHierarchy, unit: str, on: date) -> set[str]:
    """``unit`` and every unit below it on ``on``."""
    found, todo = {unit}, [unit]
    while todo:
        for child in hierarchy.children(todo.pop(), on):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found
