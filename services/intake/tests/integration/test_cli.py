"""``sipas import ...`` and ``sipas intake ...`` against intake served over real HTTP."""

from __future__ import annotations

import asyncio
import csv
import io
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

from sipas_intake.cli import app, import_app
from sipas_runtime.testing import bearer

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
OPERATOR_KEY = bearer("operator")["Authorization"].removeprefix("Bearer ")
runner = CliRunner()
HEADERS = [
    "Mã hồ sơ", "Đơn vị xử lý", "Mã thủ tục", "Loại đối tượng", "Hình thức nộp",
    "Ngày tiếp nhận", "Ngày trả kết quả", "Trạng thái", "Số điện thoại",
]  # fmt: skip


def rows(count: int) -> list[list[Any]]:
    received = (datetime.now(UTC) - timedelta(days=3)).strftime("%d/%m/%Y %H:%M")
    delivered = (datetime.now(UTC) - timedelta(days=1)).strftime("%d/%m/%Y")
    out: list[list[Any]] = [
        [f"XH-{i:05d}", "Xã Xuân Hội", "1.001193", "Công dân", "Trực tiếp", received, delivered,
         "Đã trả kết quả", 912000000 + i]
        for i in range(count)
    ]  # fmt: skip
    out[3][1] = "Xã Không Có"
    out[5][7] = "Đang xử lý"
    out[7][5] = "31/02/2026"
    return out


def cp1258(text: str) -> bytes:
    """Windows-1258 the way Vietnamese Windows writes it: tone marks as combining characters."""
    out = b""
    for char in unicodedata.normalize("NFC", text):
        try:
            out += char.encode("cp1258")
            continue
        except UnicodeEncodeError:
            base, *marks = unicodedata.normalize("NFD", char)
        shape = [m for m in marks if m in "\u0302\u0306\u031b"]  # circumflex, breve, horn
        if shape:  # the letter keeps its shape precomposed; only the tone mark is combining
            base = unicodedata.normalize("NFC", base + shape[0])
        out += (base + "".join(m for m in marks if m not in shape)).encode("cp1258")
    return out


def xlsx(path: Path, data: list[list[Any]]) -> Path:
    book = Workbook()
    sheet = book.worksheets[0]
    sheet.append(HEADERS)
    for row in data:
        sheet.append(row)
    book.save(path)
    return path


def said(result: Any) -> str:
    """What a command printed, with Rich's line wrapping undone."""
    return " ".join(result.output.split())


def cli(application: Any, *args: str, url: str) -> Any:
    return runner.invoke(application, [*args, "--url", url, "--api-key", OPERATOR_KEY])


def completed(nats_url: str) -> int:
    async def count() -> int:
        nc = await nats.connect(nats_url)
        try:
            return (await nc.jetstream().stream_info("SIPAS_RAW_DOSSIERS")).state.messages
        finally:
            await nc.close()

    return asyncio.run(count())


def test_an_excel_export_is_imported_with_a_progress_bar_and_row_errors(
    served_intake, nats_url, tmp_path
):
    path = xlsx(tmp_path / "danh-sach.xlsx", rows(1200))
    errors = tmp_path / "loi.csv"

    result = cli(
        import_app, "dossiers", str(path), "--format", "motcua-excel", "--errors", str(errors),
        url=served_intake.url,
    )  # fmt: skip

    assert result.exit_code == 1, result.output
    assert "1200 rows: 1197 accepted (queued), 1 ignored (not completed), 2 rejected" in said(
        result
    )
    assert "Nhập / importing danh-sach.xlsx" in said(result)
    with errors.open(encoding="utf-8-sig") as handle:
        problems = list(csv.DictReader(handle))
    assert [(p["row"], p["field"]) for p in problems] == [
        ("5", "Đơn vị xử lý (unit)"),
        ("9", "Ngày tiếp nhận (received_at)"),
    ]
    assert completed(nats_url) == 1197


def test_a_csv_export_in_windows_encoding_with_semicolons_is_read(served_intake, tmp_path):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(HEADERS)
    writer.writerows([r for i, r in enumerate(rows(10)) if i not in {3, 5, 7}])
    path = tmp_path / "export.csv"
    path.write_bytes(cp1258(buffer.getvalue()))

    result = cli(import_app, "dossiers", str(path), "--dry-run", url=served_intake.url)

    assert result.exit_code == 0, result.output
    assert "7 rows: 7 accepted (would be queued)" in said(result)


def test_unusable_files_and_keys_exit_with_2_and_a_reason(served_intake, tmp_path):
    garbage = tmp_path / "x.xlsx"
    garbage.write_bytes(b"PK\x03\x04garbage")
    path = xlsx(tmp_path / "ok.xlsx", rows(10))

    unreadable = cli(import_app, "dossiers", str(garbage), url=served_intake.url)
    missing = cli(import_app, "dossiers", str(tmp_path / "none.csv"), url=served_intake.url)
    refused = runner.invoke(
        import_app, ["dossiers", str(path), "--url", served_intake.url, "--api-key", "wrong"]
    )

    assert unreadable.exit_code == 2
    assert "not a readable XLSX workbook" in said(unreadable)
    assert missing.exit_code == 2
    assert refused.exit_code == 2
    assert "HTTP 401" in said(refused)


def test_paper_forms_round_trip_through_the_template(served_intake, tmp_path):
    template = tmp_path / "mau.xlsx"
    made = cli(
        app, "paper-template", str(template), "--campaign-id", "ht-2026", "--unit", "Xã Cổ Đạm",
        url=served_intake.url,
    )  # fmt: skip
    book = load_workbook(template)
    sheet = book["Phieu"]
    header = [c.value for c in sheet[1]]
    for offset, (number, answer) in enumerate([("P1", 5), ("P2", 8)]):
        sheet.cell(row=3 + offset, column=1, value=number)
        sheet.cell(row=3 + offset, column=header.index("applicant_kind") + 1, value=1)
        sheet.cell(row=3 + offset, column=header.index("HL.DV.E1.1") + 1, value=answer)
    book.save(template)

    imported = cli(import_app, "responses", str(template), url=served_intake.url)

    assert made.exit_code == 0, made.output
    assert imported.exit_code == 1, imported.output
    assert "2 rows: 1 recorded, 0 already imported, 1 rejected" in said(imported)
    assert "HL.DV.E1.1" in said(imported)


def test_a_kiosk_is_registered_listed_and_revoked(served_intake):
    added = cli(app, "kiosk", "add", "cd-quay-1", "--unit", "Xã Cổ Đạm", url=served_intake.url)
    listed = cli(app, "kiosk", "list", url=served_intake.url)
    revoked = cli(app, "kiosk", "revoke", "cd-quay-1", url=served_intake.url)
    again = cli(app, "kiosk", "revoke", "cd-quay-1", url=served_intake.url)

    assert added.exit_code == 0, added.output
    assert f"{served_intake.url}/k/" in added.stdout
    assert '"unit": "ht-nx-co-dam"' in listed.stdout
    assert revoked.exit_code == 0
    assert again.exit_code == 2
