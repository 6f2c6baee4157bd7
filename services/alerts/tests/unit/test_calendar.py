from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sipas_alerts.domain.calendar import DayRange, OfficeHours, WorkingCalendar

VN = ZoneInfo("Asia/Ho_Chi_Minh")
HOUR = 3600
CALENDAR = WorkingCalendar(
    holidays=(
        DayRange.model_validate({"from": date(2026, 9, 2), "name": "Quốc khánh"}),
        DayRange.model_validate(
            {"from": date(2026, 2, 14), "to": date(2026, 2, 22), "name": "Tết"}
        ),
    ),
    makeup_days=(DayRange.model_validate({"from": date(2026, 9, 5), "name": "Làm bù"}),),
)


def vn(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=VN)


def test_one_working_day_from_a_monday_morning_ends_the_same_afternoon():
    assert CALENDAR.add_days(vn(2026, 11, 16, 7, 30), 1) == vn(2026, 11, 16, 17, 0)


def test_a_case_opened_on_friday_afternoon_is_due_on_monday_afternoon():
    due = CALENDAR.add_days(vn(2026, 11, 20, 16, 0), 1)

    assert due == vn(2026, 11, 23, 16, 0).astimezone(UTC)


def test_lunch_break_and_nights_do_not_count():
    assert CALENDAR.between(vn(2026, 11, 16, 11, 0), vn(2026, 11, 16, 14, 0)) == 1.5 * HOUR
    assert CALENDAR.between(vn(2026, 11, 16, 16, 0), vn(2026, 11, 17, 8, 30)) == 2 * HOUR


def test_a_case_opened_at_the_weekend_starts_its_clock_on_monday_morning():
    assert CALENDAR.add(vn(2026, 11, 21, 22, 0), HOUR) == vn(2026, 11, 23, 8, 30)


def test_public_holidays_are_skipped():
    due = CALENDAR.add_days(vn(2026, 9, 1, 17, 0), 1)

    assert due == vn(2026, 9, 3, 17, 0)


def test_tet_holiday_pauses_the_clock_for_the_whole_week():
    due = CALENDAR.add_days(vn(2026, 2, 13, 9, 0), 1)

    assert due == vn(2026, 2, 23, 9, 0)


def test_a_makeup_saturday_is_a_working_day():
    assert CALENDAR.is_working_day(date(2026, 9, 5))
    assert not CALENDAR.is_working_day(date(2026, 9, 12))
    assert CALENDAR.holiday_name(date(2026, 2, 17)) == "Tết"


def test_adding_nothing_keeps_the_start():
    start = vn(2026, 11, 21, 22, 0)

    assert CALENDAR.add(start, 0) == start


def test_overlapping_office_hours_are_refused():
    with pytest.raises(ValidationError, match="overlap"):
        WorkingCalendar(
            hours=(
                OfficeHours(start=time(8), end=time(12)),
                OfficeHours(start=time(11), end=time(17)),
            )
        )


def test_an_unknown_time_zone_is_named():
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Base'"):
        WorkingCalendar(timezone="Mars/Base")


def test_a_holiday_range_must_be_in_order():
    with pytest.raises(ValidationError, match="before 'from'"):
        DayRange.model_validate({"from": date(2026, 2, 22), "to": date(2026, 2, 14)})


starts = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive; zone below
    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(VN),
)
amounts = st.floats(min_value=1, max_value=30 * 8 * HOUR, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(starts, amounts)
def test_working_time_between_start_and_due_is_what_was_added(start, seconds):
    due = CALENDAR.add(start, seconds)

    assert due >= start
    assert CALENDAR.between(start, due) == pytest.approx(seconds, abs=1e-3)


@settings(max_examples=200, deadline=None)
@given(starts, starts, amounts)
def test_a_later_start_never_gives_an_earlier_due_time(a, b, seconds):
    early, late = sorted((a, b))

    assert CALENDAR.add(early, seconds) <= CALENDAR.add(late, seconds)


@settings(max_examples=100, deadline=None)
@given(starts, amounts)
def test_a_due_time_always_falls_in_office_hours(start, seconds):
    due = CALENDAR.add(start, seconds).astimezone(VN)

    assert CALENDAR.is_working_day(due.date())
    assert any(h.start <= due.time() <= h.end for h in CALENDAR.hours)
    assert due - start.astimezone(VN) >= timedelta(seconds=0)


def test_vietnamese_public_holidays_and_official_swaps_come_from_the_holidays_library():
    calendar = WorkingCalendar()

    assert not calendar.is_working_day(date(2027, 2, 8))  # Tết Đinh Mùi, a Monday
    assert calendar.holiday_name(date(2027, 2, 8)) == "Mùng ba Tết Nguyên Đán"
    assert not calendar.is_working_day(date(2025, 5, 2))  # swapped with Saturday 26/4
    assert calendar.is_working_day(date(2025, 4, 26))
    assert calendar.holiday_name(date(2025, 5, 2)) == "Ngày nghỉ (thay cho ngày 26/04/2025)"
    assert not calendar.is_working_day(date(2026, 8, 31))  # swapped with Saturday 22/8
    assert calendar.is_working_day(date(2026, 8, 22))


def test_the_province_file_adds_days_off_and_make_up_days_on_top_of_the_library():
    calendar = WorkingCalendar(
        holidays=(DayRange.model_validate({"from": date(2026, 3, 10), "name": "Lễ hội tỉnh"}),),
        makeup_days=(DayRange.model_validate({"from": date(2026, 11, 24), "name": "Làm"}),),
    )

    assert not calendar.is_working_day(date(2026, 3, 10))
    assert calendar.holiday_name(date(2026, 3, 10)) == "Lễ hội tỉnh"
    assert calendar.is_working_day(date(2026, 11, 24))  # the file wins over the library


def test_national_holidays_can_be_left_to_the_file_alone():
    calendar = WorkingCalendar(national_holidays=False)

    assert calendar.is_working_day(date(2027, 2, 8))
    assert calendar.holiday_name(date(2027, 2, 8)) is None
