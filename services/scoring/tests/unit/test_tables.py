from __future__ import annotations

from datetime import date
from fractions import Fraction

from sipas_contracts.units import parse_hierarchy
from sipas_scoring.domain.indices import Rules
from sipas_scoring.domain.rollups import carry_forward, rollup
from sipas_scoring.domain.tables import Baseline, build_table
from sipas_scoring.testing import C2640, answers_for, tally_of

BEFORE, AFTER = date(2025, 6, 30), date(2025, 12, 31)
HIERARCHY = parse_hierarchy(
    {
        "province": "p",
        "units": [
            {"code": "p", "name_vi": "Tỉnh P", "kind": "province", "valid_from": "2015-01-01"},
            {
                "code": "d",
                "name_vi": "Huyện D",
                "kind": "district",
                "valid_from": "2015-01-01",
                "valid_to": "2025-07-01",
            },
            *[
                {
                    "code": c,
                    "name_vi": f"Xã {c.upper()}",
                    "kind": "commune",
                    "valid_from": "2015-01-01",
                    "valid_to": "2025-07-01",
                }
                for c in ("a", "b", "s")
            ],
            *[
                {"code": c, "name_vi": f"Xã {c.upper()}", "kind": "commune", "valid_from": v}
                for c, v in (("c", "2025-07-01"), ("t", "2025-07-01"), ("u", "2025-07-01"))
            ],
            {"code": "k", "name_vi": "Xã K", "kind": "commune", "valid_from": "2015-01-01"},
            {"code": "sx", "name_vi": "Sở X", "kind": "department", "valid_from": "2015-01-01"},
        ],
        "links": [
            {"child": "d", "parent": "p", "valid_from": "2015-01-01", "valid_to": "2025-07-01"},
            *[
                {"child": c, "parent": "d", "valid_from": "2015-01-01", "valid_to": "2025-07-01"}
                for c in ("a", "b", "s", "k")
            ],
            {"child": "k", "parent": "p", "valid_from": "2025-07-01"},
            *[{"child": c, "parent": "p", "valid_from": "2025-07-01"} for c in ("c", "t", "u")],
            {"child": "sx", "parent": "p", "valid_from": "2015-01-01"},
        ],
        "successions": [
            {"predecessor": "a", "successor": "c", "effective": "2025-07-01"},
            {"predecessor": "b", "successor": "c", "effective": "2025-07-01"},
            {"predecessor": "s", "successor": "t", "effective": "2025-07-01", "share": 0.6},
            {"predecessor": "s", "successor": "u", "effective": "2025-07-01", "share": 0.4},
        ],
    }
)
RULES = Rules(n_min_item=1, n_min_unit=1)


def sat(positive: int, negative: int):
    return tally_of(C2640, [answers_for(C2640, 5)] * positive + [answers_for(C2640, 1)] * negative)


def test_rollups_sum_leaf_counts_through_the_hierarchy_valid_on_the_date():
    leaves = {"a": sat(3, 1), "b": sat(1, 3), "k": sat(2, 0)}

    before = rollup(leaves, HIERARCHY, BEFORE)

    assert before["d"].responses == 10
    assert before["p"].responses == 10
    assert before["d"].counts["C01"] == {"5": 6, "1": 4}
    after = rollup({"k": sat(2, 0)}, HIERARCHY, AFTER)
    assert set(after) == {"k", "p"}  # the district no longer exists after 1/7/2025


def test_a_rolled_up_index_is_computed_from_summed_counts_not_averaged():
    rows = build_table(
        C2640, {"a": {"individual": sat(9, 1)}, "b": {"individual": sat(0, 30)}}, HIERARCHY,
        BEFORE, RULES,
    )  # fmt: skip

    by_unit = {r.unit: r for r in rows}
    assert by_unit["d"].index.sipas.value == Fraction(900, 40)  # 9 of 40, not mean(90, 0)
    assert by_unit["d"].rollup
    assert not by_unit["a"].rollup


def test_ranks_are_competition_ranks_within_a_tier_and_skip_insufficient_units():
    leaves = {
        "a": {"individual": sat(8, 2)},
        "b": {"individual": sat(8, 2)},
        "k": {"individual": sat(5, 5)},
        "s": {"individual": sat(1, 0)},
        "sx": {"individual": sat(1, 9)},
    }

    rows = build_table(C2640, leaves, HIERARCHY, BEFORE, Rules(n_min_item=1, n_min_unit=5))

    ranks = {r.unit: r.rank for r in rows}
    assert ranks == {"a": 1, "b": 1, "k": 3, "s": None, "sx": 1, "d": 1, "p": 1}


def test_individuals_and_organisations_are_scored_separately_and_pooled():
    rows = build_table(
        C2640, {"k": {"individual": sat(10, 0), "organisation": sat(0, 10)}}, HIERARCHY, AFTER,
        RULES,
    )  # fmt: skip

    k = next(r for r in rows if r.unit == "k")
    assert k.segments["individual"].value == 100
    assert k.segments["organisation"].value == 0
    assert k.index.sipas.value == 50
    assert k.responses_by_kind == {"individual": 10, "organisation": 10}


def test_merged_communes_history_follows_the_succession_map():
    previous = {"a": {"individual": sat(9, 1)}, "b": {"individual": sat(1, 9)}}
    current = {"c": {"individual": sat(6, 4)}, "k": {"individual": sat(9, 1)}}

    rows = build_table(
        C2640, current, HIERARCHY, AFTER, RULES, previous=Baseline(C2640, previous, RULES)
    )

    c = next(r for r in rows if r.unit == "c")
    assert c.previous is not None
    assert c.previous.value == 50  # a + b counts summed: 10 of 20
    assert c.rank == 2
    assert c.previous_rank == 1
    assert c.rank_change == -1
    assert not c.estimated_previous


def test_a_split_communes_history_is_apportioned_and_flagged_as_estimated():
    carried = carry_forward({"s": sat(6, 4)}, HIERARCHY, AFTER)

    assert carried.tallies["t"].responses == 6
    assert carried.tallies["u"].responses == 4
    assert carried.tallies["t"].counts["C01"] == {"5": Fraction(18, 5), "1": Fraction(12, 5)}
    assert carried.estimated == {"t", "u"}
    rows = build_table(
        C2640, {"t": {"individual": sat(1, 0)}}, HIERARCHY, AFTER, RULES,
        previous=Baseline(C2640, {"s": {"individual": sat(6, 4)}}, RULES),
    )  # fmt: skip
    t = next(r for r in rows if r.unit == "t")
    assert t.previous is not None
    assert t.previous.value == 60
    assert t.estimated_previous


def test_units_missing_from_the_hierarchy_are_shown_but_never_ranked():
    rows = build_table(C2640, {"zz": {"individual": sat(5, 0)}}, HIERARCHY, AFTER, RULES)

    assert [(r.unit, r.tier, r.rank) for r in rows] == [("zz", "unknown", None)]
