"""The campaign page's rows and the form's errors, from the services' JSON (no I/O)."""

from __future__ import annotations

from sipas_console.clients import ServiceCallError
from sipas_console.web.campaigns import errors_of, progress_rows


def test_a_unit_row_joins_sampling_counts_with_the_index_of_scoring():
    units = [
        {"unit": "ht-nx-co-dam", "eligible": 46, "quota": 25, "invited": 26, "answered": 20},
        {"unit": "ht-nx-xuan-an", "eligible": 40, "quota": None, "invited": 0, "answered": 0},
    ]
    table = {
        "rows": [{"unit": "ht-nx-co-dam", "name": "Cổ Đạm", "sipas": {"label": "85.00", "n": 20}}]
    }

    rows = progress_rows(units, table, {"ht-nx-co-dam": "Xã Cổ Đạm"})

    assert rows[0]["name"] == "Xã Cổ Đạm"
    assert (rows[0]["rate"], rows[0]["fill"]) == ("76,9", "80")  # a decimal comma, as on the board
    assert rows[0]["sipas"]["label"] == "85.00"
    assert (rows[1]["name"], rows[1]["rate"], rows[1]["fill"], rows[1]["sipas"]) == (
        "ht-nx-xuan-an",
        "—",
        "—",
        {},
    )


def test_sampling_errors_land_on_the_fields_of_the_form():
    problem = {
        "errors": [
            {"field": "as_of", "reason": "'2026-13-01' is not a date (YYYY-MM-DD)"},
            {"field": "name_vi", "reason": "String should have at most 200 characters"},
            {"field": "window.end", "reason": "end 2026-01-01 is before start 2026-02-01"},
        ]
    }

    errors = errors_of(ServiceCallError("sampling", 422, problem))

    assert errors == [
        ("as_of", "'2026-13-01' is not a date (YYYY-MM-DD)"),
        ("name_vi", "String should have at most 200 characters"),
        ("plan", "window.end: end 2026-01-01 is before start 2026-02-01"),
    ]
