"""The demo's live table: what the system did per commune, and the ranked index.

Two sources, one row per commune:

- *live* columns count the events of the continuous campaign on a plain NATS subscriber
  on ``sipas.>``: dossiers completed since the demo started, invitations, responses,
  response rate and alerts;
- *ranked* columns show the previous period (the seed 002 plan replayed) as scoring's
  league table gives it (``GET /v1/indices``): forms counted, SIPAS, its 95% interval
  and rank. A figure is shown only when it is sufficient, and then with its interval
  and rank; otherwise "không đủ dữ liệu" and no interval. The total row is the province.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nats.aio.msg import Msg
from rich.table import Table

from sipas_contracts.units import UnitHierarchy

INSUFFICIENT = "không đủ dữ liệu"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


@dataclass
class UnitRow:
    """Live counts for one unit."""

    dossiers: int = 0
    invitations: int = 0
    responses: int = 0
    alerts: int = 0


def figure_cells(row: dict[str, Any] | None, *, with_rank: bool = True) -> tuple[str, ...]:
    """Forms, SIPAS, interval and rank of a league-table row, shown only when sufficient."""
    if row is None:
        return ("0", "—", "—", "—")
    sipas = row["sipas"]
    forms = f"{row['responses']:g}"
    if not sipas.get("sufficient") or sipas.get("display") is None:
        return (forms, INSUFFICIENT, "—", "—")
    interval = f"{_pct(sipas['ci_low'])}–{_pct(sipas['ci_high'])}"
    rank = str(row["rank"]) if with_rank and row.get("rank") is not None else "—"
    return (forms, sipas["display"], interval, rank)


@dataclass
class Board:
    """Aggregates the live campaign's events by unit; holds the ranked table for display."""

    hierarchy: UnitHierarchy
    units: list[str]
    live_campaign: str
    started: datetime
    rows: dict[str, UnitRow] = field(default_factory=lambda: defaultdict(UnitRow))
    ranked: dict[str, Any] | None = None
    dead_letters: int = 0

    async def on_message(self, msg: Msg) -> None:
        """NATS callback: count one event of the live campaign."""
        parts = msg.subject.split(".")
        if parts[1] == "dlq":
            self.dead_letters += 1
            return
        kind = f"{parts[1]}.{parts[2]}"
        if kind not in {
            "dossier.completed",
            "invitation.sent",
            "response.recorded",
            "alert.raised",
        }:
            return
        event = json.loads(msg.data)
        row = self.rows[parts[-1]]
        if kind == "alert.raised":
            row.alerts += event.get("campaign_id") in {self.live_campaign, None}
        elif kind == "dossier.completed":
            if datetime.fromisoformat(event["delivered_at"]) >= self.started:
                row.dossiers += 1
        elif event.get("campaign_id") == self.live_campaign:
            if kind == "invitation.sent" and event.get("attempt", 1) == 1:
                row.invitations += 1
            elif kind == "response.recorded":
                row.responses += 1

    def _ranked_rows(self) -> dict[str, dict[str, Any]]:
        return {r["unit"]: r for r in (self.ranked or {}).get("rows", [])}

    def table(self, title: str) -> Table:
        """The rich table for the current counts and the latest league table."""
        table = Table(title=title, title_justify="left")
        table.add_column("Đơn vị / Unit")
        for header in ("Hồ sơ", "Mời", "Trả lời", "Tỷ lệ %", "Cảnh báo"):
            table.add_column(header, justify="right", style="cyan")
        for header in ("Phiếu", "SIPAS %", "KTC 95%", "Hạng"):
            table.add_column(header, justify="right", style="bold")
        ranked = self._ranked_rows()
        totals = UnitRow()
        for code in self.units:
            row = self.rows.get(code, UnitRow())
            rate = 100 * row.responses / row.invitations if row.invitations else None
            table.add_row(
                self.hierarchy.get(code).name_vi,
                *(str(row.dossiers), str(row.invitations), str(row.responses)),
                *(_pct(rate), str(row.alerts)),
                *figure_cells(ranked.get(code)),
            )
            for name in ("dossiers", "invitations", "responses", "alerts"):
                setattr(totals, name, getattr(totals, name) + getattr(row, name))
        rate = 100 * totals.responses / totals.invitations if totals.invitations else None
        table.add_row(
            f"[bold]{self.hierarchy.get(self.hierarchy.province).name_vi} (tổng / total)[/]",
            *(str(totals.dossiers), str(totals.invitations), str(totals.responses)),
            *(_pct(rate), str(totals.alerts)),
            *figure_cells(ranked.get(self.hierarchy.province), with_rank=False),
        )
        table.caption = (
            f"Xanh: chiến dịch trực tiếp {self.live_campaign} (live). Đậm: kỳ trước "
            f"{(self.ranked or {}).get('campaign_id', '…')} phát lại (kế hoạch 002, 25 phiếu/xã)"
            f" — xếp hạng theo giá trị chưa làm tròn. Hàng đợi lỗi (DLQ): {self.dead_letters}"
        )
        return table
