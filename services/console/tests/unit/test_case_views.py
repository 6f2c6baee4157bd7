"""How a case reads on a page: deadlines, order, local times (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sipas_console.web.case_views import by_deadline, deadline, local, text_in

NOW = datetime(2026, 11, 17, 3, 0, tzinfo=UTC)


def case(state: str, *, ack: timedelta, resolve: timedelta, opened: str = "2026-11-16T02:00:00Z"):
    return {
        "case_id": f"{state}-{ack}-{resolve}",
        "state": state,
        "opened_at": opened,
        "acknowledge_due_at": (NOW + ack).isoformat().replace("+00:00", "Z"),
        "resolve_due_at": (NOW + resolve).isoformat().replace("+00:00", "Z"),
    }


def test_a_new_case_counts_down_to_its_acknowledge_deadline():
    due = deadline(case("open", ack=timedelta(hours=5, minutes=30), resolve=timedelta(days=5)), NOW)

    assert due is not None
    assert (due.kind, due.overdue, due.hours, due.days) == ("acknowledge", False, 5, 0)


def test_a_case_in_progress_counts_down_to_resolve_and_says_when_it_is_late():
    due = deadline(case("in_progress", ack=-timedelta(days=3), resolve=-timedelta(hours=50)), NOW)

    assert due is not None
    assert (due.kind, due.overdue, due.hours, due.days) == ("resolve", True, 50, 2)


def test_an_ended_case_has_no_deadline():
    assert deadline(case("resolved", ack=timedelta(0), resolve=timedelta(0)), NOW) is None


def test_the_inbox_shows_the_soonest_deadline_first_then_ended_cases_newest_first():
    later = case("acknowledged", ack=-timedelta(days=1), resolve=timedelta(days=2))
    sooner = case("open", ack=timedelta(hours=2), resolve=timedelta(days=5))
    old_end = case("closed", ack=timedelta(0), resolve=timedelta(0), opened="2026-11-01T00:00:00Z")
    new_end = case("dismissed", ack=timedelta(0), resolve=timedelta(0))

    ordered = by_deadline([old_end, later, new_end, sooner], NOW)

    assert ordered == [sooner, later, new_end, old_end]


def test_times_are_shown_in_vietnam_time_and_texts_in_the_viewers_language():
    assert local("2026-11-17T02:00:00Z") == "09:00 17/11/2026"
    assert local(None) == ""
    assert text_in({"vi": "Không hài lòng", "en": "Dissatisfied"}, "en") == "Dissatisfied"
    assert text_in({"vi": "Không hài lòng", "en": ""}, "en") == "Không hài lòng"


def test_the_time_left_is_alerts_working_time_when_alerts_gives_it():
    weekend = case("open", ack=timedelta(days=2, hours=5), resolve=timedelta(days=7))
    day = 8 * 3600.0

    hours = deadline({**weekend, "due": {"working_seconds_left": 5 * 3600 + 1,
                                         "working_day_seconds": day}}, NOW)  # fmt: skip
    days = deadline({**weekend, "due": {"working_seconds_left": 1.57 * day,
                                        "working_day_seconds": day}}, NOW)  # fmt: skip

    assert hours is not None
    assert (hours.working_days, hours.working_hours) == (None, 6)  # not 2 days of clock time
    assert days is not None
    assert days.working_days == "1.5"
    assert deadline(weekend, NOW).working_seconds is None  # an older alerts: clock time
