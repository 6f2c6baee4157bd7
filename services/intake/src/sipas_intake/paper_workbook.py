"""The paper-form template workbook: written by intake, filled by operators, read back.

Sheet ``Phieu``: row 1 the column keys (the importer reads these), row 2 the questions in
Vietnamese (ignored on import), data from row 3; code columns carry drop-down lists.
Sheet ``Huong_dan``: every item with its codes and their meanings. Hidden sheet
``_sipas``: which instrument and profile the template was made for.

openpyxl (with numpy, which it imports) is loaded when a workbook is made, not at start-up:
it is about a second of every intake start.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from sipas_contracts.instrument import Catalogue
from sipas_intake.domain.paper import FIXED_COLUMNS, columns
from sipas_intake.spreadsheets import Row, SpreadsheetError, open_xlsx, read_xlsx, workbook_bytes

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.worksheet.datavalidation import DataValidation
    from openpyxl.worksheet.worksheet import Worksheet

DATA_SHEET = "Phieu"
GUIDE_SHEET = "Huong_dan"
META_SHEET = "_sipas"
FIRST_DATA_ROW = 3
TEMPLATE_ROWS = 500
FIXED_LABELS = {
    "so_phieu": "Số phiếu (ghi trên phiếu giấy)",
    "campaign_id": "Mã đợt khảo sát",
    "unit": "Đơn vị được đánh giá (mã hoặc tên)",
    "applicant_kind": "Đối tượng: 1 = cá nhân, 2 = tổ chức",
    "collection_mode": "Hình thức: paper (mặc định), face_to_face, phone",
    "interviewer_id": "Mã điều tra viên (nếu có)",
}


def template(catalogue: Catalogue, profile: str, *, campaign_id: str = "", unit: str = "") -> bytes:
    """The XLSX template for ``profile`` (campaign and unit pre-filled when given)."""
    from openpyxl import Workbook  # noqa: PLC0415 - loaded on first use
    from openpyxl.styles import Alignment, Font, PatternFill  # noqa: PLC0415 - loaded on first use
    from openpyxl.utils import get_column_letter  # noqa: PLC0415 - loaded on first use

    items = catalogue.form(profile).items
    book = Workbook()
    sheet = book.worksheets[0]
    sheet.title = DATA_SHEET
    header = columns(items)
    labels = [FIXED_LABELS.get(c) or _item_label(catalogue, c) for c in header]
    sheet.append(list(header))
    sheet.append(labels)
    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold
    for cell in sheet[2]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cell.fill = PatternFill("solid", fgColor="EEEEEE")
    sheet.freeze_panes = "B3"
    for index, name in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = 14 if name in items else 22
    _prefill(sheet, header, campaign_id, unit)
    _validations(sheet, catalogue, header, items)
    _guide(book, catalogue, items)
    meta = book.create_sheet(META_SHEET)
    meta.append(["instrument_id", catalogue.id])
    meta.append(["profile", profile])
    meta.sheet_state = "hidden"
    return workbook_bytes(book)


def _item_label(catalogue: Catalogue, column: str) -> str:
    item = catalogue.items.get(column)
    return item.vi if item else "Ý kiến khác (không bắt buộc)"


def _prefill(sheet: Worksheet, header: tuple[str, ...], campaign_id: str, unit: str) -> None:
    for key, value in (("campaign_id", campaign_id), ("unit", unit)):
        if value:
            column = header.index(key) + 1
            for row in range(FIRST_DATA_ROW, FIRST_DATA_ROW + TEMPLATE_ROWS):
                sheet.cell(row=row, column=column, value=value)


def _validations(
    sheet: Worksheet, catalogue: Catalogue, header: tuple[str, ...], items: tuple[str, ...]
) -> None:
    from openpyxl.utils import get_column_letter  # noqa: PLC0415 - loaded on first use
    from openpyxl.worksheet.datavalidation import DataValidation  # noqa: PLC0415 - loaded on first use

    last = FIRST_DATA_ROW + TEMPLATE_ROWS - 1
    by_scale: dict[str, DataValidation] = {}
    for index, name in enumerate(header, start=1):
        if name not in items:
            continue
        scale = catalogue.scale_of(name)
        validation = by_scale.get(scale.id)
        if validation is None:
            codes = ",".join([*(str(c) for c in sorted(scale.values)), "na"])
            validation = DataValidation(type="list", formula1=f'"{codes}"', allow_blank=True)
            validation.error = f"Chỉ nhập một trong: {codes} (hoặc để trống)"
            by_scale[scale.id] = validation
            sheet.add_data_validation(validation)
        column = get_column_letter(index)
        validation.add(f"{column}{FIRST_DATA_ROW}:{column}{last}")
    kinds = DataValidation(type="list", formula1='"1,2"', allow_blank=False)
    sheet.add_data_validation(kinds)
    column = get_column_letter(FIXED_COLUMNS.index("applicant_kind") + 1)
    kinds.add(f"{column}{FIRST_DATA_ROW}:{column}{last}")


def _guide(book: Workbook, catalogue: Catalogue, items: tuple[str, ...]) -> None:
    guide = book.create_sheet(GUIDE_SHEET)
    guide.append(["Cột", "Câu hỏi", "Mã trả lời"])
    for item_id in items:
        scale = catalogue.scale_of(item_id)
        codes = "; ".join(f"{c} = {label}" for c, label in sorted(scale.values.items()))
        guide.append([item_id, catalogue.items[item_id].vi, f"{codes}; na = không áp dụng"])
    guide.append(["comment", "Ý kiến khác", "Văn bản, tối đa 2000 ký tự"])
    guide.column_dimensions["B"].width = 70
    guide.column_dimensions["C"].width = 70


def read_meta(data: bytes) -> dict[str, str]:
    """The instrument and profile a filled template was made for ({} if absent)."""
    book = open_xlsx(data)
    try:
        if META_SHEET not in book.sheetnames:
            return {}
        rows = book[META_SHEET].iter_rows(values_only=True, max_row=10)
        return {str(r[0]): str(r[1]) for r in rows if r and len(r) > 1 and r[0] and r[1]}
    finally:
        book.close()


def read_forms(data: bytes) -> Iterator[Row]:
    """The filled rows of the data sheet (row 2, the labels, is skipped)."""
    try:
        yield from read_xlsx(data, sheet=DATA_SHEET, header_row=1, skip=1)
    except SpreadsheetError as exc:
        if "no sheet named" in str(exc):
            msg = f"this is not a paper-form template: it has no sheet {DATA_SHEET!r}"
            raise SpreadsheetError(msg) from exc
        raise
