"""Paper forms: the exported template, row-level import report, duplicates, conflicts."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from sipas_intake.spreadsheets import XLSX_MEDIA_TYPE
from sipas_runtime.privacy import unseal
from sipas_runtime.testing import bearer

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
OPERATOR = bearer("operator")


async def template(intake, **params: str) -> bytes:
    answer = await intake.http.get("/v1/paper/template", params=params, headers=OPERATOR)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == XLSX_MEDIA_TYPE
    return answer.content


def fill(data: bytes, rows: list[dict[str, object]]) -> bytes:
    book = load_workbook(io.BytesIO(data))
    sheet = book["Phieu"]
    header = [c.value for c in sheet[1]]
    for offset, row in enumerate(rows):
        for key, value in row.items():
            sheet.cell(row=3 + offset, column=header.index(key) + 1, value=value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def upload(intake, data: bytes):
    return await intake.http.post(
        "/v1/paper/import", content=data, headers={**OPERATOR, "content-type": XLSX_MEDIA_TYPE}
    )


ROWS = [
    {"so_phieu": "1", "applicant_kind": 1, "C01": 5, "C10": 4, "ND.TRIPS": 1, "comment": "Tốt"},
    {"so_phieu": "2", "applicant_kind": 2, "C01": 9, "C05": "x"},
    {"so_phieu": "3", "applicant_kind": "tổ chức", "C22": "na", "collection_mode": "face_to_face",
     "interviewer_id": "dtv-3"},
    {"so_phieu": "", "applicant_kind": 1, "C01": 3},
]  # fmt: skip


async def test_the_template_names_columns_codes_and_its_instrument(intake):
    data = await template(intake, instrument="sipas-2640-2017", campaign_id="ht-2026")

    book = load_workbook(io.BytesIO(data))
    header = [c.value for c in book["Phieu"][1]]
    assert header[:6] == [
        "so_phieu", "campaign_id", "unit", "applicant_kind", "collection_mode", "interviewer_id"
    ]  # fmt: skip
    assert header[6:10] == ["ND.TRIPS", "ND.ON_TIME", "ND.EXTRA_PAY", "ND.HARASS"]
    assert header[-1] == "comment"
    assert book["Phieu"]["B3"].value == "ht-2026"
    assert book["_sipas"].sheet_state == "hidden"
    assert "1 = Rất không hài lòng" in book["Huong_dan"]["C6"].value
    assert book["Phieu"].data_validations.dataValidation


async def test_rows_are_recorded_or_reported_with_row_column_and_reason(intake, eventually_fn):
    blank = await template(
        intake, instrument="sipas-2640-2017", campaign_id="ht-2026", unit="Xã Xuân Hội"
    )

    report = await upload(intake, fill(blank, ROWS))

    assert report.status_code == 200
    body = report.json()
    assert (body["rows"], body["recorded"], body["duplicates"], body["rejected"]) == (4, 2, 0, 2)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [
        (4, "C01"),
        (4, "C05"),
        (6, "so_phieu"),
    ]
    await eventually_fn(lambda: len(intake.collected("response.recorded")) == 2)
    events = {e["answers"].get("C01"): e for e in intake.collected("response.recorded")}
    paper = events[5]
    assert (paper["collection_mode"], paper["campaign_id"], paper["unit"]) == (
        "paper", "ht-2026", "ht-nx-xuan-hoi"
    )  # fmt: skip
    assert paper["instrument_id"] == "sipas-2640-2017"
    assert paper["invitation_id"] is None
    assert paper["comment"] is None
    assert unseal(intake.keys.alerts.secret_key, paper["sealed_comment"]) == {"comment": "Tốt"}
    enumerator = events[None]
    assert (enumerator["collection_mode"], enumerator["interviewer_id"]) == (
        "face_to_face",
        "dtv-3",
    )
    assert enumerator["applicant_kind"] == "organisation"


async def test_re_importing_is_safe_and_a_reused_form_number_is_refused(intake, eventually_fn):
    blank = await template(
        intake, instrument="sipas-2640-2017", campaign_id="ht-2026", unit="Xã Xuân Hội"
    )
    first = fill(blank, ROWS[:1])
    await upload(intake, first)

    again = (await upload(intake, first)).json()
    changed = (await upload(intake, fill(blank, [{**ROWS[0], "C01": 1}]))).json()

    assert (again["recorded"], again["duplicates"]) == (0, 1)
    assert changed["recorded"] == 0
    reason = "this form number was already imported with different answers"
    assert changed["errors"] == [{"row": 3, "field": "so_phieu", "reason": reason}]
    await eventually_fn(lambda: len(intake.collected("response.recorded")) == 1)


async def test_a_file_that_is_not_the_template_is_refused_clearly(intake):
    garbage = await upload(intake, b"PK\x03\x04 not really a zip")
    text = await upload(intake, b"so_phieu,unit\n1,x\n")
    anonymous = await intake.http.post("/v1/paper/import", content=b"x")

    assert garbage.status_code == 422
    assert garbage.json()["errors"][0]["field"] == "(file)"
    assert text.status_code == 422
    assert anonymous.status_code == 401
