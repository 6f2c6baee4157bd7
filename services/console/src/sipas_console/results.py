"""The public results as people read them: pure functions from published tables.

- numbers as written in the page's language (``84,45`` in Vietnamese, ``84.45`` in
  English), from scoring's official 2-decimal texts (never rounded again here);
- a unit's figure: shown only when sufficient, always with its 95% interval (as text
  and as a bar on a 0-100 axis), otherwise "không đủ dữ liệu";
- the ranking of each tier, and a unit's trend over the published periods.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sipas_runtime.i18n import Lang, _

Json = dict[str, Any]
VIETNAM = timezone(timedelta(hours=7))
TIER_ORDER = ("province", "district", "department", "commune")
TIER_NAMES = {
    "province": _("Province"),
    "district": _("Districts"),
    "department": _("Departments and agencies"),
    "commune": _("Communes, wards and towns"),
}


TYPE_NAMES = {"number": _("number"), "text": _("text"), "true/false": _("true/false")}


def title(table: Json, lang: Lang) -> str:
    """The campaign's name in ``lang`` (else in Vietnamese, else its code)."""
    profile = table.get("profile") or {}
    return str(profile.get(f"title_{lang}") or profile.get("title_vi") or table["campaign_id"])


def count(value: float | None) -> str:
    """A number of forms: ``25`` (``12.5`` only for an apportioned count)."""
    return "—" if value is None else f"{value:g}"


def day(value: str | None) -> str:
    """``08/04/2026`` from ``2026-04-08``."""
    return "—" if not value else f"{value[8:10]}/{value[5:7]}/{value[:4]}"


def decimal(text: str | None, lang: Lang) -> str:
    """``84,45`` (Vietnamese) or ``84.45`` (English) from the official ``84.45``."""
    if text is None:
        return "—"
    return text.replace(".", ",") if lang == "vi" else text


@dataclass(frozen=True)
class Shown:
    """A figure as the page shows it."""

    sufficient: bool
    value: str = "—"
    low: str = "—"
    high: str = "—"
    n: int = 0
    bar: tuple[float, float, float] | None = None
    """Lower bound, value and upper bound on a 0-100 axis, for the interval bar."""


def shown(figure: Json | None, lang: Lang) -> Shown:
    """A figure with its interval, or insufficient (no interval for a figure not shown)."""
    if not figure or not figure.get("sufficient") or figure.get("display") is None:
        return Shown(sufficient=False, n=int((figure or {}).get("n") or 0))
    low, high = figure.get("ci_low"), figure.get("ci_high")
    bar = None
    if low is not None and high is not None:
        bar = (float(low), float(figure["value"]), float(high))
    low_text, _dash, high_text = (figure.get("ci_display") or "").partition("–")
    return Shown(
        sufficient=True,
        value=decimal(figure["display"], lang),
        low=decimal(low_text or None, lang),
        high=decimal(high_text or None, lang),
        n=int(figure.get("n") or 0),
        bar=bar,
    )


def change(value: int | None) -> str:
    """``▲ 2``, ``▼ 1``, ``=`` or ``—`` (no previous rank)."""
    if value is None:
        return "—"
    return f"▲ {value}" if value > 0 else (f"▼ {-value}" if value < 0 else "=")


def tiers(table: Json, lang: Lang) -> list[Json]:
    """Each tier's units, ranked first (by rank), then the others by name."""
    out = []
    for tier in TIER_ORDER:
        rows = [r for r in table["rows"] if r["tier"] == tier]
        if not rows:
            continue
        rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["name"]))
        out.append(
            {
                "tier": tier,
                "name": TIER_NAMES[tier],
                "rows": [
                    {
                        "unit": r["unit"],
                        "name": r["name"],
                        "rank": r["rank"],
                        "responses": r["responses"],
                        "figure": shown(r["sipas"], lang),
                        "change": change(r.get("rank_change")),
                    }
                    for r in rows
                ],
            }
        )
    return out


def parts(table: Json, row: Json, lang: Lang) -> list[Json]:
    """The unit's aspects and elements by name, each with its figure."""
    out = []
    for aspect in table["structure"]:
        if table["sipas_rule"] == "mean_of_aspects":
            out.append({"name": aspect[lang], "aspect": True,
                        "figure": shown(row["aspects"].get(aspect["id"]), lang)})  # fmt: skip
        out += [
            {"name": e[lang], "aspect": False, "figure": shown(row["elements"].get(e["id"]), lang)}
            for e in aspect["elements"]
        ]
    return out


def _start(table: Json) -> str:
    profile = table.get("profile") or {}
    months = table.get("months") or [""]
    return str(profile.get("window_start") or months[0])


def trend(unit: str, tables: Iterable[Json], lang: Lang) -> list[Json]:
    """The unit's SIPAS in every published table that has it, oldest first."""
    found = []
    for table in tables:
        row = next((r for r in table["rows"] if r["unit"] == unit), None)
        if row is None:
            continue
        found.append(
            {
                "key": (_start(table), table["period"] != "campaign", table["period"]),
                "campaign_id": table["campaign_id"],
                "period": table["period"],
                "title": title(table, lang),
                "figure": shown(row["sipas"], lang),
                "rank": row["rank"],
                "responses": row["responses"],
            }
        )
    return sorted(found, key=lambda f: f["key"])


def published_on(record: Json) -> str:
    """The day a publication was published, in Vietnam (``07/12/2026``)."""
    steps = [h for h in record.get("history", []) if h.get("state") == "published"]
    if not steps:
        return "—"
    return datetime.fromisoformat(steps[-1]["at"]).astimezone(VIETNAM).strftime("%d/%m/%Y")
