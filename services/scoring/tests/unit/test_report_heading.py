"""The administrative heading of the report (Nghị định 30/2020/NĐ-CP)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from sipas_scoring.report_heading import clock, dated, heading, number_line, place_of
from sipas_scoring.store.publications import HistoryEntry


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 12, 7), "Hà Tĩnh, ngày 07 tháng 12 năm 2026"),
        (date(2027, 1, 15), "Hà Tĩnh, ngày 15 tháng 01 năm 2027"),
        (date(2027, 2, 3), "Hà Tĩnh, ngày 03 tháng 02 năm 2027"),
        (date(2027, 3, 31), "Hà Tĩnh, ngày 31 tháng 3 năm 2027"),
    ],
)
def test_the_date_is_in_words_with_zeros_below_ten_and_for_january_and_february(day, expected):
    assert dated("Hà Tĩnh", day, "vi", year=day.year) == expected


def test_before_issue_the_day_and_month_are_left_blank():
    assert dated("Hà Tĩnh", None, "vi", year=2026) == "Hà Tĩnh, ngày      tháng      năm 2026"
    assert dated("Ha Tinh", date(2026, 12, 7), "en", year=2026) == "Ha Tinh, 7 December 2026"


def test_a_bare_number_gets_the_report_symbol_and_the_agency():
    assert number_line("45", "SNV", "vi") == "Số: 45/BC-SNV"
    assert number_line("12/BC-UBND", "SNV", "vi") == "Số: 12/BC-UBND"
    assert number_line(None, "SNV", "vi") == "Số:        /BC-SNV"


def test_the_place_is_the_province_without_its_kind():
    assert place_of("Tỉnh Hà Tĩnh") == "Hà Tĩnh"
    assert place_of("Thành phố Huế") == "Huế"


def test_times_are_shown_in_vietnam_time():
    assert clock(datetime(2026, 12, 6, 20, 30, tzinfo=UTC)) == "07/12/2026 03:30"


def test_the_heading_signs_with_the_approval_and_dates_with_the_publication():
    history = [
        HistoryEntry(state="draft", actor="lvbinh", at=datetime(2026, 12, 5, 2, tzinfo=UTC)),
        HistoryEntry(
            state="approved", actor="nthoa", at=datetime(2026, 12, 6, 2, tzinfo=UTC),
            name="Nguyễn Thị Hoa", title="Phó Giám đốc", authority="KT. Giám đốc",
        ),
        HistoryEntry(
            state="published", actor="vt", at=datetime(2026, 12, 6, 18, tzinfo=UTC), number="45"
        ),
    ]  # fmt: skip

    found = heading({}, "Tỉnh Hà Tĩnh", history, lang="vi", year=2026)

    assert found.parent == "UBND TỈNH HÀ TĨNH"
    assert found.issuer == "SỞ NỘI VỤ"
    assert found.number == "Số: 45/BC-SNV"
    assert found.place_date == "Hà Tĩnh, ngày 07 tháng 12 năm 2026"  # 01:00 on the 7th in Vietnam
    assert (found.signature.authority, found.signature.title) == ("KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC")
    assert found.signature.name == "Nguyễn Thị Hoa"
    assert found.recipients[-1] == "Lưu: VT, CCHC."


def test_a_profile_names_its_own_agency_place_and_recipients():
    profile = {
        "issuer_parent": "Ủy ban nhân dân huyện Nghi Xuân",
        "issuer": "Phòng Nội vụ",
        "issuer_code": "PNV",
        "place": "Nghi Xuân",
        "recipients": ["UBND tỉnh (để b/c);", "Lưu: VT."],
    }

    found = heading(profile, "Tỉnh Hà Tĩnh", [], lang="vi", year=2020)

    assert (found.parent, found.issuer) == ("ỦY BAN NHÂN DÂN HUYỆN NGHI XUÂN", "PHÒNG NỘI VỤ")
    assert found.number == "Số:        /BC-PNV"
    assert found.place_date.startswith("Nghi Xuân, ngày")
    assert found.recipients == ["UBND tỉnh (để b/c);", "Lưu: VT."]
    assert found.signature.name == ""
