"""The report's body from a frozen table: summary, rankings, elements, responses.

The rankings come with their error bars; elements and aspects have their indices; the
responses their response rate.

Units appear under their full names and elements under their names (never codes). A
figure is printed only when it is sufficient, always with its interval; otherwise the
cell says "không đủ dữ liệu".
"""

from __future__ import annotations

from sipas_runtime.i18n import Lang, _
from sipas_scoring.chart import Bar, error_bar_chart
from sipas_scoring.labels import label, text
from sipas_scoring.rendering import Json

TIER_ORDER = ("province", "district", "department", "commune", "unknown")
CHART_WIDTH = 600


def number(text: str | None, lang: Lang) -> str | None:
    """An official figure as written in ``lang``: ``84,45`` in Vietnamese, ``84.45`` in English."""
    if text is None or lang != "vi":
        return text
    return text.replace(".", ",")


def change(value: int | None) -> str:
    """A rank change: ``▲ 2`` (moved up), ``▼ 1``, ``=``, or ``—`` without a previous rank."""
    if value is None:
        return "—"
    return f"▲ {value}" if value > 0 else (f"▼ {-value}" if value < 0 else "=")


def _figure(row: Json, lang: Lang) -> Json:
    sipas = row["sipas"]
    shown = bool(sipas.get("sufficient")) and sipas.get("display") is not None
    previous = row.get("previous") or {}
    return {
        "name": row["name"],
        "rollup": row["rollup"],
        "rank": row.get("rank"),
        "shown": shown,
        "value": number(sipas.get("display"), lang),
        "interval": number(sipas.get("ci_display"), lang),
        "n": sipas.get("n"),
        "responses": row["responses"],
        "previous": (number(previous.get("display"), lang) or "—")
        + ("*" if row["estimated_previous"] else ""),
        "change": change(row.get("rank_change")),
        "direction": "up"
        if (row.get("rank_change") or 0) > 0
        else ("down" if (row.get("rank_change") or 0) < 0 else ""),
    }


def tiers(table: Json, lang: Lang) -> list[Json]:
    """One ranking per tier (ranked units first), each with its error-bar chart."""
    out = []
    for tier in TIER_ORDER:
        rows = [r for r in table["rows"] if r["tier"] == tier]
        if not rows:
            continue
        rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["name"]))
        bars = [
            Bar(r["name"], s["value"], s["ci_low"], s["ci_high"], number(s["display"], lang) or "")
            for r in rows
            if (s := r["sipas"]) and s["sufficient"] and s["ci_low"] is not None
        ]
        name = label(f"tier.{tier}", lang)
        chart_title = text(lang, _("SIPAS and its 95%% interval: %(tier)s"), tier=name)
        out.append(
            {
                "title": name,
                "rows": [_figure(r, lang) for r in rows],
                "chart": error_bar_chart(bars, width=CHART_WIDTH, caption=chart_title),
                "chart_title": chart_title,
                "unranked": len(rows) - len(bars),
            }
        )
    return out


def elements(table: Json, lang: Lang) -> tuple[list[Json], list[Json]]:
    """Columns (aspects with their elements, by name) and one row of values per unit."""
    columns = []
    for aspect in table["structure"]:
        columns += [
            {"id": e["id"], "name": e[lang], "group": "elements"} for e in aspect["elements"]
        ]
        if table["sipas_rule"] == "mean_of_aspects":
            columns.append({"id": aspect["id"], "name": aspect[lang], "group": "aspects"})
    columns.append({"id": "sipas", "name": "SIPAS", "group": "sipas"})
    rows = []
    for row in table["rows"]:
        cells = []
        for col in columns:
            fig = row["sipas"] if col["group"] == "sipas" else row[col["group"]].get(col["id"])
            fig = fig or {}
            cells.append(number(fig.get("display"), lang) if fig.get("sufficient") else None)
        rows.append({"name": row["name"], "rollup": row["rollup"], "cells": cells})
    return columns, rows


def counts(table: Json, funnel: Json | None, lang: Lang = "vi") -> list[Json]:
    """Responses by applicant kind, and invitations, answers and rate from the funnel."""
    by_unit = {r["unit"]: r for r in (funnel or {}).get("rows", [])}
    rows = []
    for row in table["rows"]:
        f = by_unit.get(row["unit"], {})
        rate = (f.get("response_rate") or {}).get("display")
        rows.append(
            {
                "name": row["name"],
                "rollup": row["rollup"],
                "individual": row["responses_by_kind"].get("individual", 0),
                "organisation": row["responses_by_kind"].get("organisation", 0),
                "total": row["responses"],
                "invited": f.get("invited", "—"),
                "responded": f.get("responded", "—"),
                "rate": number(rate, lang) or "—",
            }
        )
    return rows


def summary(table: Json, lang: Lang) -> list[str]:
    """The general result in sentences: responses, the province's SIPAS, best and worst."""
    leaves = [r for r in table["rows"] if not r["rollup"] and r["tier"] != "province"]
    ranked = sorted((r for r in leaves if r["rank"] is not None), key=lambda r: r["rank"])
    total = sum(r["responses"] for r in leaves)
    out = [
        text(
            lang,
            _("%(responses)s valid forms were counted from %(units)s units."),
            responses=f"{total:g}",
            units=len(leaves),
        )
    ]
    province = next((r for r in table["rows"] if r["tier"] == "province"), None)
    if province and province["sipas"]["sufficient"]:
        figure = province["sipas"]
        out.append(
            text(
                lang,
                _("The SIPAS of %(name)s is %(value)s%% (95%% interval %(interval)s%%)."),
                name=province["name"],
                value=number(figure["display"], lang),
                interval=number(figure["ci_display"], lang),
            )
        )
    out.append(
        text(
            lang,
            _(
                "%(ranked)s of %(units)s units have enough data to be ranked (at least "
                "%(n)s respondents)."
            ),
            ranked=len(ranked),
            units=len(leaves),
            n=table["profile"]["n_min_unit"],
        )
    )
    if len(ranked) > 1:
        best, worst = ranked[0], ranked[-1]
        out.append(
            text(
                lang,
                _("Highest: %(best)s (%(best_value)s%%); lowest: %(worst)s (%(worst_value)s%%)."),
                best=best["name"],
                best_value=number(best["sipas"]["display"], lang),
                worst=worst["name"],
                worst_value=number(worst["sipas"]["display"], lang),
            )
        )
    return out
