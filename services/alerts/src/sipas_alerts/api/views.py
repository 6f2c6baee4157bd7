"""What the case API returns: cases as a handler or supervisor reads them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sipas_alerts.domain.alerts import rule_label
from sipas_alerts.domain.calendar import WorkingCalendar
from sipas_alerts.domain.cases import AuditEntry, Breach, Case
from sipas_contracts.events import CaseState, Severity


class Text(BaseModel):
    """A text in Vietnamese and English."""

    vi: str
    en: str


class Due(BaseModel):
    """The deadline that matters now, in the province's working time.

    To acknowledge while new, then to resolve: what a countdown shows without a calendar.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["acknowledge", "resolve"]
    at: datetime
    overdue: bool
    working_seconds_left: float = Field(description="Office time until the deadline (0 once past)")
    working_day_seconds: float = Field(description="Office time in one working day")


class CaseSummary(BaseModel):
    """A case in a listing."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    unit: str
    unit_name: str
    rule: str
    rule_label: Text
    severity: Severity
    state: CaseState
    campaign_id: str | None
    window: str
    alerts: int
    callbacks_available: int
    summary: Text
    opened_at: datetime
    last_alert_at: datetime
    acknowledge_due_at: datetime
    resolve_due_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    ended_at: datetime | None
    overdue: bool
    escalated_to: list[str]
    version: int
    allowed_actions: list[str]
    unit_has_contact: bool = True
    """False when nobody is notified of the unit's cases (no contact for it or above it)."""
    due: Due | None = None
    """None once the case is resolved, closed or dismissed."""


class CaseDetail(CaseSummary):
    """One case with its history."""

    resolution: str | None
    dismiss_reason: str | None
    follows: str | None
    breaches: list[Breach]
    audit: list[AuditEntry]
    notifications: list[dict[str, Any]]


class CasePage(BaseModel):
    """A page of cases, newest first; pass ``next`` as ``before`` for the next page."""

    items: list[CaseSummary]
    next: str | None


def is_overdue(case: Case, now: datetime) -> bool:
    """Active and past a deadline."""
    if not case.active:
        return False
    return (case.state == "open" and now >= case.acknowledge_due_at) or now >= case.resolve_due_at


def due(case: Case, now: datetime, calendar: WorkingCalendar) -> Due | None:
    """The deadline of an active case and the working time left until it."""
    if not case.active:
        return None
    kind: Literal["acknowledge", "resolve"] = "acknowledge" if case.state == "open" else "resolve"
    at = case.acknowledge_due_at if kind == "acknowledge" else case.resolve_due_at
    return Due(
        kind=kind,
        at=at,
        overdue=now >= at,
        working_seconds_left=calendar.between(now, at),
        working_day_seconds=calendar.day_seconds,
    )


def summary(
    case: Case,
    *,
    role: str,
    now: datetime,
    unit_name: str,
    unit_has_contact: bool = True,
    calendar: WorkingCalendar | None = None,
) -> CaseSummary:
    """The listing view of ``case`` for a caller with ``role`` (its countdown with a calendar)."""
    return CaseSummary(
        case_id=str(case.case_id),
        unit=case.unit,
        unit_name=unit_name,
        rule=case.rule,
        rule_label=Text(vi=rule_label(case.rule), en=rule_label(case.rule, "en")),
        severity=case.severity,
        state=case.state,
        campaign_id=case.campaign_id,
        window=case.window,
        alerts=case.alerts,
        callbacks_available=case.callbacks,
        summary=Text(vi=case.summary_vi, en=case.summary_en),
        opened_at=case.opened_at,
        last_alert_at=case.last_alert_at,
        acknowledge_due_at=case.acknowledge_due_at,
        resolve_due_at=case.resolve_due_at,
        acknowledged_at=case.acknowledged_at,
        resolved_at=case.resolved_at,
        ended_at=case.ended_at,
        overdue=is_overdue(case, now),
        escalated_to=list(case.escalated_to),
        version=case.version,
        allowed_actions=case.allowed_actions(role),
        unit_has_contact=unit_has_contact,
        due=due(case, now, calendar) if calendar is not None else None,
    )


def detail(
    case: Case,
    *,
    role: str,
    now: datetime,
    unit_name: str,
    notifications: list[dict[str, Any]],
    unit_has_contact: bool = True,
    calendar: WorkingCalendar | None = None,
) -> CaseDetail:
    """The full view of ``case``."""
    listed = summary(
        case,
        role=role,
        now=now,
        unit_name=unit_name,
        unit_has_contact=unit_has_contact,
        calendar=calendar,
    )
    return CaseDetail(
        **listed.model_dump(),
        resolution=case.resolution,
        dismiss_reason=case.dismiss_reason,
        follows=str(case.follows) if case.follows else None,
        breaches=list(case.breaches),
        audit=list(case.audit),
        notifications=[{k: v for k, v in n.items() if k != "_id"} for n in notifications],
    )
