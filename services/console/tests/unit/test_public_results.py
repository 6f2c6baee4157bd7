"""The public results as people read them (pure functions)."""

from __future__ import annotations

from sipas_console.published import etag
from sipas_console.results import count, decimal, shown, trend

FIGURE = {
    "value": 84.44444, "display": "84.44", "ci_low": 70.1, "ci_high": 92.3,
    "ci_display": "70.10–92.30", "n": 25, "sufficient": True,
}  # fmt: skip


def test_numbers_are_written_the_vietnamese_way_or_the_english_way():
    assert decimal("84.45", "vi") == "84,45"
    assert decimal("84.45", "en") == "84.45"
    assert count(25.0) == "25"


def test_a_sufficient_figure_comes_with_its_interval_as_published():
    figure = shown(FIGURE, "vi")

    assert (figure.value, figure.low, figure.high) == ("84,44", "70,10", "92,30")
    assert figure.bar == (70.1, 84.44444, 92.3)


def test_an_insufficient_figure_has_no_value_and_no_interval():
    figure = shown({**FIGURE, "sufficient": False, "n": 7}, "vi")

    assert not figure.sufficient
    assert (figure.value, figure.low, figure.bar, figure.n) == ("—", "—", None, 7)


def test_a_units_trend_runs_from_the_oldest_published_period():
    def table(period: str, start: str, value: str) -> dict:
        row = {"unit": "u1", "sipas": {**FIGURE, "display": value}, "rank": 1, "responses": 25}
        return {
            "campaign_id": "c", "period": period, "months": [start[:7]],
            "profile": {"title_vi": "Khảo sát"}, "rows": [row],
        }  # fmt: skip

    points = trend(
        "u1",
        [table("2026-Q4", "2026-10-01", "80.00"), table("2026-Q3", "2026-07-01", "70.00")],
        "vi",
    )

    assert [p["period"] for p in points] == ["2026-Q3", "2026-Q4"]
    assert [p["figure"].value for p in points] == ["70,00", "80,00"]


def test_a_pages_etag_changes_with_what_is_published_and_the_language():
    first = [{"id": "p1", "digest": "a" * 64}]
    newer = [{"id": "p2", "digest": "b" * 64}]

    assert etag(first, "vi") == etag(first, "vi")
    assert etag(first, "vi") != etag(newer, "vi")
    assert etag(first, "vi") != etag(first, "en")
