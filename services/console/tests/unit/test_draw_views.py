"""How a draw reads on its page: strata in order, who was replaced, the log (no I/O)."""

from __future__ import annotations

from sipas_console.draw_views import log_rows, population_size, strata

EXPORT = {
    "population": {
        "b": {"individual": ["d1", "d2", "d3"], "organisation": ["o1"]},
        "a": {"individual": ["d9"], "organisation": []},
    },
    "lists": {
        "lists": {
            "b": {
                "individual": {"official": ["d2", "d1"], "reserve": ["d3"]},
                "organisation": {"official": ["o1"], "reserve": []},
            },
            "a": {"individual": {"official": ["d9"], "reserve": []}},
        }
    },
    "substitutions": [
        {"seq": 1, "unit": "b", "replaced": "d2", "substitute": "d3", "reason": "refused"}
    ],
}
NAMES = {"a": "Xã An", "b": "Xã Bình"}


def test_strata_are_listed_by_unit_name_and_kind_with_replacements_marked():
    found = strata(EXPORT, NAMES.__getitem__)

    assert [(s.name, s.kind) for s in found] == [
        ("Xã An", "individual"),
        ("Xã Bình", "individual"),
        ("Xã Bình", "organisation"),
    ]
    assert found[1].official == ["d2", "d1"]  # draw order kept
    assert "d2" in found[1].replaced
    assert "d3" in found[1].brought_in
    assert population_size(EXPORT) == 5


def test_the_log_reads_in_the_viewers_language():
    say = {"refused": "từ chối"}.get

    assert log_rows(EXPORT, NAMES.__getitem__, lambda m: say(m) or m) == [
        ["1", "Xã Bình", "d2", "từ chối", "d3"]
    ]
