"""The case API: list and read cases in your units, move them along, see who did what.

A unit handler sees the cases of its unit subtree (403 outside it); a supervisor sees and
does everything; an observer reads only (see ``api.scope`` and ``api.permissions``).
Illegal transitions answer 409 with the state and the states the action is allowed from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sipas_alerts.api.scope import CurrentScope, service_of
from sipas_alerts.api.views import CaseDetail, CasePage, detail, summary
from sipas_alerts.comment_vault import CommentVault
from sipas_alerts.domain.cases import NOTE_MAX, Case
from sipas_alerts.store import CaseQuery
from sipas_contracts.events import CaseState, Severity
from sipas_contracts.ids import CODE_PATTERN
from sipas_runtime.openapi import problem_responses
from sipas_runtime.params import CampaignQuery, IsoDateTime, UnitQuery

router = APIRouter(prefix="/v1", tags=["cases"])
CASE_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
CaseId = Annotated[str, Path(pattern=CASE_ID, description="Case id (UUID)")]
Action = Literal["acknowledge", "start", "resolve", "close", "dismiss", "reopen"]


class TransitionRequest(BaseModel):
    """An action on a case; ``note`` is required to resolve, dismiss and reopen."""

    model_config = ConfigDict(extra="forbid")

    action: Action
    note: str | None = Field(default=None, max_length=NOTE_MAX)
    version: int | None = Field(
        default=None, ge=1, description="The version you read; 409 if it changed since"
    )


class NoteRequest(BaseModel):
    """A note for the case's audit trail."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=NOTE_MAX)


RuleName = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]


@router.get("/cases", summary="Cases in your units, newest first")
async def list_cases(
    request: Request,
    scope: CurrentScope,
    *,
    unit: UnitQuery = None,
    subtree: bool = True,
    state: Annotated[list[CaseState] | None, Query()] = None,
    rule: Annotated[list[RuleName] | None, Query(max_length=20, description="Rule names")] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    campaign: CampaignQuery = None,
    escalated: bool | None = None,
    overdue: bool = False,
    opened_from: IsoDateTime | None = None,
    opened_to: IsoDateTime | None = None,
    before: Annotated[str | None, Query(pattern=CASE_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    """Filter by unit (with its subtree), state, rule, severity, campaign and deadlines."""
    alerts = service_of(request)
    now = alerts.desk.clock()
    query = CaseQuery(
        units=scope.narrow(unit, include_subtree=subtree),
        states=tuple(state or ()),
        rules=tuple(rule or ()),
        severities=tuple(severity or ()),
        campaign_id=campaign,
        escalated=escalated,
        overdue_at=now if overdue else None,
        opened_from=opened_from,
        opened_to=opened_to,
        before=before,
    )
    cases = await alerts.stores.reads.search(query, limit=limit)
    role = scope.role
    items = [
        summary(
            c,
            role=role,
            now=now,
            unit_name=alerts.notices.unit_name(c.unit),
            unit_has_contact=alerts.notices.has_contact(c),
            calendar=alerts.desk.policy.calendar,
        )
        for c in cases
    ]
    return CasePage(items=items, next=items[-1].case_id if len(items) == limit else None)


async def _detail(request: Request, scope: CurrentScope, case: Case) -> CaseDetail:
    alerts = service_of(request)
    return detail(
        case,
        role=scope.role,
        now=alerts.desk.clock(),
        unit_name=alerts.notices.unit_name(case.unit),
        notifications=await alerts.stores.notifications.of_case(str(case.case_id)),
        unit_has_contact=alerts.notices.has_contact(case),
        calendar=alerts.desk.policy.calendar,
    )


@router.get("/cases/{case_id}", summary="One case with its audit trail")
async def get_case(request: Request, scope: CurrentScope, case_id: CaseId) -> CaseDetail:
    """The case, if its unit is yours (403 otherwise)."""
    case = await service_of(request).case(case_id, scope)
    return await _detail(request, scope, case)


@router.post(
    "/cases/{case_id}/transitions",
    summary="Acknowledge, start, resolve, close...",
    responses=problem_responses(409),
)
async def transition(
    request: Request, scope: CurrentScope, case_id: CaseId, body: TransitionRequest
) -> CaseDetail:
    """Move the case along its lifecycle (409 when the state does not allow the action)."""
    case = await service_of(request).desk.act(
        scope.actor,
        case_id,
        body.action,
        note=body.note,
        expected_version=body.version,
        guard=lambda c: scope.check(c.unit),
    )
    return await _detail(request, scope, case)


@router.post(
    "/cases/{case_id}/notes",
    summary="Add a note to the audit trail",
    responses=problem_responses(409),
)
async def add_note(
    request: Request, scope: CurrentScope, case_id: CaseId, body: NoteRequest
) -> CaseDetail:
    """Record a note (workers of the case's unit only)."""
    alerts = service_of(request)
    case = await alerts.desk.annotate(
        scope.actor,
        case_id,
        action="noted",
        note=body.note,
        guard=lambda c: scope.check(c.unit),
    )
    return await _detail(request, scope, case)


@router.get("/cases/{case_id}/alerts", summary="The alerts attached to a case")
async def case_alerts(
    request: Request,
    scope: CurrentScope,
    case_id: CaseId,
    before: Annotated[str | None, Query(pattern=CASE_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """Newest first; never the respondent's contact."""
    alerts = service_of(request)
    await alerts.case(case_id, scope)
    docs = await alerts.stores.reads.alerts_of(case_id, limit=limit, before=before)
    return [_alert(doc, alerts.comments) for doc in docs]


@router.get("/cases/{case_id}/callbacks", summary="Call-back contacts (the unit's handler only)")
async def callbacks(request: Request, scope: CurrentScope, case_id: CaseId) -> dict[str, Any]:
    """Contacts of respondents who asked to be called back; every viewing is audited."""
    alerts = service_of(request)
    return {"case_id": case_id, "callbacks": await alerts.open_callbacks(case_id, scope)}


@router.get("/alerts", summary="Most recent alerts in your units")
async def list_alerts(
    request: Request,
    scope: CurrentScope,
    unit: UnitQuery = None,
    rule: Annotated[list[RuleName] | None, Query(max_length=20, description="Rule names")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """Alerts, newest first, optionally for one unit (with its subtree) and rules."""
    alerts = service_of(request)
    docs = await alerts.stores.reads.recent_alerts(
        scope.narrow(unit), tuple(rule or ()), limit=limit
    )
    return [_alert(doc, alerts.comments) for doc in docs]


def _alert(doc: dict[str, Any], comments: CommentVault) -> dict[str, Any]:
    """An alert as its readers see it: the comment opened, masked and cut short."""
    sealed = doc.pop("sealed_comment", None)
    out = {"alert_id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}
    excerpt = comments.excerpt(sealed)
    if excerpt:
        out["details"] = {**out.get("details", {}), "comment": excerpt}
    if isinstance(out.get("occurred_at"), datetime):
        out["occurred_at"] = out["occurred_at"].isoformat()
    return out
