from __future__ import annotations

import pytest
import yaml

from sipas_contracts.instrument import (
    CatalogueError,
    available_catalogues,
    load_catalogue,
    load_catalogue_file,
)


def test_both_official_catalogues_ship():
    assert set(available_catalogues()) >= {"sipas-1001-2023", "sipas-2640-2017"}


def test_1001_has_two_satisfaction_aspects_with_39_items():
    catalogue = load_catalogue("sipas-1001-2023")

    assert list(catalogue.aspects) == ["HL.CS", "HL.DV"]
    assert len(catalogue.satisfaction_items()) == 39
    service = [i for i in catalogue.satisfaction_items() if i.startswith("HL.DV")]
    assert len(service) == 16
    assert [len(catalogue.elements[e].items) for e in catalogue.aspects["HL.DV"].elements] == [
        3,
        4,
        3,
        3,
        3,
    ]
    assert catalogue.sipas_rule == "mean_of_aspects"


def test_1001_has_ten_expectations_on_a_four_level_scale():
    catalogue = load_catalogue("sipas-1001-2023")

    expectation = [i for i in catalogue.items.values() if i.section == "expectation"]

    assert len(expectation) == 10
    assert catalogue.scale_of("NC.1").positive == (3, 4)


def test_2640_has_five_elements_and_22_criteria():
    catalogue = load_catalogue("sipas-2640-2017")

    sizes = [len(e.items) for e in catalogue.elements.values()]

    assert sizes == [4, 5, 6, 3, 4]
    assert len(catalogue.satisfaction_items()) == 22
    assert catalogue.sipas_rule == "mean_of_elements"


def test_satisfaction_scale_counts_levels_4_and_5_as_positive():
    catalogue = load_catalogue("sipas-2640-2017")

    scale = catalogue.scale_of("C01")

    assert scale.positive == (4, 5)
    assert scale.label(3) == "Bình thường"
    assert scale.label(3, "en") == "Neutral"


def test_perception_override_makes_no_the_favourable_answer():
    catalogue = load_catalogue("sipas-2640-2017")

    assert catalogue.items["ND.EXTRA_PAY"].positive == (2,)


def test_answer_errors_name_the_item_and_the_reason():
    catalogue = load_catalogue("sipas-1001-2023")

    errors = catalogue.answer_errors({"HL.DV.E1.1": 9, "NOPE": 1, "NC.1": "na", "ND.5": 3})

    assert errors == [
        "answers.HL.DV.E1.1: 9 is not one of 1, 2, 3, 4, 5 or 'na'",
        "answers.NOPE: not an item of sipas-1001-2023",
    ]


def _write(tmp_path, document):
    path = tmp_path / "cat.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    return path


def _minimal():
    return {
        "catalogue": {
            "id": "test",
            "revision": 1,
            "title_vi": "t",
            "title_en": "t",
            "legal_basis": "none",
            "confidence": "test",
            "sipas_rule": "mean_of_elements",
            "scales": {
                "s5": {"values": {1: "a", 2: "b", 3: "c", 4: "d", 5: "e"}, "positive": [4, 5]}
            },
            "satisfaction": {
                "scale": "s5",
                "aspects": [
                    {
                        "id": "A",
                        "vi": "a",
                        "en": "a",
                        "elements": [
                            {
                                "id": "E",
                                "vi": "e",
                                "en": "e",
                                "items": [{"id": "I1", "vi": "i", "en": "i"}],
                            }
                        ],
                    }
                ],
            },
        }
    }


def test_a_custom_catalogue_file_loads(tmp_path):
    catalogue = load_catalogue_file(_write(tmp_path, _minimal()))

    assert catalogue.satisfaction_items() == ("I1",)


def test_unknown_scale_is_reported_with_its_question(tmp_path):
    document = _minimal()
    document["catalogue"]["satisfaction"]["scale"] = "missing"

    with pytest.raises(CatalogueError, match="unknown scale 'missing'"):
        load_catalogue_file(_write(tmp_path, document))


def test_duplicate_item_ids_are_refused(tmp_path):
    document = _minimal()
    element = document["catalogue"]["satisfaction"]["aspects"][0]["elements"][0]
    element["items"].append({"id": "I1", "vi": "x", "en": "x"})

    with pytest.raises(CatalogueError, match="used twice"):
        load_catalogue_file(_write(tmp_path, document))


def test_positive_codes_must_exist_on_the_scale(tmp_path):
    document = _minimal()
    document["catalogue"]["scales"]["s5"]["positive"] = [6]

    with pytest.raises(CatalogueError, match="positive codes"):
        load_catalogue_file(_write(tmp_path, document))


def test_unknown_catalogue_id_lists_the_known_ones():
    with pytest.raises(CatalogueError, match="sipas-1001-2023"):
        load_catalogue("sipas-9999")


def test_1001_tthc_user_form_asks_the_service_part_expectations_and_four_perceptions():
    catalogue = load_catalogue("sipas-1001-2023")

    form = catalogue.form("tthc_user")

    assert form.items[:4] == ("ND.5", "ND.6", "ND.X1", "ND.X2")
    assert [i for i in form.items if i.startswith("HL.DV.")] == [
        i for e in catalogue.aspects["HL.DV"].elements for i in catalogue.elements[e].items
    ]
    assert sum(i.startswith("NC.") for i in form.items) == 10
    assert len(form.items) == 30
    assert form.comment
    assert not any(i.startswith(("HL.CS", "ND.1", "ND.8")) for i in form.items)


def test_2640_tthc_user_form_asks_four_perceptions_and_the_22_criteria():
    catalogue = load_catalogue("sipas-2640-2017")

    form = catalogue.form("tthc_user")

    assert form.items == (
        "ND.TRIPS",
        "ND.ON_TIME",
        "ND.EXTRA_PAY",
        "ND.HARASS",
        *catalogue.satisfaction_items(),
    )


@pytest.mark.parametrize("catalogue_id", ["sipas-1001-2023", "sipas-2640-2017"])
def test_every_shipped_catalogue_has_a_short_kiosk_form(catalogue_id):
    catalogue = load_catalogue(catalogue_id)

    kiosk = catalogue.form("kiosk")

    assert 3 <= len(kiosk.items) <= 8
    assert all(catalogue.items[i].section == "satisfaction" for i in kiosk.items)


def test_an_unknown_form_profile_names_the_known_ones():
    with pytest.raises(KeyError, match="kiosk, tthc_user"):
        load_catalogue("sipas-2640-2017").form("phone")


def test_a_form_may_include_an_aspect_an_element_or_an_item(tmp_path):
    document = _minimal()
    document["catalogue"]["forms"] = {
        "all": {"vi": "a", "en": "a", "include": ["A"]},
        "one": {"vi": "o", "en": "o", "include": ["I1"], "comment": False},
    }

    catalogue = load_catalogue_file(_write(tmp_path, document))

    assert catalogue.form("all").items == ("I1",)
    assert catalogue.form("one").comment is False


@pytest.mark.parametrize(
    ("include", "message"),
    [
        (["NOPE"], "'NOPE' is not an aspect, element, question or item"),
        (["E", "I1"], "item 'I1' is included twice"),
    ],
)
def test_a_form_with_a_bad_reference_is_refused(tmp_path, include, message):
    document = _minimal()
    document["catalogue"]["forms"] = {"bad": {"vi": "b", "en": "b", "include": include}}

    with pytest.raises(CatalogueError, match=message):
        load_catalogue_file(_write(tmp_path, document))
