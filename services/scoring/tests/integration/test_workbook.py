"""The official workbook comes from a published snapshot only: one sheet per tier with n and
95% intervals for SIPAS, every aspect and element, and a method sheet."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from sipas_scoring.testing import synthetic_responses

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
UNITS = ["ht-nx-co-dam", "ht-nx-xuan-an", "ht-nx-xuan-hoi"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def drafted(harness, wait) -> str:
    # 38: the last one is not a kiosk answer (kept apart), so the index reaches its sequence
    seqs = await harness.publish(*synthetic_responses(38, units=UNITS, campaign_id="wb2026"))
    await wait(lambda: (harness.latest("wb2026", "ht") or {}).get("version") == seqs[-1], 60)
    await harness.http.put("/v1/campaigns/wb2026/profile", json={"title_vi": "Khảo sát thử"})
    answer = await harness.http.post("/v1/publications", json={"campaign_id": "wb2026"})
    return str(answer.json()["id"])


async def published(harness, pid: str) -> None:
    approved = await harness.http.post(
        f"/v1/publications/{pid}/approve",
        json={"name": "Nguyễn Thị Hoa", "title": "Phó Giám đốc"},
        headers=harness.ids.headers("supervisor", subject="approver"),
    )
    assert approved.status_code == 200, approved.text
    done = await harness.http.post(f"/v1/publications/{pid}/publish", json={"number": "7"})
    assert done.status_code == 200, done.text


def cells(content: bytes) -> dict[str, list[tuple]]:
    book = load_workbook(io.BytesIO(content))
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


async def test_only_a_published_snapshot_makes_the_official_workbook(harness, wait):
    pid = await drafted(harness, wait)

    draft = await harness.http.get(f"/v1/publications/{pid}/workbook.xlsx")
    public_before = await harness.http.get("/v1/public/workbooks/wb2026.xlsx")
    await published(harness, pid)
    official = await harness.http.get(f"/v1/publications/{pid}/workbook.xlsx")
    public = await harness.http.get("/v1/public/workbooks/wb2026.xlsx")

    assert draft.status_code == 409
    assert "published" in draft.json()["detail"]
    assert public_before.status_code == 404
    assert official.status_code == 200
    assert official.headers["content-type"] == XLSX
    assert cells(public.content) == cells(official.content)  # the files differ in their dates
    assert public.headers["x-sipas-digest"] == official.headers["x-sipas-digest"]


async def test_each_tier_has_its_sheet_with_n_and_intervals_and_the_method_sheet(harness, wait):
    pid = await drafted(harness, wait)
    await published(harness, pid)
    table = (await harness.http.get("/v1/public/indices", params={"campaign": "wb2026"})).json()
    book = load_workbook(
        io.BytesIO((await harness.http.get(f"/v1/publications/{pid}/workbook.xlsx")).content)
    )

    assert book.sheetnames == [
        "Thông tin", "Tỉnh", "Cấp xã (xã, phường, thị trấn)", "Phương pháp"
    ]  # fmt: skip
    communes = book["Cấp xã (xã, phường, thị trấn)"]
    header = [c.value for c in communes[1]]
    sub = [c.value for c in communes[2]]
    assert header[:5] == ["Hạng", "Mã đơn vị", "Đơn vị", "Số phiếu", "SIPAS"]
    assert "Tiếp cận dịch vụ hành chính công của cơ quan hành chính nhà nước" in header
    assert sub[4:8] == ["Chỉ số (%)", "n", "Cận dưới KTC 95%", "Cận trên KTC 95%"]
    rows = {r[1]: r for r in communes.iter_rows(min_row=3, values_only=True)}
    assert set(rows) == set(UNITS)
    for row in table["rows"]:
        if row["tier"] != "commune":
            continue
        line, sipas = rows[row["unit"]], row["sipas"]
        assert line[2] == row["name"]
        assert line[5] == sipas["n"]
        if sipas["sufficient"]:
            assert f"{line[4]:.2f}" == sipas["display"]
            assert f"{line[6]:.2f}–{line[7]:.2f}" == sipas["ci_display"]
        else:
            assert line[4] == "không đủ dữ liệu"
    cover = dict(book["Thông tin"].iter_rows(values_only=True))
    assert cover["Văn bản"].startswith("Số: 7/BC-SNV")
    assert cover["Mã kiểm tra số liệu công bố (SHA-256)"] == table["publication"]["digest"]
    assert "Nguyễn Thị Hoa, Phó Giám đốc" in cover["Đã phê duyệt"]
    method = [r[0] for r in book["Phương pháp"].iter_rows(values_only=True)]
    assert "Ngưỡng dữ liệu" in method
    assert "E1" in method  # the instrument's elements with their items
