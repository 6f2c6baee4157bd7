"""The campaign report as an administrative document: HTML, and PDF via WeasyPrint.

Laid out as Nghị định 30/2020/NĐ-CP asks (see :mod:`sipas_scoring.report_heading`):
national title and motto, issuing agency and number, place and date in words, the
campaign's name as the title, the body, recipients and signature, then an annex on the
method. Wide tables go on landscape pages and repeat their header row on every page;
units and elements are named, never coded; every tier's ranking has its 95% intervals
drawn as error bars.

Built from a *snapshot* (``{"table": ..., "funnel": ...}``, the document a publication
freezes), so the report of a publication shows exactly the published figures and its
digest. Anything not published carries its state as a watermark. Every word comes from
the message catalogue (Vietnamese first, English available).
"""

from __future__ import annotations

from typing import Any

from sipas_runtime.i18n import Lang, _
from sipas_runtime.pages import Pages
from sipas_scoring.labels import CATALOGUE, label, period_label, text
from sipas_scoring.rendering import Json
from sipas_scoring.report_heading import clock, day_month_year, heading
from sipas_scoring.report_tables import counts, elements, summary, tiers
from sipas_scoring.store.publications import PublicationRecord

PAGES = Pages("sipas_scoring", CATALOGUE)


def _title(table: Json, lang: Lang) -> str:
    profile = table["profile"]
    name = str(profile.get(f"title_{lang}") or profile.get("title_vi") or table["campaign_id"])
    if lang == "vi" and name[:1].isupper() and name[1:2].islower():  # "Kết quả khảo sát …"
        name = name[0].lower() + name[1:]
    return name


def period_text(table: Json, lang: Lang) -> str:
    """The period in words; a whole campaign says which results it covers (the plan's window)."""
    profile = table["profile"]
    start, end = profile.get("window_start"), profile.get("window_end")
    if table["period"] != "campaign" or not (start and end):
        return period_label(table["period"], table.get("months", []), lang)
    return text(
        lang,
        _("whole campaign: dossiers whose results were delivered from %(start)s to %(end)s"),
        start=day_month_year(start),
        end=day_month_year(end),
    )


def _history(record: PublicationRecord | None, lang: Lang) -> list[Json]:
    return [
        {
            "state": label(f"state.{h.state}", lang),
            "who": h.name or h.actor,
            "title": h.title or "",
            "at": clock(h.at),
            "note": h.note or "",
            "number": h.number or "",
        }
        for h in (record.history if record else [])
    ]


def method_lines(table: Json, lang: Lang) -> list[tuple[str, str]]:
    """How the figures were computed, as (heading, explanation) lines."""
    profile = table["profile"]
    rule = (
        _("mean of the aspects")
        if table["sipas_rule"] == "mean_of_aspects"
        else _("mean of the elements")
    )
    modes = ", ".join(label(f"mode.{m}", lang) for m in table["modes"])
    thresholds = _(
        "items need at least %(items)s valid answers to enter a mean; a unit needs at least "
        "%(units)s respondents to be ranked"
    )
    interval = _(
        "%(level)s%%: Wilson for each item; composite indices take the mean of their "
        "components' bounds (conservative whatever the correlation between items)"
    )
    ranking = _(
        "competition ranking (1, 2, 2, 4) within each tier on unrounded values; units with "
        "insufficient data are not ranked"
    )
    counted = _("every response up to RESPONSES #%(seq)s, computed %(at)s (Vietnam time)")
    level = f"{profile['confidence'] * 100:g}"
    return [
        (text(lang, _("Instrument")), table["instrument_title"]),
        (text(lang, _("Item index")), table["method_label"][lang]),
        (text(lang, _("SIPAS")), text(lang, rule)),
        (text(lang, _("Collection modes counted")), modes),
        (
            text(lang, _("Data thresholds")),
            text(lang, thresholds, items=profile["n_min_item"], units=profile["n_min_unit"]),
        ),
        (text(lang, _("Confidence interval")), text(lang, interval, level=level)),
        (text(lang, _("Ranking")), text(lang, ranking)),
        (text(lang, _("Unit list as of")), day_month_year(table["hierarchy_date"])),
        (
            text(lang, _("Responses counted")),
            text(lang, counted, seq=table["through_seq"], at=clock(table["generated_at"])),
        ),
    ]


def context(
    snapshot: Json, *, state: str, record: PublicationRecord | None = None, lang: Lang = "vi"
) -> dict[str, Any]:
    """Everything the template shows."""
    table = snapshot["table"]
    province = next((r for r in table["rows"] if r["tier"] == "province"), None)
    province_name = province["name"] if province else ""
    state_label = label(f"state.{state}", lang)
    history = record.history if record else []
    columns, element_rows = elements(table, lang)
    return {
        "heading": heading(
            table["profile"],
            province_name,
            history,
            lang=lang,
            year=int(table["generated_at"][:4]),
        ),
        "title": _title(table, lang),
        "period_label": period_text(table, lang),
        "state_label": state_label,
        "watermark": None if state == "published" else state_label.split(" — ")[0].upper(),
        "summary": summary(table, lang),
        "tiers": tiers(table, lang),
        "element_columns": columns,
        "element_rows": element_rows,
        "count_rows": counts(table, snapshot.get("funnel"), lang),
        "notes": [n[lang] for n in table.get("notes", [])],
        "method": method_lines(table, lang),
        "digest": record.digest if record else None,
        "history": _history(record, lang),
        "footer": f"SIPAS Live · {table['campaign_id']} · {state_label}",
    }


def render_html(
    snapshot: Json, *, state: str, record: PublicationRecord | None = None, lang: Lang = "vi"
) -> str:
    """The report as a standalone HTML document."""
    return PAGES.render(
        "report/document.html",
        lang=lang,
        **context(snapshot, state=state, record=record, lang=lang),
    )


def render_pdf(html: str) -> bytes:
    """The HTML report printed to PDF (WeasyPrint; fonts embedded)."""
    from weasyprint import HTML  # noqa: PLC0415 - heavy import, only when a PDF is wanted

    pdf: bytes = HTML(string=html).write_pdf()
    return pdf
