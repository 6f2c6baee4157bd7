from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipas_intake.domain.dossiers import NotCompleted
from sipas_intake.domain.errors import DossierRejectedError
from sipas_intake.domain.hoso import from_hoso

# integration-formats.md §1.6, first example (Thanh Hóa one-stop, in-person, citizen).
COUNTER = {
    "MaHoSo": "000.22.31.H56-250224-0031",
    "MaTTHC": "1.001229.000.00.00.H56",
    "TenTTHC": "Đăng ký khai sinh",
    "MaLinhVuc": "G13-TP05",
    "TenLinhVuc": "Hộ tịch",
    "KenhThucHien": "1",
    "ChuHoSo": "Nguyễn Văn An",
    "LoaiDoiTuong": "1",
    "MaDoiTuong": "",
    "SoGiayToChuHoSo": "038090001234",
    "DinhDanhCHS": [{"LoaiDinhDanh": "1", "SoDinhDanh": "038090001234"}],
    "Email": "",
    "Fax": "",
    "SoDienThoai": "0912 345 678",
    "NgayNopHoSo": "20250224081512",
    "NgayTiepNhan": "20250224081512",
    "NgayHenTra": "20250225170000",
    "NgayKetThucXuLy": "20250225094000",
    "NgayTra": "20250225101500",
    "NgayTuChoi": "",
    "TrangThaiHoSo": "10",
    "HinhThuc": "0",
    "DonViXuLy": "UBND xã Quảng Phú",
    "NoiNopHoSo": "2",
    "DanhSachLePhi": [],
}


def hoso(**overrides: Any) -> dict[str, Any]:
    return {**COUNTER, **overrides}


def test_the_reference_example_maps_field_by_field():
    record = from_hoso(COUNTER)

    assert record.dossier_id == "000.22.31.H56-250224-0031"
    assert record.agency_code == "000.22.31.H56"
    assert record.unit == "UBND xã Quảng Phú"
    assert (record.procedure_code, record.procedure_field) == ("1.001229.000.00.00.H56", "G13-TP05")
    assert record.applicant_kind == "individual"
    assert record.applicant_id == "038090001234"
    assert (record.submission_channel, record.result_delivery) == ("direct", "counter")
    assert record.received_at.isoformat() == "2025-02-24T08:15:12+07:00"
    assert record.due_at.isoformat() == "2025-02-25T17:00:00+07:00"
    assert record.delivered_at.isoformat() == "2025-02-25T10:15:00+07:00"
    assert record.contact.phone == "0912 345 678"
    assert record.contact.name == "Nguyễn Văn An"
    assert record.contact.email is None


def test_the_applicant_address_comes_from_diachi_or_its_local_name():
    assert from_hoso(hoso(DiaChi="Thôn 3, xã Quảng Phú")).contact.address == (
        "Thôn 3, xã Quảng Phú"
    )
    assert from_hoso(hoso(DiaChiChuHoSo="Tổ 5")).contact.address == "Tổ 5"
    assert from_hoso(COUNTER).contact.address is None


def test_an_online_enterprise_dossier_with_postal_result_and_integer_codes():
    record = from_hoso(
        hoso(KenhThucHien=2, LoaiDoiTuong=2, HinhThuc=1, SoDienThoai="+84 237 3851 234")
    )

    assert record.applicant_kind == "organisation"
    assert (record.submission_channel, record.result_delivery) == ("online", "postal")


@pytest.mark.parametrize("kind", ["Công dân", "công  dân", "1"])
def test_applicant_kind_as_local_text_or_code(kind):
    assert from_hoso(hoso(LoaiDoiTuong=kind)).applicant_kind == "individual"


@pytest.mark.parametrize("kind", ["2", "3", "4", "Doanh nghiệp", "Cơ quan nhà nước", "Khác"])
def test_every_non_citizen_kind_is_an_organisation(kind):
    assert from_hoso(hoso(LoaiDoiTuong=kind)).applicant_kind == "organisation"


@pytest.mark.parametrize(("status", "name"), [("4", "Đang xử lý"), ("8", "Dừng xử lý")])
def test_dossiers_not_handed_over_are_acknowledged_not_completed(status, name):
    result = from_hoso(hoso(TrangThaiHoSo=status, NgayTra="", NgayKetThucXuLy=""))

    assert result == NotCompleted("000.22.31.H56-250224-0031", f"TrangThaiHoSo {status} ({name})")


def test_status_words_of_the_dvcqg_feed_are_understood():
    assert isinstance(from_hoso(hoso(TrangThaiHoSo="processing")), NotCompleted)
    assert from_hoso(hoso(TrangThaiHoSo="done")).dossier_id


