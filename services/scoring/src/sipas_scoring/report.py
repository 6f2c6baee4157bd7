"""The campaign report (Vietnamese first, English available): HTML, and PDF via WeasyPrint.

Built from a *snapshot* (``{"table": ..., "funnel": ...}``, the document a publication
freezes), so the report of a publication shows exactly the published figures and its
digest. Anything not published carries its state in the title and as a watermark.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from jinja2 import Environment, select_autoescape

from sipas_scoring.chart import Bar, error_bar_chart
from sipas_scoring.labels import Lang, label, period_label
from sipas_scoring.publication_store import PublicationRecord
from sipas_scoring.rendering import Json

TIER_ORDER = ("province", "district", "department", "commune", "unknown")
STATE_COLOURS = {"published": "#1a7f37", "approved": "#0969da", "draft": "#9a6700"}

TEXT: dict[Lang, dict[str, str]] = {
    "vi": {
        "heading": "Báo cáo Chỉ số hài lòng về sự phục vụ hành chính (SIPAS)",
        "page": "Trang", "period": "Kỳ", "instrument": "Bộ tiêu chí",
        "method_heading": "1. Phương pháp tính", "method": "Chỉ số câu hỏi",
        "sipas_rule": "Chỉ số SIPAS", "modes": "Hình thức thu thập được tính",
        "thresholds": "Ngưỡng dữ liệu", "interval": "Khoảng tin cậy",
        "hierarchy": "Danh mục đơn vị tại ngày", "data": "Dữ liệu",
        "rank": "Hạng", "unit": "Đơn vị", "ci": "KTC 95%", "previous": "Kỳ trước",
        "change": "Thay đổi hạng", "insufficient": "không đủ dữ liệu", "na_short": "—",
        "elements_heading": "Chỉ số thành phần theo đơn vị (%)",
        "counts_heading": "Số phiếu và tỷ lệ phản hồi", "individuals": "Cá nhân",
        "organisations": "Tổ chức", "total": "Tổng", "invited": "Được mời",
        "responded": "Đã trả lời", "rate": "Tỷ lệ (%)", "notes_heading": "Ghi chú",
        "history_heading": "Quá trình phê duyệt", "state": "Trạng thái",
        "actor": "Người thực hiện", "when": "Thời điểm", "note": "Ghi chú",
        "ranked": "Bảng xếp hạng", "mean_aspects": "trung bình cộng các khía cạnh",
        "mean_elements": "trung bình cộng 5 yếu tố",
        "interval_method": "Wilson cho từng câu hỏi; chỉ số tổng hợp lấy trung bình các cận "
        "của thành phần (ước lượng thận trọng, không phụ thuộc tương quan giữa các câu hỏi)",
        "kiosk": "Kiosk (tính riêng)",
        "threshold_text": "câu hỏi cần ≥ {item} câu trả lời hợp lệ; đơn vị cần ≥ {unit} "
        "người trả lời để được xếp hạng",
    },
    "en": {
        "heading": "Satisfaction Index of Public Administrative Services (SIPAS) report",
        "page": "Page", "period": "Period", "instrument": "Instrument",
        "method_heading": "1. Method", "method": "Item index", "sipas_rule": "SIPAS",
        "modes": "Collection modes counted", "thresholds": "Data thresholds",
        "interval": "Confidence interval", "hierarchy": "Unit list as of",
        "data": "Data", "rank": "Rank", "unit": "Unit", "ci": "95% CI",
        "previous": "Previous", "change": "Rank change", "insufficient": "insufficient data",
        "na_short": "—", "elements_heading": "Element indices by unit (%)",
        "counts_heading": "Responses and response rate", "individuals": "Individuals",
        "organisations": "Organisations", "total": "Total", "invited": "Invited",
        "responded": "Responded", "rate": "Rate (%)", "notes_heading": "Notes",
        "history_heading": "Approval history", "state": "State", "actor": "By",
        "when": "When", "note": "Note", "ranked": "League table",
        "mean_aspects": "mean of the aspects", "mean_elements": "mean of the 5 elements",
        "interval_method": "Wilson for each item; composite indices take the mean of their "
        "components' bounds (conservative whatever the correlation between items)",
        "kiosk": "Kiosk (kept apart)",
        "threshold_text": "items need ≥ {item} valid answers; units need ≥ {unit} "
        "respondents to be ranked",
    },
}  # fmt: skip


def _change(value: int | None) -> str:
    if value is None:
        return "—"
    return f"▲ {value}" if value > 0 else (f"▼ {-value}" if value < 0 else "=")


def _tiers(table: Json, lang: Lang) -> list[Json]:
    out = []
    for tier in TIER_ORDER:
        rows = [r for r in table["rows"] if r["tier"] == tier]
        if not rows:
            continue
        rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["name"]))
        bars = [
            Bar(r["name"], s["value"], s["ci_low"], s["ci_high"], s["display"])
            for r in rows
            if (s := r["sipas"]) and s["sufficient"] and s["ci_low"] is not None
        ]
        title = f"{TEXT[lang]['ranked']}: {label(f'tier.{tier}', lang)}"
        out.append({"title": title, "rows": rows, "chart": error_bar_chart(bars, caption=title)})
    return out


def _elements(table: Json, lang: Lang) -> tuple[list[Json], list[Json]]:
    columns = [
        {"id": e["id"], "name": e[lang], "group": "elements"}
        for a in table["structure"]
        for e in a["elements"]
    ]
    if table["sipas_rule"] == "mean_of_aspects":
        columns += [
            {"id": a["id"], "name": a[lang], "group": "aspects"} for a in table["structure"]
        ]
    rows = []
    for row in table["rows"]:
        values = []
        for col in columns:
            fig = row[col["group"]].get(col["id"]) or {}
            values.append(fig.get("display") if fig.get("sufficient") else TEXT[lang]["na_short"])
        rows.append({"name": row["name"], "rollup": row["rollup"], "cells": values})
    return columns, rows


def _counts(table: Json, funnel: Json | None) -> list[Json]:
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
                "rate": rate or "—",
                "kiosk": f.get("responses_by_mode", {}).get("kiosk", 0),
            }
        )
    return rows


def context(
    snapshot: Json,
    *,
    state: str,
    record: PublicationRecord | None = None,
    lang: Lang = "vi",
) -> dict[str, Any]:
    """Everything the template shows."""
    table, t = snapshot["table"], TEXT[lang]
    profile = table["profile"]
    title = profile.get(f"title_{lang}") or f"{t['heading']} — {table['campaign_id']}"
    columns, element_rows = _elements(table, lang)
    state_label = label(f"state.{state}", lang)
    rule = t["mean_aspects"] if table["sipas_rule"] == "mean_of_aspects" else t["mean_elements"]
    return {
        "lang": lang,
        "t": t,
        "title": title,
        "period_label": period_label(table["period"], table.get("months", []), lang),
        "table": table,
        "state_label": state_label,
        "state_colour": STATE_COLOURS.get(state, "#57606a"),
        "watermark": None if state == "published" else state_label.split(" — ")[0].upper(),
        "sipas_rule": rule,
        "modes": ", ".join(label(f"mode.{m}", lang) for m in table["modes"]),
        "thresholds": t["threshold_text"].format(
            item=profile["n_min_item"], unit=profile["n_min_unit"]
        ),
        "interval": f"{profile['confidence'] * 100:g}% — {t['interval_method']}",
        "data_line": f"RESPONSES ≤ #{table['through_seq']} · {table['generated_at'][:19]}",
        "digest": record.digest if record else None,
        "tiers": _tiers(table, lang),
        "element_columns": columns,
        "element_rows": element_rows,
        "count_rows": _counts(table, snapshot.get("funnel")),
        "notes": [n[lang] for n in table.get("notes", [])],
        "history": [
            {
                **h.model_dump(),
                "state": label(f"state.{h.state}", lang),
                "at": h.at.isoformat()[:19],
            }
            for h in (record.history if record else [])
        ],
        "change": _change,
        "footer": f"SIPAS Live · {table['campaign_id']} · {state_label}",
    }


_ENV = Environment(autoescape=select_autoescape(["html", "j2"]), keep_trailing_newline=True)


def render_html(
    snapshot: Json, *, state: str, record: PublicationRecord | None = None, lang: Lang = "vi"
) -> str:
    """The report as a standalone HTML document."""
    template = resources.files("sipas_scoring") / "templates" / "report.html.j2"
    return _ENV.from_string(template.read_text(encoding="utf-8")).render(
        **context(snapshot, state=state, record=record, lang=lang)
    )


def render_pdf(html: str) -> bytes:
    """The HTML report printed to PDF (WeasyPrint; fonts embedded, DejaVu Sans)."""
    from weasyprint import HTML  # noqa: PLC0415 - heavy import, only when a PDF is wanted

    pdf: bytes = HTML(string=html).write_pdf()
    return pdf
