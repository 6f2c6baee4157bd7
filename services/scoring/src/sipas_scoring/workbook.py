"""The official workbook (XLSX) of a published snapshot: what a Sở Nội vụ sends upward.

- *Thông tin*: the document it belongs to (agency, number, date, campaign, period, the
  snapshot's SHA-256, the responses counted, who approved it and when, in Vietnam time);
- one sheet per tier (province, districts, departments, communes): rank, unit code and
  full name, forms, SIPAS with n and its 95% interval, the previous period and the rank
  change, then every aspect and element with its index, n and interval — figures are the
  official 2-decimal values (half-up); an insufficient figure says so instead of a number;
- *Phương pháp*: how the figures were computed and the instrument's aspects, elements and
  items.

Only a published snapshot makes an official workbook (the routes refuse anything else).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from sipas_contracts.instrument import load_catalogue
from sipas_runtime.i18n import Lang, _
from sipas_scoring.domain.stats import round_half_up
from sipas_scoring.labels import label, text
from sipas_scoring.rendering import Json
from sipas_scoring.report import method_lines, period_text
from sipas_scoring.report_heading import clock, heading
from sipas_scoring.report_tables import TIER_ORDER, change
from sipas_scoring.store.publications import PublicationRecord

BOLD = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")
FIGURE_COLUMNS = 4  # index, n, interval low, interval high


def _number(value: float | None) -> float | None:
    return None if value is None else float(round_half_up(value))


def figure_cells(figure: Json | None, lang: Lang) -> list[Any]:
    """Index, n, lower and upper bound; an insufficient index is said in words."""
    if not figure:
        return [None] * FIGURE_COLUMNS
    if not figure.get("sufficient") or figure.get("display") is None:
        return [text(lang, _("insufficient data")), figure.get("n"), None, None]
    return [
        float(figure["display"]),
        figure.get("n"),
        _number(figure.get("ci_low")),
        _number(figure.get("ci_high")),
    ]


def _parts(table: Json, lang: Lang) -> list[tuple[str, str, str]]:
    """(group, id, name) of every aspect and element, in the instrument's order."""
    out = []
    for aspect in table["structure"]:
        out.append(("aspects", aspect["id"], aspect[lang]))
        out += [("elements", e["id"], e[lang]) for e in aspect["elements"]]
    return out


def _header(sheet: Worksheet, table: Json, lang: Lang) -> None:
    fixed = [_("Rank"), _("Unit code"), _("Unit"), _("Forms")]
    groups = ["SIPAS", *(name for _group, _id, name in _parts(table, lang))]
    top: list[str | None] = [text(lang, m) for m in fixed]
    below: list[str | None] = [None] * len(fixed)
    for name in groups:
        top += [name, None, None, None]
        below += [
            text(lang, _("Index (%)")),
            "n",
            text(lang, _("95% low")),
            text(lang, _("95% high")),
        ]
    top += [text(lang, _("Previous period")), text(lang, _("Rank change"))]
    below += [None, None]
    sheet.append(top)
    sheet.append(below)
    first = len(fixed) + 1
    for start in range(first, first + FIGURE_COLUMNS * len(groups), FIGURE_COLUMNS):
        sheet.merge_cells(start_row=1, end_row=1, start_column=start, end_column=start + 3)
    for cell in (*sheet[1], *sheet[2]):
        cell.font, cell.alignment = BOLD, WRAP


def tier_sheet(book: Workbook, table: Json, tier: str, lang: Lang) -> None:
    """The rows of one tier, ranked units first."""
    rows = [r for r in table["rows"] if r["tier"] == tier]
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["name"]))
    sheet = book.create_sheet(label(f"tier.{tier}", lang)[:31])
    _header(sheet, table, lang)
    for row in rows:
        values: list[Any] = [row["rank"], row["unit"], row["name"], row["responses"]]
        values += figure_cells(row["sipas"], lang)
        for group, part, _name in _parts(table, lang):
            values += figure_cells(row[group].get(part), lang)
        previous = (row.get("previous") or {}).get("display")
        values += [float(previous) if previous else None, change(row.get("rank_change"))]
        sheet.append(values)
    _layout(sheet, rows_from=3)