def test_an_online_dossier_finished_electronically_counts_at_status_9():
    record = from_hoso(hoso(TrangThaiHoSo="9", KenhThucHien="2", NgayTra=""))

    assert record.result_delivery == "electronic"
    assert record.delivered_at.isoformat() == "2025-02-25T09:40:00+07:00"


def test_status_9_at_the_counter_is_not_yet_completed():
    assert isinstance(from_hoso(hoso(TrangThaiHoSo="9")), NotCompleted)


def test_the_placeholder_identifier_is_not_an_applicant_id():
    result = from_hoso(
        hoso(SoGiayToChuHoSo="", DinhDanhCHS=[{"LoaiDinhDanh": "2", "SoDinhDanh": "000000001"}])
    )

    assert result.applicant_id is None


def test_iso_dates_without_offset_are_vietnam_time():
    record = from_hoso(hoso(NgayTra="2025-02-25T10:15:00"))

    assert record.delivered_at.isoformat() == "2025-02-25T10:15:00+07:00"


def test_errors_name_the_hoso_fields():
    with pytest.raises(DossierRejectedError) as info:
        from_hoso(hoso(KenhThucHien="9", NgayTra="hôm qua", LoaiDoiTuong="", MaTTHC=""))

    fields = [e["field"] for e in info.value.errors]
    assert fields == ["KenhThucHien", "NgayTra", "LoaiDoiTuong"]
    with pytest.raises(DossierRejectedError) as info:
        from_hoso(hoso(MaTTHC=""))
    assert info.value.errors[0]["field"] == "MaTTHC"


def test_completed_without_handover_date_is_rejected():
    with pytest.raises(DossierRejectedError, match="NgayTra: required"):
        from_hoso(hoso(NgayTra=""))


def test_an_unknown_status_is_rejected():
    with pytest.raises(DossierRejectedError, match="TrangThaiHoSo"):
        from_hoso(hoso(TrangThaiHoSo="11"))


values = st.one_of(st.none(), st.text(max_size=30), st.integers(), st.lists(st.integers()))


@given(changes=st.dictionaries(st.sampled_from(sorted(COUNTER)), values))
def test_any_mangled_record_is_read_or_rejected_with_hoso_field_names(
    changes, outcome, well_formed_errors
):
    result = outcome(lambda: from_hoso({**COUNTER, **changes}))

    assert well_formed_errors(result) or result.dossier_id


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("MaHoSo", {"$gt": ""}),
        ("DonViXuLy", [["UBND xã Quảng Phú"]]),
        ("MaTTHC", True),
        ("SoDienThoai", {"so": "0912345678"}),
        ("NgayTra", ["20250225101500"]),
    ],
)
def test_a_value_that_is_not_text_or_a_number_is_a_type_error_naming_the_field(field, value):
    with pytest.raises(DossierRejectedError) as info:
        from_hoso(hoso(**{field: value}))

    [error] = [e for e in info.value.errors if e["field"] == field]
    assert error["reason"].startswith("must be text or a number")
    assert error["code"] == "invalid"


def test_numbers_are_read_as_their_text():
    record = from_hoso(hoso(MaTTHC=1001229, LoaiDoiTuong=1, KenhThucHien=1, TrangThaiHoSo=10))

    assert record.procedure_code == "1001229"
    assert record.applicant_kind == "individual"


# integration-formats.md §1.8: the iGate "NoiHoSo" record keeps the applicant in a block.
IGATE_APPLICANT = {
    "LoaiDoiTuong": 1,
    "IdDoiTuong": "7f0c2a4e-0000-4000-8000-000000000001",
    "ThongTinChiTiet": {
        "TenNguoiNop": "Trần Thị Bình",
        "SoDinhDanh": "079190001234",
        "SoDienThoai": "0987 654 321",
        "Email": "binh@example.vn",
        "DiaChiChiTiet": "12 Nguyễn Huệ",
    },
}


def test_the_igate_applicant_block_gives_the_contact_and_id():
    record = from_hoso(
        hoso(
            SoDienThoai="", ChuHoSo="", SoGiayToChuHoSo="", DinhDanhCHS=[],
            ThongTinNguoiNop=IGATE_APPLICANT,
        )
    )  # fmt: skip

    assert record.contact.phone == "0987 654 321"
    assert record.contact.email == "binh@example.vn"
    assert record.contact.name == "Trần Thị Bình"
    assert record.contact.address == "12 Nguyễn Huệ"
    assert record.applicant_id == "079190001234"


def test_an_applicant_block_that_is_not_an_object_is_a_type_error():
    with pytest.raises(DossierRejectedError) as info:
        from_hoso(hoso(ThongTinNguoiNop="0912345678"))

    assert info.value.errors[0]["field"] == "ThongTinNguoiNop"
