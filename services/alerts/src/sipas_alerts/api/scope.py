"""The caller of the case API and the units it may see (from the identity gate).

A caller's case role follows from its permissions: ``supervisor`` (cases.supervise) sees
and does everything, including closing and reopening; ``handler`` (cases.work) works the
cases of its units and their subtrees, and only a handler may open respondents' call-back
contacts (contacts.reveal); ``observer`` (MTTQ, auditors: cases.read) reads only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from sipas_alerts.domain.cases import Actor
from sipas_alerts.domain.errors import OutOfScopeError
from sipas_runtime.app_service import ServiceOf
from sipas_runtime.identity import Caller, Principal, UnitScope
from sipas_runtime.identity.roles import CASES_SUPERVISE, CASES_WORK

if TYPE_CHECKING:
    from sipas_alerts.app import AlertsService


service_of: ServiceOf[AlertsService] = ServiceOf()


def case_role(caller: Principal) -> str:
    """The caller's role in case work (``supervisor``, ``handler`` or ``observer``)."""
    if caller.may(CASES_SUPERVISE):
        return "supervisor"
    return "handler" if caller.may(CASES_WORK) else "observer"


class CaseScope:
    """The units a caller may see, and who it is in case audit trails."""

    def __init__(self, caller: Principal, units: UnitScope, *, province: str) -> None:
        self.caller = caller
        self.role = case_role(caller)
        self.actor = Actor(caller.subject, self.role)
        self._units = units
        self._everything = province in units.roots

    def covers(self, unit: str) -> bool:
        """Whether ``unit`` is within the caller's units."""
        return self._everything or self._units.covers(unit)

    def check(self, unit: str) -> None:
        """Raise OutOfScopeError unless ``unit`` is within the caller's units."""
        if not self.covers(unit):
            raise OutOfScopeError(unit)

    def narrow(self, unit: str | None, *, include_subtree: bool = True) -> frozenset[str] | None:
        """Units to query for an optional ``unit`` filter (None: no restriction)."""
        if unit is None:
            return None if self._everything else self._units.units()
        self.check(unit)
        wanted = frozenset(self._units.subtree(unit) if include_subtree else {unit})
        return wanted if self._everything else wanted & self._units.units()


def current_scope(caller: Caller, request: Request) -> CaseScope:
    """The caller's units today (in the province's calendar)."""
    alerts = service_of(request)
    today = alerts.desk.clock().astimezone(alerts.policy.calendar.tz).date()
    units = caller.scope(alerts.hierarchy, today)
    return CaseScope(caller, units, province=alerts.hierarchy.province)


CurrentScope = Annotated[CaseScope, Depends(current_scope)]
