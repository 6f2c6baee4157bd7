from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sipas_intake.domain.dossiers import NotCompleted
from sipas_intake.domain.errors import DossierRejectedError
from sipas_intake.domain.fieldmap import FieldMap, strptime_pattern
from sipas_intake.domain.formats import Formats

SHIPPED = FieldMap.model_validate(
    yaml.safe_load(
        (resources.files("sipas_intake") / "fieldmaps" / "motcua-excel.yaml").read_text("utf-8")
    )
)
ROW = {
    "STT": 1,
    "Mã hồ sơ": "000.00.00.H42-261120-0007",
    "Tên thủ tục": "Chứng thực bản sao",
    "Mã thủ tục": "2.000815",
    "Đơn vị xử lý": "UBND xã Xuân Hội",
    "Loại đối tượng": "Doanh nghiệp",
    "Hình thức nộp": "Trực tiếp",
    "Ngày tiếp nhận": "18/11/2026 08:30",
    "Ngày hẹn trả": "19/11/2026",
    "Ngày trả kết quả": "2026-11-19 15:45:00",
    "Trạng thái": "Đã trả kết quả",
    "Số điện thoại": 912345678,
    "Chủ hồ sơ": "Công ty TNHH ABC",
}


def mapped(**overrides: Any) -> Any:
    return SHIPPED.apply({**ROW, **overrides})


def test_the_shipped_one_stop_excel_map_reads_a_typical_row():
    record = mapped()

    assert record.dossier_id == "000.00.00.H42-261120-0007"
    assert record.applicant_kind == "organisation"
    assert record.submission_channel == "direct"
    assert record.result_delivery == "counter"
    assert record.received_at.isoformat() == "2026-11-18T08:30:00+07:00"
    assert record.delivered_at.isoformat() == "2026-11-19T15:45:00+07:00"
    assert record.contact.phone == "912345678"
    assert record.contact.name == "Công ty TNHH ABC"


def test_headers_match_ignoring_case_spaces_and_composition():
    row = {k.upper().replace(" ", "  "): v for k, v in ROW.items()}
    row["Mã hồ sơ".upper()] = ROW["Mã hồ sơ"]
    decomposed = {"Ma\u0303 ho\u0302\u0300 so\u031b": "X-NFD"}  # "Mã hồ sơ" in NFD

    assert SHIPPED.apply(row).dossier_id == ROW["Mã hồ sơ"]
    assert SHIPPED.apply({**ROW, **decomposed, "Mã hồ sơ": ""}).dossier_id == "X-NFD"


def test_a_row_whose_status_is_not_final_is_acknowledged():
    assert mapped(**{"Trạng thái": "Đang xử lý", "Loại đối tượng": "???"}) == NotCompleted(
        ROW["Mã hồ sơ"], "Trạng thái (status) is not final"
    )


def test_errors_name_the_column_and_the_canonical_field():
    with pytest.raises(DossierRejectedError) as info:
        mapped(**{"Loại đối tượng": "Người nước ngoài", "Ngày tiếp nhận": "31/02/2026"})

    assert [(e["field"], e["code"]) for e in info.value.errors] == [
        ("Loại đối tượng (applicant_kind)", "unmapped_value"),
        ("Ngày tiếp nhận (received_at)", "invalid"),
    ]


def test_a_missing_required_column_is_named_by_its_source():
    with pytest.raises(DossierRejectedError) as info:
        mapped(**{"Mã thủ tục": ""})

    assert info.value.errors[0]["field"] == "Mã thủ tục (procedure_code)"
    assert info.value.errors[0]["code"] == "missing"


def test_explicit_date_formats_use_the_excel_notation():
    assert strptime_pattern("dd/MM/yyyy HH:mm") == "%d/%m/%Y %H:%M"
    field_map = FieldMap.model_validate(
        {
            "name": "strict",
            "timezone": "+07:00",
            "fields": {
                "dossier_id": {"from": "id"},
                "agency_code": {"constant": "H42"},
                "procedure_code": {"constant": "1"},
                "applicant_kind": {"constant": "individual"},
                "submission_channel": {"constant": "direct"},
                "received_at": {"from": "in", "format": "yyyyMMdd"},
                "delivered_at": {"from": "out", "format": "yyyyMMdd"},
                "applicant_adult": {"constant": True},
            },
        }
    )

    record = field_map.apply({"id": "X", "in": "20261101", "out": "20261102"})

    assert record.delivered_at.isoformat() == "2026-11-02T00:00:00+07:00"
    assert record.applicant_adult is True
    with pytest.raises(DossierRejectedError, match=r"'2026-11-02' is not a date \(yyyyMMdd\)"):
        field_map.apply({"id": "X", "in": "20261101", "out": "2026-11-02"})


