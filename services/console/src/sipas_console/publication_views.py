"""How publications read on the staff pages: states, steps, comparison with the last one.

The steps a viewer may take, and a publication's figures beside the previous published ones.

Pure functions over scoring's JSON (no I/O). Scoring enforces the workflow (an approver who
did not draft it approves; only an approved publication is published); these functions only
decide which forms a page offers, so a person is not shown a button that would be refused.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sipas_console.results import decimal, shown
from sipas_runtime.i18n import Lang, _
from sipas_runtime.identity.roles import PUBLICATIONS_APPROVE, PUBLICATIONS_DRAFT

Json = dict[str, Any]
STATES = {
    "draft": _("Draft"),
    "approved": _("Approved"),
    "published": _("Published"),
    "superseded": _("Superseded"),
    "withdrawn": _("Withdrawn"),
}
STATE_TAGS = {"draft": "yellow", "approved": "blue", "published": "green"}
STEPS = {
    "approve": _("Approve"),
    "publish": _("Publish"),
    "withdraw": _("Withdraw"),
}
SHOWN = ("published", "superseded")
"""States whose figures were public: what a draft is compared with."""


def steps_for(record: Json, viewer: str, permissions: Collection[str]) -> list[str]:
    """The steps ``viewer`` may take on ``record`` now (scoring checks them again)."""
    state = record["state"]
    steps = []
    if PUBLICATIONS_APPROVE in permissions:
        if state == "draft" and record["drafted_by"] != viewer:
            steps.append("approve")
        if state == "approved":
            steps.append("publish")
    if PUBLICATIONS_DRAFT in permissions and state in ("draft", "approved"):
        steps.append("withdraw")
    return steps


def previous_of(record: Json, listing: Iterable[Json]) -> Json | None:
    """The publication of the same campaign shown to the public before ``record`` was drafted.

    The same period when there is one, else the campaign's latest published period.
    """
    earlier = [
        other
        for other in listing
        if other["id"] != record["id"]
        and other["campaign_id"] == record["campaign_id"]
        and other["state"] in SHOWN
        and other["drafted_at"] < record["drafted_at"]
    ]
    same = [other for other in earlier if other["period"] == record["period"]]
    chosen = same or earlier
    return max(chosen, key=lambda other: other["drafted_at"]) if chosen else None


@dataclass(frozen=True)
class Compared:
    """One unit's SIPAS in a publication beside the previous published figure."""

    unit: str
    name: str
    tier: str
    now: str
    interval: str
    before: str
    change: str

    def cells(self) -> list[str]:
        """The row as the comparison table shows it."""
        return [self.name, self.now, self.interval, self.before, self.change]


def _change(now: Json | None, before: Json | None, lang: Lang) -> str:
    """The change in points between the two figures as published (their 2-decimal displays)."""
    if not now or not before or not now.get("sufficient") or not before.get("sufficient"):
        return "—"
    if now.get("display") is None or before.get("display") is None:
        return "—"
    delta = Decimal(now["display"]) - Decimal(before["display"])
    if delta == 0:
        return "="
    sign = "+" if delta > 0 else "−"
    return sign + decimal(f"{abs(delta):.2f}", lang)


def compared(snapshot: Json, previous: Json | None, lang: Lang, missing: str) -> list[Compared]:
    """Every row of ``snapshot``'s table beside the same unit in ``previous`` (if any)."""
    before_rows = {
        row["unit"]: row for row in ((previous or {}).get("table") or {}).get("rows", [])
    }
    rows = []
    for row in (snapshot.get("table") or {}).get("rows", []):
        figure = shown(row.get("sipas"), lang)
        before_row = before_rows.get(row["unit"])
        before = shown(before_row.get("sipas"), lang) if before_row else None
        rows.append(
            Compared(
                unit=row["unit"],
                name=row["name"],
                tier=row["tier"],
                now=figure.value if figure.sufficient else missing,
                interval=f"{figure.low}–{figure.high}" if figure.sufficient else "—",
                before="—" if before is None else (before.value if before.sufficient else missing),
                change=_change(row.get("sipas"), (before_row or {}).get("sipas"), lang),
            )
        )
    return rows
