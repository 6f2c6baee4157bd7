from __future__ import annotations

import io

from openpyxl import load_workbook

from sipas_sampling.exports import lists_workbook


def row(**fields):
    return {
        "unit_name": "Xã Cổ Đạm",
        "unit": "ht-nx-co-dam",
        "kind": "individual",
        "list": "official",
        "dossier_id": "H42-0001",
        "invitation_id": "0194f3a2-0000-7000-8000-000000000001",
        "contact": {"name": "Nguyễn Văn An", "phone": "0912345678"},
        "link": "https://ks.example/s/abc",
        "channel": "enumerator",
        "state": "listed",
        **fields,
    }


def cells(content: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(content)).active.iter_rows(min_row=4, values_only=True))


def test_a_control_character_in_stored_data_is_shown_not_fatal_to_the_whole_list():
    content = lists_workbook(
        [row(dossier_id="H42-\x00-1", contact={"name": "An\x1b"}), row()],
        title="Danh sách",
        with_contacts=True,
    )

    first, second = cells(content)
    assert first[7] == "H42-\ufffd-1"
    assert first[8] == "An\ufffd"
    assert second[7] == "H42-0001"


def test_a_cell_that_starts_like_a_formula_is_neutralised():
    [only] = cells(
        lists_workbook([row(dossier_id="=HYPERLINK(1)")], title="t", with_contacts=False)
    )

    assert only[7] == "'=HYPERLINK(1)"
    assert only[10] == "—"
