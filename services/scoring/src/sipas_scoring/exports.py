"""CSV, XLSX and JSON exports of a table (live for operators, published for open data).

One line per unit. Values are full precision (``sipas``) with the official display next
to them (``sipas_display``, half-up to 2 decimals); insufficient figures keep their value
but say so (``sufficient`` false, ``label`` "không đủ dữ liệu"). CSV is UTF-8 with a BOM
so spreadsheet programs show Vietnamese correctly; JSON is the table document itself.
openpyxl (with numpy, which it imports) is loaded when a workbook is made, not at start-up:
it is about a second of every scoring start.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from sipas_scoring.labels import label
from sipas_scoring.rendering import Json

if TYPE_CHECKING:
    from openpyxl import Workbook

Format = Literal["csv", "xlsx", "json"]
MEDIA_TYPES: dict[Format, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
TABLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The table in the format of the path",
        "content": {media.split(";")[0]: {} for media in MEDIA_TYPES.values()},
    }
}
"""``responses=`` of a route that answers the table as CSV, XLSX or JSON."""
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


LICENCE: dict[str, str] = {
    "id": "CC-BY-4.0",
    "url": "https://creativecommons.org/licenses/by/4.0/",
    "vi": "Creative Commons Ghi công 4.0 Quốc tế (CC BY 4.0): được tự do sao chép, chia sẻ và "
    "sử dụng lại, kể cả vì mục đích thương mại, với điều kiện ghi rõ nguồn.",
    "en": "Creative Commons Attribution 4.0 International (CC BY 4.0): free to copy, share "
    "and reuse, also commercially, naming the source.",
}
"""The licence of the open data (published figures only)."""


def dictionary(table: Json | None = None) -> list[Json]:
    """What each column of the CSV/XLSX means: key, Vietnamese and English title, type."""
    cols = columns(table) if table is not None else BASE_COLUMNS
    rows = [{"key": key, "vi": vi, "en": en, "type": _kind(key)} for key, vi, en, _ in cols]
    if table is None:
        rows += [
            {"key": "aspect_<id>", "vi": "Chỉ số khía cạnh <id> (%)",
             "en": "Index of aspect <id> (%)", "type": "number"},
            {"key": "element_<id>", "vi": "Chỉ số yếu tố <id> (%)",
             "en": "Index of element <id> (%)", "type": "number"},
        ]  # fmt: skip
    return rows


def _kind(key: str) -> str:
    if key in {"unit", "name", "tier", "label", "basis"}:
        return "text"
    if key in {"rollup", "sufficient"}:
        return "true/false"
    return "number"


def to_json(table: Json, *, digest: str | None = None) -> bytes:
    """The table document as UTF-8 JSON (open data: with its digest and licence)."""
    document = table if digest is None else {
        "snapshot_sha256": digest, "licence": LICENCE, **table
    }  # fmt: skip
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


def _indices_sheet(book: Workbook, table: Json) -> None:
    from openpyxl.styles import Font  # noqa: PLC0415 - loaded on first use

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


ABOUT_KEYS = (
    "campaign_id", "period", "instrument_id", "method", "kind", "hierarchy_date",
    "through_seq", "generated_at",
)  # fmt: skip


def _about_sheet(book: Workbook, table: Json, digest: str | None) -> None:
    about = book.create_sheet("Thông tin")
    for key in ABOUT_KEYS:
        about.append([key, str(table.get(key))])
    about.append(["modes", ", ".join(table.get("modes", []))])
    if digest:
        about.append(["sha256", digest])
        about.append(["giấy phép / licence", LICENCE["vi"], LICENCE["url"]])
    for item in table.get("notes", []):
        about.append(["ghi chú / note", item["vi"], item["en"]])


def to_xlsx(table: Json, *, digest: str | None = None) -> bytes:
    """A workbook: the indices (Vietnamese and English headers), about, data dictionary."""
    from openpyxl import Workbook  # noqa: PLC0415 - loaded on first use

    book = Workbook()
    _indices_sheet(book, table)
    _about_sheet(book, table, digest)
    words = book.create_sheet("Từ điển dữ liệu")
    words.append(["Tên cột / column", "Tiêu đề", "Title", "Kiểu / type"])
    for entry in dictionary(table):
        words.append([entry["key"], entry["vi"], entry["en"], entry["type"]])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def render(table: Json, fmt: Format, *, digest: str | None = None) -> bytes:
    """The table in ``fmt``."""
    if fmt == "csv":
        return to_csv(table)
    if fmt == "xlsx":
        return to_xlsx(table, digest=digest)
    return to_json(table, digest=digest)
