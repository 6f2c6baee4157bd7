"""Reading CSV/XLSX exports into rows, and writing the paper-form template workbook.

Rows are dicts keyed by the header row's cells. Cells are normalised so adapters see
what the operator saw: Excel dates become ISO text (local time, no offset), whole
numbers lose their ``.0`` (a phone number stored as a number is 912345678, not
912345678.0), a number that overflowed to infinity is its text, empty cells are absent.
CSV files may be UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode text") or
Windows-1258, separated by , ; or tab.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openpyxl import Workbook

XLSX_MAGIC = b"PK\x03\x04"
MAX_COLUMNS = 400
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class SpreadsheetError(ValueError):
    """Raised when a file is not a readable CSV/XLSX table."""


@dataclass(frozen=True, slots=True)
class Row:
    """One data row and its number as the operator sees it (header = row 1)."""

    number: int
    cells: dict[str, Any]


def cell_value(value: object) -> object:
    """A cell as adapters expect it (see module docstring)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # a number too large for JSON: the adapter refuses it as text
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        return text or None
    return value


def _row(header: Sequence[str | None], values: Sequence[object], number: int) -> Row | None:
    cells = {
        name: cleaned
        for name, raw in zip(header, values, strict=False)
        if name and (cleaned := cell_value(raw)) is not None
    }
    return Row(number, cells) if cells else None


def _header(values: Sequence[object]) -> list[str | None]:
    names = [str(v).strip() if v is not None and str(v).strip() else None for v in values]
    if len(names) > MAX_COLUMNS:
        msg = f"the header row has {len(names)} columns; at most {MAX_COLUMNS}"
        raise SpreadsheetError(msg)
    if not any(names):
        msg = "the first row must hold the column names"
        raise SpreadsheetError(msg)
    return names


def open_xlsx(data: bytes) -> Workbook:
    """An openpyxl read-only workbook (raises :class:`SpreadsheetError`)."""
    from openpyxl import load_workbook  # noqa: PLC0415 - openpyxl and numpy: ~1 s of start-up, loaded on first use

    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        msg = f"not a readable XLSX workbook ({type(exc).__name__})"
        raise SpreadsheetError(msg) from exc


def read_xlsx(
    data: bytes, *, sheet: str | None = None, header_row: int = 1, skip: int = 0
) -> Iterator[Row]:
    """Rows of the first (or named) sheet, the header being row ``header_row``.

    ``skip`` rows after the header (e.g. a row of labels) are ignored.
    """
    book = open_xlsx(data)
    if sheet is not None and sheet not in book.sheetnames:
        book.close()
        msg = f"no sheet named {sheet!r}; sheets: {', '.join(book.sheetnames)}"
        raise SpreadsheetError(msg)
    worksheet = book[sheet] if sheet else book.worksheets[0]
    header: list[str | None] = []
    try:
        for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
            if number == header_row:
                header = _header(values)
            elif number > header_row + skip and (row := _row(header, values, number)):
                yield row
    except SpreadsheetError:
        raise
    except Exception as exc:
        # openpyxl parses lazily: a damaged sheet fails while its rows are read.
        msg = f"the workbook cannot be read past this point ({type(exc).__name__})"
        raise SpreadsheetError(msg) from exc
    finally:
        book.close()


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1258", errors="replace")


def read_csv(data: bytes) -> Iterator[Row]:
    """Rows of a CSV/TSV export (header = row 1)."""
    text = _decode(data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], ",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        first = next(reader, None)
        if first is None:
            msg = "the file is empty"
            raise SpreadsheetError(msg)
        header = _header(first)
        for number, values in enumerate(reader, start=2):
            row = _row(header, values, number)
            if row is not None:
                yield row
    except csv.Error as exc:
        msg = f"the CSV file cannot be read past line {reader.line_num}: {exc}"
        raise SpreadsheetError(msg) from exc


def read_table(data: bytes, filename: str = "", *, sheet: str | None = None) -> Iterator[Row]:
    """Rows of an XLSX (by content) or CSV file."""
    if data.startswith(XLSX_MAGIC) or filename.lower().endswith(".xlsx"):
        return read_xlsx(data, sheet=sheet)
    return read_csv(data)


def workbook_bytes(book: Workbook) -> bytes:
    """Serialise a workbook."""
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
