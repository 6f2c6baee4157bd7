"""The live board's figures: what a hall screen shows of scoring's rows."""

from __future__ import annotations

from datetime import date

from sipas_console import unit_board


def sipas(display: str | None, *, sufficient: bool = True, n: int = 40) -> dict[str, object]:
    return {"display": display, "ci_display": "80.12–88.34", "n": n, "sufficient": sufficient}


def test_writes_the_index_with_a_decimal_comma_in_vietnamese_and_a_point_in_english() -> None:
    row = {"unit": "ht-nx-xuan-lien", "responses": 41.0, "sipas": sipas("84.45")}

    vi = unit_board.campaign_figures("c2026", row, None, "vi")
    en = unit_board.campaign_figures("c2026", row, None, "en")

    assert vi is not None
    assert en is not None
    assert (vi.overall.value, vi.overall.interval) == ("84,45", "80,12–88,34")  # type: ignore[union-attr]
    assert en.overall.value == "84.45"  # type: ignore[union-attr]
    assert vi.responses == 41


def test_shows_no_value_when_the_unit_has_too_few_answers() -> None:
    row = {"unit": "ht-nx-xuan-lien", "responses": 2, "sipas": sipas("50.00", sufficient=False)}

    shown = unit_board.campaign_figures("c2026", row, None, "vi")

    assert shown is not None
    assert shown.overall is not None
    assert shown.overall.value is None
    assert shown.overall.interval is None


def test_a_campaign_with_only_counter_ratings_still_reaches_the_board() -> None:
    counter = {"unit": "ht-nx-co-dam", "responses": 7, "sipas": sipas("71.43", n=7)}

    shown = unit_board.campaign_figures("kiosk", None, counter, "vi")

    assert shown is not None
    assert shown.overall is None
    assert (shown.counter_responses, shown.counter.value) == (7, "71,43")  # type: ignore[union-attr]


def test_a_campaign_without_the_units_rows_is_left_off() -> None:
    assert unit_board.campaign_figures("c2026", None, None, "vi") is None


def test_prefers_campaigns_with_ratings_this_month_then_the_largest() -> None:
    campaigns = [
        {"campaign_id": "old-big", "responses": 900, "months": ["2026-10"]},
        {"campaign_id": "now-small", "responses": 10, "months": ["2026-12"]},
        {"campaign_id": "now-big", "responses": 300, "months": ["2026-11", "2026-12"]},
    ]

    chosen = unit_board.busiest(campaigns, unit_board.month_of(date(2026, 12, 7)), 2)

    assert chosen == ["now-big", "now-small"]


def test_finds_the_units_own_row_not_a_roll_up() -> None:
    own = {"unit": "ht-nx-xuan-lien", "responses": 3}
    table = {"rows": [{"unit": "ht-nx"}, own]}

    assert unit_board.row_of(table, "ht-nx-xuan-lien") == own
    assert unit_board.row_of({}, "ht-nx-xuan-lien") is None


def test_names_a_campaign_in_the_readers_language_and_else_by_its_id() -> None:
    named = {"campaign_id": "c2026", "title_vi": "Khảo sát 2026", "title_en": "Survey 2026"}
    vietnamese_only = {"campaign_id": "c2026", "title_vi": "Khảo sát 2026", "title_en": None}
    row = {"unit": "ht-nx-xuan-lien", "responses": 3, "sipas": sipas("84.45")}

    titles = [
        unit_board.title_of(named, "vi"),
        unit_board.title_of(named, "en"),
        unit_board.title_of(vietnamese_only, "en"),
        unit_board.title_of({"campaign_id": "c2026"}, "vi"),
    ]
    unnamed = unit_board.campaign_figures("c2026", row, None, "vi", None)

    assert titles == ["Khảo sát 2026", "Survey 2026", "Khảo sát 2026", None]
    assert unnamed is not None
    assert unnamed.title == "c2026"
