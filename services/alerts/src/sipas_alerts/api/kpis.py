"""Case-handling KPIs: how fast units acknowledge and resolve, and how often they are late."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from sipas_alerts.api.scope import CurrentScope, service_of
from sipas_alerts.domain.alerts import rule_label
from sipas_alerts.domain.cases import Case
from sipas_alerts.domain.kpis import UnitKpis, kpis
from sipas_alerts.store import CaseQuery
from sipas_runtime.params import IsoDateTime

if TYPE_CHECKING:
    from sipas_alerts.app import AlertsService

router = APIRouter(prefix="/v1", tags=["kpis"])
MAX_CASES = 200_000


class KpiRow(UnitKpis):
    """KPIs of one unit, rule, or of everything in scope."""

    name: str


class KpiReport(BaseModel):
    """KPIs of the cases opened in [opened_from, opened_to), as of ``as_of``."""

    as_of: datetime
    opened_from: datetime | None
    opened_to: datetime | None
    group_by: str
    rows: list[KpiRow]


@router.get("/kpis", summary="Time to acknowledge and resolve, SLA breaches, backlog")
async def case_kpis(
    request: Request,
    scope: CurrentScope,
    *,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    subtree: bool = True,
    opened_from: IsoDateTime | None = None,
    opened_to: IsoDateTime | None = None,
    group_by: Literal["unit", "rule", "total"] = "unit",
) -> KpiReport:
    """Working-hour KPIs of cases in your units, per unit (default), per rule or in total."""
    alerts = service_of(request)
    now = alerts.desk.clock()
    query = CaseQuery(
        units=scope.narrow(unit, include_subtree=subtree),
        opened_from=opened_from,
        opened_to=opened_to,
    )
    cases = await alerts.stores.reads.search(query, limit=MAX_CASES)
    groups: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        key = {"unit": case.unit, "rule": case.rule}.get(group_by, "total")
        groups[key].append(case)
    rows = [
        KpiRow(**kpis(key, members, now).model_dump(), name=_name(alerts, group_by, key))
        for key, members in sorted(groups.items())
    ]
    return KpiReport(
        as_of=now, opened_from=opened_from, opened_to=opened_to, group_by=group_by, rows=rows
    )


def _name(alerts: AlertsService, group_by: str, key: str) -> str:
    if group_by == "unit":
        return alerts.notices.unit_name(key)
    return rule_label(key) if group_by == "rule" else "Tất cả / All"
