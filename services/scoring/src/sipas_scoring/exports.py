"""CSV, XLSX and JSON exports of a table (live for operators, published for open data).

One line per unit. Values are full precision (``sipas``) with the official display next
to them (``sipas_display``, half-up to 2 decimals); insufficient figures keep their value
but say so (``sufficient`` false, ``label`` "không đủ dữ liệu"). CSV is UTF-8 with a BOM
so spreadsheet programs show Vietnamese correctly; JSON is the table document itself.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.styles import Font

from sipas_scoring.labels import label
from sipas_scoring.rendering import Json

Format = Literal["csv", "xlsx", "json"]
MEDIA_TYPES: dict[Format, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
Getter = Callable[[Json], Any]


def _fig(name: str, field: str) -> Getter:
    return lambda row: (row.get(name) or {}).get(field)


def _segment(kind: str) -> Getter:
    return lambda row: (row["segments"].get(kind) or {}).get("value")


BASE_COLUMNS: list[tuple[str, str, str, Getter]] = [
    ("unit", "Mã đơn vị", "Unit code", lambda r: r["unit"]),
    ("name", "Đơn vị", "Unit", lambda r: r["name"]),
    ("tier", "Cấp", "Tier", lambda r: label(f"tier.{r['tier']}")),
    ("rollup", "Tổng hợp từ đơn vị trực thuộc", "Roll-up", lambda r: r["rollup"]),
    ("rank", "Xếp hạng", "Rank", lambda r: r["rank"]),
    ("sipas", "SIPAS (%)", "SIPAS (%)", _fig("sipas", "value")),
    ("sipas_display", "SIPAS làm tròn", "SIPAS rounded", _fig("sipas", "display")),
    ("ci_low", "Cận dưới KTC 95%", "95% CI low", _fig("sipas", "ci_low")),
    ("ci_high", "Cận trên KTC 95%", "95% CI high", _fig("sipas", "ci_high")),
    ("n", "Số người trả lời hợp lệ", "Valid respondents", _fig("sipas", "n")),
    ("sufficient", "Đủ dữ liệu", "Sufficient", _fig("sipas", "sufficient")),
    ("label", "Ghi chú số liệu", "Figure note", _fig("sipas", "label")),
    ("responses", "Số phiếu", "Responses", lambda r: r["responses"]),
    ("responses_individual", "Phiếu cá nhân", "Individual responses",
     lambda r: r["responses_by_kind"].get("individual", 0)),
    ("responses_organisation", "Phiếu tổ chức", "Organisation responses",
     lambda r: r["responses_by_kind"].get("organisation", 0)),
    ("sipas_individual", "SIPAS cá nhân", "SIPAS individuals", _segment("individual")),
    ("sipas_organisation", "SIPAS tổ chức", "SIPAS organisations", _segment("organisation")),
    ("previous_sipas", "SIPAS kỳ trước", "Previous SIPAS", _fig("previous", "value")),
    ("previous_rank", "Xếp hạng kỳ trước", "Previous rank", lambda r: r["previous_rank"]),
    ("rank_change", "Thay đổi thứ hạng", "Rank change", lambda r: r["rank_change"]),
    ("basis", "Thành phần tính SIPAS", "SIPAS components",
     lambda r: " ".join((r.get("sipas") or {}).get("basis", []))),
]  # fmt: skip


def columns(table: Json) -> list[tuple[str, str, str, Getter]]:
    """Base columns plus one per aspect and element of the instrument."""
    out = list(BASE_COLUMNS)
    for aspect in table["structure"]:
        aid = aspect["id"]
        out.append((f"aspect_{aid}", aspect["vi"], aspect["en"], _part("aspects", aid)))
        for element in aspect["elements"]:
            eid = element["id"]
            out.append((f"element_{eid}", element["vi"], element["en"], _part("elements", eid)))
    return out


def _part(group: str, key: str) -> Getter:
    return lambda row: (row[group].get(key) or {}).get("value")


def flat_rows(table: Json) -> tuple[list[tuple[str, str, str, Getter]], list[list[Any]]]:
    """The columns and one list of values per unit."""
    cols = columns(table)
    return cols, [[getter(row) for *_, getter in cols] for row in table["rows"]]


def to_csv(table: Json) -> bytes:
    """UTF-8 (with BOM) CSV with machine-friendly column names."""
    cols, rows = flat_rows(table)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["campaign_id", "period", *(key for key, *_ in cols)])
    for values in rows:
        writer.writerow(
            [table["campaign_id"], table["period"], *("" if v is None else v for v in values)]
        )
    return buffer.getvalue().encode("utf-8-sig")


def to_json(table: Json) -> bytes:
    """The table document as UTF-8 JSON."""
    return json.dumps(table, ensure_ascii=False, indent=2).encode()


def to_xlsx(table: Json, *, digest: str | None = None) -> bytes:
    """A workbook: the indices sheet (Vietnamese headers) and an explanation sheet."""
    book = Workbook()
    sheet = book.active
    if sheet is None:  # pragma: no cover - a new workbook always has a sheet
        sheet = book.create_sheet()
    sheet.title = "Chỉ số"
    cols, rows = flat_rows(table)
    sheet.append([vi for _, vi, _, _ in cols])
    sheet.append([en for _, _, en, _ in cols])
    for cell in (*sheet[1], *sheet[2]):
        cell.font = Font(bold=True)
    for values in rows:
        sheet.append(values)
    for column in sheet.iter_cols(min_row=3):
        for cell in column:
            if isinstance(cell.value, float):
                cell.number_format = "0.00"
    about = book.create_sheet("Thông tin")
    for key in (
        "campaign_id",
        "period",
        "instrument_id",
        "method",
        "kind",
        "hierarchy_date",
        "through_seq",
        "generated_at",
    ):
        about.append([key, str(table.get(key))])
    about.append(["modes", ", ".join(table.get("modes", []))])
    if digest:
        about.append(["sha256", digest])
    for item in table.get("notes", []):
        about.append(["ghi chú / note", item["vi"], item["en"]])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def render(table: Json, fmt: Format, *, digest: str | None = None) -> bytes:
    """The table in ``fmt``."""
    if fmt == "csv":
        return to_csv(table)
    if fmt == "xlsx":
        return to_xlsx(table, digest=digest)
    return to_json(table)
