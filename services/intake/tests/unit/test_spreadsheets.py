from __future__ import annotations

import io
import json
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from sipas_intake.spreadsheets import (
    SpreadsheetError,
    cell_value,
    read_csv,
    read_table,
    workbook_bytes,
)


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.worksheets[0].append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_rows_keep_excel_row_numbers_and_normalise_cells():
    data = xlsx(
        [
            ["Mã hồ sơ", "Số điện thoại", "Ngày trả", None],
            ["A-1", 912345678.0, datetime(2026, 11, 20, 8, 30), "ignored: no header"],  # noqa: DTZ001 - Excel has no time zones
            [None, None, None, None],
            ["A-2", "  0987 654 321 ", None, None],
        ]
    )

    rows = list(read_table(data, "list.xlsx"))

    assert [r.number for r in rows] == [2, 4]
    assert rows[0].cells == {
        "Mã hồ sơ": "A-1",
        "Số điện thoại": 912345678,
        "Ngày trả": "2026-11-20T08:30:00",
    }
    assert rows[1].cells == {"Mã hồ sơ": "A-2", "Số điện thoại": "0987 654 321"}


@pytest.mark.parametrize(
    ("data", "delimiter"),
    [
        ("\ufeffMã;Đơn vị\nA-1;Xã Cổ Đạm\n".encode(), ";"),
        ("Mã\tĐơn vị\nA-1\tXã Cổ Đạm\n".encode("utf-16"), "\t"),
        ("Mã,Đơn vị\nA-1,Xã Cổ Đạm\n".encode(), ","),
    ],
)
def test_csv_in_the_encodings_and_separators_excel_writes(data, delimiter):
    [row] = list(read_table(data, "x.csv"))

    assert row.cells == {"Mã": "A-1", "Đơn vị": "Xã Cổ Đạm"}, delimiter


def test_an_empty_or_headerless_file_is_refused_with_a_reason():
    with pytest.raises(SpreadsheetError, match="empty"):
        list(read_csv(b""))
    with pytest.raises(SpreadsheetError, match="column names"):
        list(read_table(xlsx([[None, None], ["a", "b"]]), "x.xlsx"))
    with pytest.raises(SpreadsheetError, match="no sheet named 'Phieu'"):
        list(read_table(xlsx([["a"]]), "x.xlsx", sheet="Phieu"))


def test_cells_read_as_the_operator_sees_them():
    assert cell_value(3.0) == 3
    assert cell_value(3.5) == 3.5
    assert cell_value("  ") is None


def rows_or_reason(call):
    """The rows read, or the reason a SpreadsheetError gave."""
    try:
        return list(call())
    except SpreadsheetError as exc:
        return str(exc)


@given(st.binary(max_size=2000))
def test_any_bytes_are_rows_or_a_spreadsheet_error(data):
    result = rows_or_reason(lambda: read_table(data, "upload"))

    assert result if isinstance(result, str) else all(r.number >= 2 and r.cells for r in result)


@given(st.lists(st.lists(st.text(max_size=8), max_size=6), max_size=8), st.sampled_from(",;\t"))
def test_any_csv_text_is_read_without_crashing(table, delimiter):
    text = "\n".join(delimiter.join(cells) for cells in table)

    result = rows_or_reason(lambda: read_csv(text.encode()))

    assert isinstance(result, list | str)


def test_a_number_that_overflowed_is_read_as_its_text_not_an_unsendable_float():
    book = Workbook()
    book.active.append(["Mã hồ sơ", "Số điện thoại"])
    book.active.append(["X-1", 1.7976931348623157e308])  # stored rounded: it reads back as inf

    [row] = list(read_table(workbook_bytes(book), "a.xlsx"))

    assert row.cells == {"Mã hồ sơ": "X-1", "Số điện thoại": "inf"}
    json.dumps(row.cells, allow_nan=False)
