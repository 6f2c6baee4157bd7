"""Lists for fieldwork: XLSX for enumerators and printable QR slips for counters.

The XLSX has one row per person (see :mod:`sipas_sampling.fieldlists`): the official list,
then the reserves in order, each with the invitation id an interview is recorded under
(``POST /v1/interviews`` at intake) and, for roles allowed to see contacts (operator,
enumerator), name, address, phone, e-mail and survey link; an observer's copy shows the
same rows with those cells masked. Cells that start like a formula are neutralised
(CSV/XLSX injection); characters a spreadsheet cannot hold (controls) show as U+FFFD
instead of breaking the whole file. openpyxl (with numpy, which it imports) is loaded when a
list is made, not at start-up: it is about a second of every sampling start.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable
from re import Pattern
from typing import Any

import segno

from sipas_runtime.mongo import Document

KIND_VI = {"individual": "Cá nhân", "organisation": "Tổ chức"}
LIST_VI = {"official": "Chính thức", "reserve": "Dự phòng", "continuous": "Liên tục"}
STATE_VI = {
    "listed": "Chờ khảo sát",
    "queued": "Chờ gửi",
    "sent": "Đã gửi",
    "answered": "Đã trả lời",
    "substituted": "Đã thay thế",
    "lapsed": "Hết hạn",
    "undeliverable": "Không liên lạc được",
    "retry": "Gửi lại",
    "await_report": "Chờ báo cáo",
    "shredded": "Đã hủy liên hệ",
    "closed": "Đã đóng",
    "standby": "Dự phòng, chưa dùng",
}
HEADERS = (
    "STT",
    "Đơn vị",
    "Mã đơn vị",
    "Đối tượng",
    "Danh sách",
    "Thứ tự",
    "Mã lời mời",
    "Mã hồ sơ",
    "Người nộp",
    "Địa chỉ",
    "Điện thoại",
    "E-mail",
    "Liên kết khảo sát",
    "Kênh",
    "Trạng thái",
)
WIDTHS = (5, 24, 16, 10, 11, 7, 38, 26, 22, 32, 13, 24, 44, 11, 18)
MASK = "—"


def _safe(value: object, illegal: Pattern[str]) -> object:
    if not isinstance(value, str):
        return value
    value = illegal.sub("\ufffd", value)
    if value[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + value
    return value


def _cells(number: int, row: dict[str, Any], *, with_contacts: bool) -> list[object]:
    contact = row.get("contact") or {}

    def private(value: object) -> object:
        return value if with_contacts else MASK

    return [
        number,
        row["unit_name"],
        row["unit"],
        KIND_VI.get(row["kind"], row["kind"]),
        LIST_VI.get(row["list"], row["list"]),
        row.get("rank") or "",
        row["invitation_id"],
        row["dossier_id"],
        private(contact.get("name", "")),
        private(contact.get("address", "")),
        private(contact.get("phone", "")),
        private(contact.get("email", "")),
        private(row.get("link", "")),
        row["channel"],
        STATE_VI.get(row["state"], row["state"]),
    ]


def lists_workbook(rows: Iterable[dict[str, Any]], *, title: str, with_contacts: bool) -> bytes:
    """The official/reserve list as an XLSX file (rows: unit, kind, list, dossier, contact...)."""
    from openpyxl import Workbook  # noqa: PLC0415 - loaded on first use
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # noqa: PLC0415 - loaded on first use
    from openpyxl.styles import Font  # noqa: PLC0415 - loaded on first use
    from openpyxl.utils import get_column_letter  # noqa: PLC0415 - loaded on first use

    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has one sheet
    sheet.title = "Danh sach"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([] if with_contacts else ["Bản dành cho giám sát: không có thông tin liên hệ."])
    sheet.append(list(HEADERS))
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for number, row in enumerate(rows, start=1):
        cells = _cells(number, row, with_contacts=with_contacts)
        sheet.append([_safe(v, ILLEGAL_CHARACTERS_RE) for v in cells])
    for index, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A4"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def counter_slips(slips: Iterable[Document], *, campaign_name: str) -> str:
    """A printable A4 page of slips, each with the person's own survey link as a QR code."""
    cards = []
    for slip in slips:
        qr = segno.make(slip["link"], error="m")
        svg = qr.svg_inline(scale=3, dark="#000", light="#fff")
        cards.append(
            f'<div class="slip"><div class="qr">{svg}</div>'
            f"<div><b>{html.escape(slip['unit_name'])}</b>"
            f"<p>Hồ sơ số {html.escape(slip['dossier_id'])}</p>"
            "<p>Mời Ông/Bà quét mã để đánh giá mức độ hài lòng (ẩn danh, khoảng 3 phút).</p>"
            f'<p class="link">{html.escape(slip["link"])}</p></div></div>'
        )
    body = "\n".join(cards) or "<p>Không có phiếu nào chờ in / no slips to print.</p>"
    return (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        f"<title>{html.escape(campaign_name)}</title><style>"
        "body{font-family:sans-serif}"
        ".slip{display:flex;gap:12px;border:1px dashed #555;padding:8px;"
        "margin:6px 0;page-break-inside:avoid}.link{font-size:10px;word-break:break-all}"
        f"</style></head><body><h1>{html.escape(campaign_name)}</h1>{body}</body></html>"
    )
