from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipas_contracts.units import UnitHierarchyError, load_sample_hierarchy, parse_hierarchy

BEFORE_REFORM = date(2020, 6, 1)
AFTER_REFORM = date(2026, 1, 1)


def test_seed_002_has_17_communes_under_nghi_xuan_in_2020():
    hierarchy = load_sample_hierarchy()

    communes = hierarchy.children("ht-nx", BEFORE_REFORM)

    assert len(communes) == 17
    assert hierarchy.leaves("ht", BEFORE_REFORM) == communes
    assert hierarchy.ancestors("ht-nx-co-dam", BEFORE_REFORM) == ["ht-nx", "ht"]


def test_district_level_ends_on_1_july_2025():
    hierarchy = load_sample_hierarchy()

    assert not hierarchy.is_active("ht-nx", AFTER_REFORM)
    assert hierarchy.ancestors("ht-nx-co-dam", AFTER_REFORM) == ["ht"]
    assert len(hierarchy.leaves("ht", AFTER_REFORM)) == 17


def test_units_resolve_from_names_as_source_systems_write_them():
    hierarchy = load_sample_hierarchy()

    assert hierarchy.resolve("UBND xã Xuân Hội", BEFORE_REFORM) == "ht-nx-xuan-hoi"
    assert hierarchy.resolve("  xã   CỔ ĐẠM ", BEFORE_REFORM) == "ht-nx-co-dam"
    assert hierarchy.resolve("ht-nx-cuong-gian", BEFORE_REFORM) == "ht-nx-cuong-gian"


def test_an_unknown_or_closed_unit_does_not_resolve():
    hierarchy = load_sample_hierarchy()

    with pytest.raises(UnitHierarchyError, match="no unit valid on 2026-01-01"):
        hierarchy.resolve("Huyện Nghi Xuân", AFTER_REFORM)


def _province(**extra):
    document = {
        "province": "p",
        "units": [
            {"code": "p", "name_vi": "Tỉnh P", "kind": "province", "valid_from": "2015-01-01"},
            {
                "code": "a",
                "name_vi": "Xã A",
                "kind": "commune",
                "valid_from": "2015-01-01",
                "valid_to": "2025-07-01",
            },
            {
                "code": "b",
                "name_vi": "Xã B",
                "kind": "commune",
                "valid_from": "2015-01-01",
                "valid_to": "2025-07-01",
            },
            {"code": "ab", "name_vi": "Xã AB", "kind": "commune", "valid_from": "2025-07-01"},
            {"code": "c1", "name_vi": "Xã C1", "kind": "commune", "valid_from": "2025-07-01"},
        ],
        "links": [
            {"child": "a", "parent": "p", "valid_from": "2015-01-01", "valid_to": "2025-07-01"},
            {"child": "b", "parent": "p", "valid_from": "2015-01-01", "valid_to": "2025-07-01"},
            {"child": "ab", "parent": "p", "valid_from": "2025-07-01"},
            {"child": "c1", "parent": "p", "valid_from": "2025-07-01"},
        ],
        "successions": [
            {"predecessor": "a", "successor": "ab", "effective": "2025-07-01"},
            {"predecessor": "b", "successor": "ab", "effective": "2025-07-01", "share": 0.6},
            {"predecessor": "b", "successor": "c1", "effective": "2025-07-01", "share": 0.4},
        ],
    }
    document.update(extra)
    return parse_hierarchy(document)


def test_merged_and_split_units_map_to_their_successors():
    hierarchy = _province()

    assert hierarchy.successors("a", AFTER_REFORM) == {"ab": 1.0}
    assert hierarchy.successors("b", AFTER_REFORM) == {"ab": 0.6, "c1": 0.4}
    assert hierarchy.successors("a", BEFORE_REFORM) == {"a": 1.0}


def test_a_unit_cannot_have_two_parents_at_once():
    with pytest.raises(UnitHierarchyError, match="two parents at once"):
        _province(
            links=[
                {"child": "a", "parent": "p", "valid_from": "2015-01-01"},
                {"child": "a", "parent": "b", "valid_from": "2020-01-01"},
            ]
        )


def test_successor_shares_cannot_exceed_one():
    with pytest.raises(UnitHierarchyError, match="shares exceed 1"):
        _province(
            successions=[
                {"predecessor": "b", "successor": "ab", "effective": "2025-07-01", "share": 0.7},
                {"predecessor": "b", "successor": "c1", "effective": "2025-07-01", "share": 0.4},
            ]
        )


def test_cycles_are_refused():
    with pytest.raises(UnitHierarchyError, match="cycle"):
        _province(
            links=[
                {"child": "a", "parent": "b", "valid_from": "2015-01-01"},
                {"child": "b", "parent": "a", "valid_from": "2015-01-01"},
            ]
        )


def test_links_must_name_known_units():
    with pytest.raises(UnitHierarchyError, match="unknown unit 'zz'"):
        _province(links=[{"child": "zz", "parent": "p", "valid_from": "2015-01-01"}])


@given(st.dates(min_value=date(2015, 1, 1), max_value=date(2030, 12, 31)))
def test_every_active_commune_rolls_up_to_the_province(on):
    hierarchy = load_sample_hierarchy()

    for leaf in hierarchy.leaves("ht", on):
        assert hierarchy.ancestors(leaf, on)[-1] == "ht"
