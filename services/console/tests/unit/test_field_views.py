"""The enumerator's screens built from the services' answers (pure)."""

from __future__ import annotations

from sipas_console.web.field_views import (
    counts_of,
    interview_body,
    item_ids,
    unit_lists,
    with_choices,
)

ROWS = [
    {
        "unit": "ht-nx-xuan-hoi",
        "unit_name": "Xã Xuân Hội",
        "kind": kind,
        "list": lst,
        "rank": rank,
        "invitation_id": f"0190-{kind[0]}-{lst[0]}-{rank}",
        "dossier_id": f"H42-{kind[0]}{rank}",
        "state": "standby" if lst == "reserve" else "listed",
        "contact": {"name": f"Người {rank}", "address": f"Thôn {rank}", "phone": "0912345678"},
    }
    for kind in ("individual", "organisation")
    for lst, rank in (("official", 1), ("official", 2), ("reserve", 1))
]
FORM = {
    "sections": [
        {
            "id": "perception",
            "title": "Cảm nhận",
            "groups": [
                {
                    "heading": None,
                    "items": [
                        {"id": "ND.5", "text": "…", "options": [{"code": "1", "label": "Không có"}]}
                    ],
                }
            ],
        },
        {
            "id": "satisfaction",
            "title": "Hài lòng",
            "groups": [{"heading": "E1", "items": [{"id": "HL.DV.E1.1", "options": []}]}],
        },
    ]
}


def test_rows_are_grouped_by_unit_then_kind_keeping_sampling_order_with_the_units_counts():
    fieldwork = {
        "units": [
            {
                "unit": "ht-nx-xuan-hoi",
                "invited": {"face_to_face": 3, "phone": 1, "online": 2},
                "paper": {"paper": 5, "face_to_face": 1},
            }
        ]
    }

    [unit] = unit_lists(ROWS, fieldwork)

    assert unit.name == "Xã Xuân Hội"
    assert list(unit.people) == ["individual", "organisation"]
    people = unit.people["individual"]
    assert [(p.list, p.rank) for p in people] == [("official", 1), ("official", 2), ("reserve", 1)]
    assert [p.open for p in people] == [True, True, False]
    assert people[2].standby
    assert (people[0].name, people[0].address) == ("Người 1", "Thôn 1")
    assert unit.counts == {"face_to_face": 3, "phone": 1, "online": 2, "paper": 6}


def test_a_unit_without_answers_counts_zero_and_hidden_contacts_are_blank():
    rows = [{**ROWS[0], "contact": {}}]

    [unit] = unit_lists(rows, {"units": []})

    assert unit.counts == {"face_to_face": 0, "phone": 0, "online": 0, "paper": 0}
    assert unit.name == "Xã Xuân Hội"
    assert unit.people["individual"][0].phone == ""


def test_an_interview_form_becomes_intakes_body_with_codes_as_numbers_and_blanks_left_out():
    fields = {
        "mode": "phone",
        "a.ND.5": "1",
        "a.HL.DV.E1.1": "na",
        "a.HL.DV.E1.2": "",
        "comment": "  Tốt  ",
        "submission_id": "0190a0b0-0000-7000-8000-000000000001",
    }

    body = interview_body(fields, "inv-1", ["ND.5", "HL.DV.E1.1", "HL.DV.E1.2"])

    assert body == {
        "invitation_id": "inv-1",
        "mode": "phone",
        "answers": {"ND.5": 1, "HL.DV.E1.1": "na"},
        "comment": "Tốt",
        "submission_id": "0190a0b0-0000-7000-8000-000000000001",
    }
    assert interview_body({"mode": "by bike"}, "i", [])["mode"] == "face_to_face"


def test_the_questionnaire_gives_its_items_in_order_and_options_as_pairs():
    assert item_ids(FORM) == ["ND.5", "HL.DV.E1.1"]
    assert with_choices(FORM)["sections"][0]["groups"][0]["items"][0]["choices"] == [
        ("1", "Không có")
    ]
    assert counts_of(None) == {"face_to_face": 0, "phone": 0, "online": 0, "paper": 0}
