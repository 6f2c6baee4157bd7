"""The demo's live table, fed by a plain NATS subscriber on ``sipas.>``.

It shows what the *system* did, per commune: dossiers accepted, invitations sent,
responses recorded, the latest published index with its confidence interval, and alerts.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from nats.aio.msg import Msg
from rich.table import Table

from sipas_contracts.units import UnitHierarchy


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


@dataclass
class UnitRow:
    """Counts for one unit."""

    dossiers: int = 0
    invitations: int = 0
    responses: int = 0
    alerts: int = 0
    index: dict[str, Any] | None = None


@dataclass
class Board:
    """Aggregates events by unit for display."""

    hierarchy: UnitHierarchy
    units: list[str]
    rows: dict[str, UnitRow] = field(default_factory=lambda: defaultdict(UnitRow))
    dead_letters: int = 0

    async def on_message(self, msg: Msg) -> None:
        """NATS callback: count one event."""
        parts = msg.subject.split(".")
        if parts[1] == "dlq":
            self.dead_letters += 1
            return
        kind = f"{parts[1]}.{parts[2]}"
        row = self.rows[parts[-1]]
        if kind == "dossier.completed":
            row.dossiers += 1
        elif kind == "invitation.sent":
            row.invitations += 1
        elif kind == "response.recorded":
            row.responses += 1
        elif kind == "alert.raised":
            row.alerts += 1
        elif kind == "index.updated":
            event = json.loads(msg.data)
            if row.index is None or event["version"] >= row.index["version"]:
                row.index = event

    def table(self, title: str) -> Table:
        """The rich table for the current counts."""
        table = Table(title=title, title_justify="left")
        table.add_column("Đơn vị / Unit")
        for header in ("Hồ sơ", "Mời", "Trả lời", "Tỷ lệ %", "SIPAS %", "95% CI", "Cảnh báo"):
            table.add_column(header, justify="right")
        totals = UnitRow()
        for code in self.units:
            row = self.rows.get(code, UnitRow())
            figure = (row.index or {}).get("sipas") or {}
            rate = 100 * row.responses / row.invitations if row.invitations else None
            ci = (
                f"{_pct(figure.get('ci_low'))}–{_pct(figure.get('ci_high'))}"
                if figure.get("ci_low") is not None
                else "—"
            )
            value = _pct(figure.get("value")) if figure.get("sufficient") else "không đủ dữ liệu"
            table.add_row(
                self.hierarchy.get(code).name_vi,
                str(row.dossiers),
                str(row.invitations),
                str(row.responses),
                _pct(rate),
                value,
                ci,
                str(row.alerts),
            )
            totals.dossiers += row.dossiers
            totals.invitations += row.invitations
            totals.responses += row.responses
            totals.alerts += row.alerts
        total_rate = 100 * totals.responses / totals.invitations if totals.invitations else None
        table.add_row(
            "[bold]Tổng / Total[/]",
            str(totals.dossiers),
            str(totals.invitations),
            str(totals.responses),
            _pct(total_rate),
            "",
            "",
            str(totals.alerts),
        )
        table.caption = f"Hàng đợi lỗi (DLQ): {self.dead_letters}"
        return table