def _layout(sheet: Worksheet, *, rows_from: int) -> None:
    sheet.freeze_panes = f"D{rows_from}"
    widths = {1: 7, 2: 20, 3: 30}
    for column in range(1, sheet.max_column + 1):
        sheet.column_dimensions[get_column_letter(column)].width = widths.get(column, 11)
    for cells in sheet.iter_rows(min_row=rows_from):
        for cell in cells:
            if isinstance(cell.value, float):
                cell.number_format = "0.00"


def _pairs(sheet: Worksheet, pairs: Iterable[tuple[str, Any]]) -> None:
    for name, value in pairs:
        sheet.append([name, value])
        sheet.cell(row=sheet.max_row, column=1).font = BOLD
        sheet.cell(row=sheet.max_row, column=2).alignment = WRAP


def cover_sheet(book: Workbook, table: Json, record: PublicationRecord, lang: Lang) -> None:
    """The document the figures belong to and its approval."""
    sheet = book.active or book.create_sheet()
    sheet.title = text(lang, _("Information"))[:31]
    province = next((r["name"] for r in table["rows"] if r["tier"] == "province"), "")
    head = heading(table["profile"], province, record.history, lang=lang, year=int(
        table["generated_at"][:4]))  # fmt: skip
    profile = table["profile"]
    _pairs(sheet, [
        (text(lang, _("Issuing agency")), f"{head.parent} — {head.issuer}"),
        (text(lang, _("Document")), f"{head.number} · {head.place_date}"),
        (text(lang, _("Campaign")), profile.get("title_vi") or table["campaign_id"]),
        (text(lang, _("Campaign code")), table["campaign_id"]),
        (text(lang, _("Period")), period_text(table, lang)),
        (text(lang, _("Fingerprint of the published figures (SHA-256)")), record.digest),
    ])  # fmt: skip
    for step in record.history:
        who = ", ".join(v for v in (step.name or step.actor, step.title) if v)
        _pairs(sheet, [(label(f"state.{step.state}", lang), f"{who} — {clock(step.at)}")])
    sheet.column_dimensions["A"].width, sheet.column_dimensions["B"].width = 34, 90


def method_sheet(book: Workbook, table: Json, lang: Lang) -> None:
    """How the figures were computed, and the instrument's structure."""
    sheet = book.create_sheet(text(lang, _("Method"))[:31])
    _pairs(sheet, method_lines(table, lang))
    sheet.append([])
    sheet.append(
        [text(lang, _("Aspect or element")), text(lang, _("Name")), text(lang, _("Items"))]
    )
    for cell in sheet[sheet.max_row]:
        cell.font = BOLD
    catalogue = load_catalogue(table["instrument_id"])
    for aspect in catalogue.aspects.values():
        sheet.append([aspect.id, getattr(aspect, lang), ""])
        for element_id in aspect.elements:
            element = catalogue.elements[element_id]
            items = "; ".join(f"{i} {getattr(catalogue.items[i], lang)}" for i in element.items)
            sheet.append([element.id, getattr(element, lang), items])
            sheet.cell(row=sheet.max_row, column=3).alignment = WRAP
    for column, width in (("A", 34), ("B", 60), ("C", 90)):
        sheet.column_dimensions[column].width = width


def official_workbook(snapshot: Json, record: PublicationRecord, lang: Lang = "vi") -> bytes:
    """The workbook of a published snapshot."""
    table = snapshot["table"]
    book = Workbook()
    cover_sheet(book, table, record, lang)
    for tier in TIER_ORDER:
        if any(r["tier"] == tier for r in table["rows"]):
            tier_sheet(book, table, tier, lang)
    method_sheet(book, table, lang)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