def test_nested_json_sources_are_reached_by_dotted_paths():
    field_map = FieldMap.model_validate(
        {
            "name": "igate",
            "fields": {
                "dossier_id": {"from": "MaHoSo"},
                "agency_code": {"from": "MaDonViTiepNhan"},
                "procedure_code": {"from": "MaTTHC"},
                "applicant_kind": {"from": "ThongTinNguoiNop.LoaiDoiTuong",
                                   "values": {"1": "individual", "0": "individual"}},
                "submission_channel": {"constant": "online"},
                "received_at": {"from": "NgayTiepNhan"},
                "delivered_at": {"from": "NgayTra"},
                "contact.phone": {"from": "ThongTinNguoiNop.ThongTinChiTiet.SoDienThoai"},
            },
        }
    )  # fmt: skip

    record = field_map.apply(
        {
            "MaHoSo": "G09.20-20260609-0092637",
            "MaDonViTiepNhan": "G09.20",
            "MaTTHC": "1.005129",
            "NgayTiepNhan": "2026-06-08 14:07:53",
            "NgayTra": "2026-06-09 10:00:00",
            "ThongTinNguoiNop": {"LoaiDoiTuong": 1, "ThongTinChiTiet": {"SoDienThoai": "09"}},
        }
    )

    assert record.applicant_kind == "individual"
    assert record.contact.phone == "09"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "hoso"}, "reserved"),
        ({"fields": {"dossier_id": {"from": "x"}}}, "missing target fields"),
        ({"fields": {**SHIPPED.model_dump(by_alias=True)["fields"], "bogus": {"from": "x"}}},
         "unknown target fields ['bogus']"),
        ({"timezone": "Asia/Hanoi"}, "not a UTC offset"),
    ],
)  # fmt: skip
def test_a_broken_field_map_is_refused_with_the_reason(change, message):
    document = {**SHIPPED.model_dump(by_alias=True, exclude_none=True), **change}

    with pytest.raises(ValidationError, match=re.escape(message)):
        FieldMap.model_validate(document)


def test_a_rule_needs_exactly_one_source():
    with pytest.raises(ValidationError, match="either 'from'"):
        FieldMap.model_validate(
            {"name": "x", "fields": {"dossier_id": {"from": "a", "constant": "b"}}}
        )


def test_formats_are_chosen_by_caller_source_or_content():
    formats = Formats(field_maps={"motcua-excel": SHIPPED}, source_formats={"tinh": "hoso"})

    assert formats.choose("motcua-excel", source=None, document={}) == "motcua-excel"
    assert formats.choose("auto", source="tinh", document={}) == "hoso"
    assert formats.choose(None, source="x", document={"MaHoSo": "1"}) == "hoso"
    assert formats.choose(None, source="x", document={"dossier_id": "1"}) == "generic"


def test_an_unknown_format_or_a_non_object_is_a_field_error():
    formats = Formats()

    with pytest.raises(DossierRejectedError, match="unknown format 'xml'; known: generic, hoso"):
        formats.read("xml", {})
    with pytest.raises(DossierRejectedError, match="expected a JSON object, got list"):
        formats.read("generic", [1, 2])


cells = st.one_of(st.none(), st.text(max_size=40), st.integers(), st.floats(), st.booleans())


@given(changes=st.dictionaries(st.sampled_from([*ROW, "x"]), cells))
def test_any_spreadsheet_row_is_mapped_or_rejected_with_column_names(
    changes, outcome, well_formed_errors
):
    result = outcome(lambda: SHIPPED.apply({**ROW, **changes}))

    assert well_formed_errors(result) or result.dossier_id
