"""Changing a case: actions by people, deadlines checked by the clock, and the events.

Pure functions of (case, action or time, policy) -> new case; every change bumps the
case's ``version`` (optimistic concurrency in the store) and appends to its audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sipas_alerts.domain.alerts import PRODUCER
from sipas_alerts.domain.calendar import WorkingCalendar
from sipas_alerts.domain.cases import MOVES, NOTE_MAX, SYSTEM, Actor, AuditEntry, Breach, Case
from sipas_alerts.domain.errors import (
    ActionNotAllowedError,
    IllegalTransitionError,
    NoteRequiredError,
    StaleCaseError,
)
from sipas_alerts.domain.policy import SlaPolicy
from sipas_contracts.events import CaseChange, CaseState, CaseUpdated, SlaKind
from sipas_contracts.ids import uuid7_for


def act(
    case: Case,
    action: str,
    actor: Actor,
    *,
    now: datetime,
    sla: SlaPolicy,
    calendar: WorkingCalendar,
    note: str | None = None,
    expected_version: int | None = None,
) -> Case:
    """``case`` after ``actor`` takes ``action`` (raises a CaseActionError if not allowed)."""
    move = MOVES.get(action)
    if move is None:
        raise IllegalTransitionError(action, case.state, [])
    if actor.role not in move.roles:
        raise ActionNotAllowedError(actor.role, action)
    if expected_version is not None and expected_version != case.version:
        raise StaleCaseError(expected_version, case.version)
    if case.state not in move.sources:
        raise IllegalTransitionError(action, case.state, move.sources)
    note = (note or "").strip()[:NOTE_MAX] or None
    if move.needs_note and note is None:
        raise NoteRequiredError(action)
    update: dict[str, Any] = {"state": move.target, **_effects(case, action, now, sla, calendar)}
    if action == "resolve":
        update["resolution"] = note
    if action == "dismiss":
        update["dismiss_reason"] = note
    entry = AuditEntry(
        at=now,
        actor=actor.id,
        role=actor.role,
        action=move.change,
        from_state=case.state,
        to_state=move.target,
        note=note,
    )
    return _bump(case, now, entry, update)


def _effects(
    case: Case, action: str, now: datetime, sla: SlaPolicy, calendar: WorkingCalendar
) -> dict[str, Any]:
    if action == "acknowledge":
        return {
            "acknowledged_at": now,
            "acknowledge_seconds": calendar.between(case.opened_at, now),
        }
    if action == "resolve":
        auto = calendar.add_days(now, sla.auto_close_days) if sla.auto_close_days else None
        return {
            "resolved_at": now,
            "resolve_seconds": calendar.between(case.opened_at, now),
            "auto_close_at": auto,
        }
    if action in {"close", "dismiss"}:
        return {"ended_at": now, "auto_close_at": None}
    if action == "reopen":
        return {
            "resolve_due_at": calendar.add_days(now, sla.resolve_days),
            "ended_at": None,
            "auto_close_at": None,
        }
    return {}


def _bump(case: Case, now: datetime, entry: AuditEntry, update: dict[str, Any]) -> Case:
    return case.model_copy(
        update={
            **update,
            "version": case.version + 1,
            "updated_at": now,
            "audit": (*case.audit, entry),
        }
    )


def note_on(case: Case, actor: Actor, *, now: datetime, action: str, note: str | None) -> Case:
    """``case`` with a note (or a record of who viewed what) in its audit trail."""
    entry = AuditEntry(at=now, actor=actor.id, role=actor.role, action=action, note=note)
    return _bump(case, now, entry, {})


@dataclass(frozen=True)
class Step:
    """One change the clock made to a case, with the case as it was right after."""

    case: Case
    change: CaseChange
    previous_state: CaseState
    breach: SlaKind | None = None


def check_deadlines(
    case: Case, *, now: datetime, sla: SlaPolicy, calendar: WorkingCalendar
) -> list[Step]:
    """The escalations of missed deadlines (each once) and the auto-close due by ``now``."""
    steps: list[Step] = []
    if case.state == "open" and not case.breached("acknowledge") and now >= case.acknowledge_due_at:
        case = _escalate(case, "acknowledge", sla.escalate_acknowledge_to, now)
        steps.append(Step(case, "escalated", case.state, "acknowledge"))
    if case.active and not case.breached("resolve") and now >= case.resolve_due_at:
        case = _escalate(case, "resolve", sla.escalate_resolve_to, now)
        steps.append(Step(case, "escalated", case.state, "resolve"))
    if case.state == "resolved" and case.auto_close_at is not None and now >= case.auto_close_at:
        case = act(case, "close", SYSTEM, now=now, sla=sla, calendar=calendar)
        steps.append(Step(case, "closed", "resolved"))
    return steps


def _escalate(case: Case, kind: SlaKind, targets: tuple[str, ...], now: datetime) -> Case:
    due = case.acknowledge_due_at if kind == "acknowledge" else case.resolve_due_at
    breach = Breach(kind=kind, due_at=due, at=now, escalated_to=targets)
    entry = AuditEntry(
        at=now,
        actor=SYSTEM.id,
        role=SYSTEM.role,
        action="escalated",
        note=f"{kind} deadline {due.isoformat()} missed; escalated to {', '.join(targets)}",
    )
    escalated = tuple(dict.fromkeys((*case.escalated_to, *targets)))
    return _bump(
        case, now, entry, {"breaches": (*case.breaches, breach), "escalated_to": escalated}
    )


def case_event(
    case: Case,
    change: CaseChange,
    *,
    previous_state: CaseState | None,
    actor_role: str,
    breach: SlaKind | None = None,
) -> CaseUpdated:
    """The case-updated event of ``case`` at its current version (deterministic id)."""
    event_id = uuid7_for(f"case:{case.case_id}:v{case.version}", case.updated_at)
    return CaseUpdated(
        event_id=event_id,
        occurred_at=case.updated_at,
        producer=PRODUCER,
        case_id=case.case_id,
        unit=case.unit,
        rule=case.rule,
        state=case.state,
        previous_state=previous_state,
        actor_role=actor_role,
        sla_due_at=case.next_due_at,
        escalated=bool(case.escalated_to),
        change=change,
        campaign_id=case.campaign_id,
        severity=case.severity,
        window=case.window,
        alerts=case.alerts,
        acknowledge_due_at=case.acknowledge_due_at,
        resolve_due_at=case.resolve_due_at,
        breach=breach,
        escalated_to=list(case.escalated_to),
    )
