"""Cases: grouped alerts a unit must handle, their lifecycle, SLA deadlines and audit trail.

Lifecycle::

    open ─acknowledge─▶ acknowledged ─start─▶ in_progress ─resolve─▶ resolved ─close─▶ closed
      └───────────── dismiss (with a reason) ─────────────┘         │
    resolved / dismissed ─reopen (supervisor, with a reason)─▶ in_progress

Deadlines are counted in working time from the moment the case opens: acknowledge within
``sla.acknowledge_days``, resolve within ``sla.resolve_days``. A missed deadline is recorded
once (a :class:`Breach`) and escalates the case to the supervising agencies; a reopened
case gets a fresh resolve deadline. Resolved cases close by themselves after
``sla.auto_close_days`` unless a supervisor reopens them. Every change is in ``audit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from sipas_alerts.domain.alerts import Hit, worst
from sipas_alerts.domain.calendar import WorkingCalendar
from sipas_alerts.domain.policy import SlaPolicy
from sipas_contracts.events import CaseChange, CaseState, Severity, SlaKind
from sipas_contracts.ids import uuid7_for

ACTIVE: frozenset[CaseState] = frozenset({"open", "acknowledged", "in_progress"})
NOTE_MAX = 2000
_MS = timedelta(milliseconds=1)


@dataclass(frozen=True)
class Move:
    """One lifecycle action: where it may start, where it leads, who may take it."""

    sources: frozenset[CaseState]
    target: CaseState
    roles: frozenset[str]
    needs_note: bool
    change: CaseChange


_STAFF = frozenset({"handler", "supervisor"})


def _move(
    sources: set[CaseState],
    target: CaseState,
    roles: frozenset[str],
    change: CaseChange,
    *,
    note: bool = False,
) -> Move:
    return Move(frozenset(sources), target, roles, needs_note=note, change=change)


MOVES: dict[str, Move] = {
    "acknowledge": _move({"open"}, "acknowledged", _STAFF, "acknowledged"),
    "start": _move({"acknowledged"}, "in_progress", _STAFF, "started"),
    "resolve": _move({"in_progress"}, "resolved", _STAFF, "resolved", note=True),
    "close": _move({"resolved"}, "closed", frozenset({"supervisor", "system"}), "closed"),
    "dismiss": _move(set(ACTIVE), "dismissed", _STAFF, "dismissed", note=True),
    "reopen": _move(
        {"resolved", "dismissed"}, "in_progress", frozenset({"supervisor"}), "reopened", note=True
    ),
}


@dataclass(frozen=True)
class Actor:
    """Who acts on a case: a person's id and role, or the system."""

    id: str
    role: str


SYSTEM = Actor("system", "system")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AuditEntry(_Frozen):
    """One thing that happened to a case."""

    at: AwareDatetime
    actor: str
    role: str
    action: str
    from_state: CaseState | None = None
    to_state: CaseState | None = None
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class Breach(_Frozen):
    """A missed deadline (recorded once per deadline)."""

    kind: SlaKind
    due_at: AwareDatetime
    at: AwareDatetime
    escalated_to: tuple[str, ...] = ()


class Case(_Frozen):
    """A unit's case: one (unit, rule, window) group of alerts."""

    case_id: UUID
    group_key: str
    seq: int = Field(ge=1)
    unit: str
    rule: str
    campaign_id: str | None
    window: str
    severity: Severity
    state: CaseState = "open"
    version: int = Field(default=1, ge=1)
    opened_at: AwareDatetime
    updated_at: AwareDatetime
    summary_vi: str
    summary_en: str
    alerts: int = 0
    callbacks: int = 0
    last_alert_at: AwareDatetime
    acknowledge_due_at: AwareDatetime
    resolve_due_at: AwareDatetime
    acknowledged_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = Field(default=None, description="Closed or dismissed")
    auto_close_at: AwareDatetime | None = None
    acknowledge_seconds: float | None = Field(default=None, description="Working time to ack")
    resolve_seconds: float | None = Field(default=None, description="Working time to resolve")
    breaches: tuple[Breach, ...] = ()
    escalated_to: tuple[str, ...] = ()
    resolution: str | None = None
    dismiss_reason: str | None = None
    follows: UUID | None = None
    audit: tuple[AuditEntry, ...] = ()

    @property
    def active(self) -> bool:
        """Open, acknowledged or in progress: new alerts of its group join it."""
        return self.state in ACTIVE

    def breached(self, kind: SlaKind) -> bool:
        """Whether the *current* ``kind`` deadline was missed."""
        due = self.acknowledge_due_at if kind == "acknowledge" else self.resolve_due_at
        # Stored times have millisecond precision: compare at that resolution.
        return any(b.kind == kind and abs(b.due_at - due) < _MS for b in self.breaches)

    @property
    def next_due_at(self) -> datetime | None:
        """The next moment the SLA sweep must look at this case."""
        pending: list[datetime] = []
        if self.state == "open" and not self.breached("acknowledge"):
            pending.append(self.acknowledge_due_at)
        if self.active and not self.breached("resolve"):
            pending.append(self.resolve_due_at)
        if self.state == "resolved" and self.auto_close_at is not None:
            pending.append(self.auto_close_at)
        return min(pending, default=None)

    def allowed_actions(self, role: str) -> list[str]:
        """Actions ``role`` may take now."""
        return [a for a, m in MOVES.items() if self.state in m.sources and role in m.roles]


def case_id_for(group_key: str, seq: int, at: datetime) -> UUID:
    """The deterministic id of the ``seq``-th case of a group."""
    return uuid7_for(f"case:{group_key}:{seq}", at)


def open_case(
    hits: Sequence[Hit],
    *,
    seq: int,
    now: datetime,
    sla: SlaPolicy,
    calendar: WorkingCalendar,
    follows: UUID | None = None,
) -> Case:
    """A new case for the first hits of a group (all hits share one group key)."""
    first = hits[0]
    case = Case(
        case_id=case_id_for(first.group_key, seq, first.occurred_at),
        group_key=first.group_key,
        seq=seq,
        unit=first.unit,
        rule=first.rule,
        campaign_id=first.campaign_id,
        window=first.window,
        severity=first.severity,
        opened_at=now,
        updated_at=now,
        summary_vi=first.summary_vi,
        summary_en=first.summary_en,
        last_alert_at=first.occurred_at,
        acknowledge_due_at=calendar.add_days(now, sla.acknowledge_days),
        resolve_due_at=calendar.add_days(now, sla.resolve_days),
        follows=follows,
        audit=(
            AuditEntry(at=now, actor=SYSTEM.id, role=SYSTEM.role, action="opened", to_state="open"),
        ),
    )
    return attach(case, hits)


def attach(case: Case, hits: Sequence[Hit]) -> Case:
    """``case`` with ``hits`` attached (counts, worst severity, last alert time)."""
    severity = case.severity
    for hit in hits:
        severity = worst(severity, hit.severity)
    return case.model_copy(
        update={
            "alerts": case.alerts + len(hits),
            "callbacks": case.callbacks + sum(1 for h in hits if h.sealed_callback),
            "severity": severity,
            "last_alert_at": max([case.last_alert_at, *(h.occurred_at for h in hits)]),
        }
    )
