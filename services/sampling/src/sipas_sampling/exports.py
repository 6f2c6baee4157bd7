"""Lists for fieldwork: XLSX for enumerators and printable QR slips for counters.

Contacts, names and survey links appear only for roles allowed to see them (operator,
enumerator); an observer's copy shows the same rows with those cells masked. Cells that
start like a formula are neutralised (CSV/XLSX injection).
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable
from typing import Any

import segno
from openpyxl import Workbook
from openpyxl.styles import Font

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
}
HEADERS = (
    "STT",
    "Đơn vị",
    "Mã đơn vị",
    "Đối tượng",
    "Danh sách",
    "Mã hồ sơ",
    "Người nộp",
    "Điện thoại",
    "E-mail",
    "Liên kết khảo sát",
    "Kênh",
    "Trạng thái",
)
MASK = "—"


def _safe(value: object) -> object:
    if isinstance(value, str) and value[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + value
    return value


def lists_workbook(rows: Iterable[dict[str, Any]], *, title: str, with_contacts: bool) -> bytes:
    """The official/reserve list as an XLSX file (rows: unit, kind, list, dossier, contact...)."""
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
        contact = row.get("contact") or {}
        sheet.append(
            [
                _safe(v)
                for v in (
                    number,
                    row["unit_name"],
                    row["unit"],
                    KIND_VI.get(row["kind"], row["kind"]),
                    LIST_VI.get(row["list"], row["list"]),
                    row["dossier_id"],
                    contact.get("name", "") if with_contacts else MASK,
                    contact.get("phone", "") if with_contacts else MASK,
                    contact.get("email", "") if with_contacts else MASK,
                    row.get("link", "") if with_contacts else MASK,
                    row["channel"],
                    STATE_VI.get(row["state"], row["state"]),
                )
            ]
        )
    for column, width in zip(
        "ABCDEFGHIJKL", (5, 28, 18, 10, 11, 26, 24, 13, 26, 44, 11, 16), strict=True
    ):
        sheet.column_dimensions[column].width = width
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
