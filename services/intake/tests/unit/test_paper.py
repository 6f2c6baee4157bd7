from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipas_contracts.instrument import load_catalogue
from sipas_intake.domain.errors import PaperRowError
from sipas_intake.domain.paper import columns, parse_row

C2640 = load_catalogue("sipas-2640-2017")
ITEMS = C2640.form("tthc_user").items
ON = date(2026, 11, 20)
ROW = {
    "so_phieu": "XH-0001",
    "campaign_id": "ht-2026",
    "unit": "Xã Xuân Hội",
    "applicant_kind": "cá nhân",
    "ND.TRIPS": 1.0,
    "C01": 5,
    "C02": "4",
    "C03": "na",
    "C04": None,
    "comment": " Cán bộ nhiệt tình ",
}


def parse(row, hierarchy):
    return parse_row(row, catalogue=C2640, items=ITEMS, hierarchy=hierarchy, on=ON)


def test_the_template_columns_are_fixed_then_items_then_comment():
    header = columns(ITEMS)

    assert header[:4] == ("so_phieu", "campaign_id", "unit", "applicant_kind")
    assert header[6:8] == ("ND.TRIPS", "ND.ON_TIME")
    assert header[-1] == "comment"


def test_a_coded_row_becomes_a_paper_response(hierarchy):
    form = parse(ROW, hierarchy)

    assert form.key == "ht-2026:ht-nx-xuan-hoi:XH-0001"
    assert form.answers == {"ND.TRIPS": 1, "C01": 5, "C02": 4, "C03": "na"}
    assert form.context.collection_mode == "paper"
    assert form.context.invitation_id is None
    assert form.comment == "Cán bộ nhiệt tình"


def test_enumerators_paper_forms_keep_mode_and_interviewer(hierarchy):
    form = parse({**ROW, "collection_mode": "face_to_face", "interviewer_id": "dtv-3"}, hierarchy)

    assert (form.context.collection_mode, form.context.interviewer_id) == ("face_to_face", "dtv-3")


def test_every_problem_of_a_row_is_named_by_its_column(hierarchy):
    row = {**ROW, "so_phieu": "", "unit": "Xã Ma", "C01": 6, "applicant_kind": "x", "C02": "hai"}

    with pytest.raises(PaperRowError) as info:
        parse(row, hierarchy)

    assert [e["field"] for e in info.value.errors] == [
        "so_phieu",
        "unit",
        "C01",
        "C02",
        "applicant_kind",
    ]


def test_a_row_without_any_answer_is_refused(hierarchy):
    row = {k: v for k, v in ROW.items() if k not in ITEMS}

    with pytest.raises(PaperRowError, match="no question was answered"):
        parse(row, hierarchy)


def test_same_content_gives_the_same_key_and_content(hierarchy):
    first, second = parse(ROW, hierarchy), parse({**ROW, "C02": 4}, hierarchy)

    assert (first.key, first.content()) == (second.key, second.content())
    assert parse({**ROW, "C02": 3}, hierarchy).content() != first.content()


cells = st.one_of(st.none(), st.text(max_size=12), st.integers(-3, 12), st.floats())


@given(changes=st.dictionaries(st.sampled_from(columns(ITEMS)), cells))
def test_any_row_is_imported_or_rejected_with_column_names(
    changes, hierarchy, outcome, well_formed_errors
):
    result = outcome(lambda: parse({**ROW, **changes}, hierarchy))

    assert well_formed_errors(result) or result.key
