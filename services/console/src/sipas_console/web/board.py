"""The province case board (Sở Nội vụ): overdue and escalated cases, per-unit KPIs.

Everything comes from alerts with the supervisor's token: ``GET /v1/cases?overdue=true``,
``?escalated=true`` and ``GET /v1/kpis?group_by=unit`` (working-hour figures computed by
alerts on the province's calendar). Closing, reopening and the notes are on the case page.
The page refreshes itself when a case changes (``static/live.js``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from sipas_console.web import case_views
from sipas_console.web.menu import MenuItem
from sipas_console.web.page import caller_of, render, service_of
from sipas_runtime.i18n import _
from sipas_runtime.identity import allow
from sipas_runtime.identity.roles import CASES_SUPERVISE

router = APIRouter(include_in_schema=False)
PERMISSIONS = {("GET", "/board"): allow(CASES_SUPERVISE)}
MENU = [
    MenuItem(
        25,
        _("Case board"),
        "/board",
        _("Overdue and escalated cases of the province, and how each unit handles its cases."),
        permission=CASES_SUPERVISE,
    )
]
LIMIT = 100


def percent(rate: float | None) -> str:
    """``87,5 %`` style share (one decimal), or a dash."""
    return "—" if rate is None else f"{rate * 100:.1f}".replace(".", ",") + " %"


def hours(value: float | None) -> str:
    """Working hours with one decimal, or a dash."""
    return "—" if value is None else f"{value:.1f}".replace(".", ",")


def kpi_rows(report: dict[str, Any]) -> list[list[Any]]:
    """One table row per unit: backlog, on-time shares, median working hours, escalations."""
    return [
        [
            row["name"],
            row["open_now"],
            row["overdue_now"],
            row["opened"],
            percent(row["acknowledge_on_time_rate"]),
            percent(row["resolve_on_time_rate"]),
            hours(row["time_to_acknowledge"]["median_hours"]),
            hours(row["time_to_resolve"]["median_hours"]),
            row["escalated"],
        ]
        for row in report["rows"]
    ]


@router.get("/board", response_class=HTMLResponse)
async def board(request: Request) -> HTMLResponse:
    """Overdue cases first, then escalated ones, then every unit's KPIs."""
    alerts, caller = service_of(request).clients.alerts, caller_of(request)
    active = {"state": list(case_views.ACTIVE), "limit": LIMIT}
    overdue, escalated, report = await asyncio.gather(
        alerts.get_json("/v1/cases", as_=caller, params={**active, "overdue": "true"}),
        alerts.get_json("/v1/cases", as_=caller, params={**active, "escalated": "true"}),
        alerts.get_json("/v1/kpis", as_=caller, params={"group_by": "unit"}),
    )
    now = datetime.now(UTC)
    return render(
        request,
        "board/board.html",
        overdue=case_views.by_deadline(overdue["items"], now),
        escalated=case_views.by_deadline(escalated["items"], now),
        kpis=kpi_rows(report),
        now=now,
        views=case_views,
    )
