"""The one-stop / DVC ``HoSo`` record (DongBoHoSoMC payload) → canonical dossier record.

Field by field (integration-formats.md §1.2; documented in docs/intake-formats.md):
``MaHoSo`` → dossier_id and, before its first ``-``, the agency code (mã định danh);
``DonViXuLy`` → unit name; ``MaTTHC``/``TenTTHC``/``MaLinhVuc`` → procedure;
``LoaiDoiTuong`` 1 / "Công dân" → individual, 2–4 or organisation words → organisation;
``KenhThucHien`` 1/2/3 → direct/online/postal; ``HinhThuc`` 0/1 → counter/postal;
``NgayTiepNhan``/``NgayHenTra``/``NgayKetThucXuLy``/``NgayTra`` → received/due/processed/
delivered (``yyyyMMddHHmmss`` UTC+7 or ISO); ``SoGiayToChuHoSo`` or ``DinhDanhCHS`` →
applicant id (hashed); ``SoDienThoai``, ``Email``, ``ChuHoSo`` → contact (sealed). The
iGate "NoiHoSo" record (§1.8) keeps the applicant in ``ThongTinNguoiNop.ThongTinChiTiet``
(``SoDienThoai``, ``Email``, ``TenChuHs``/``TenNguoiNop``, ``SoDinhDanhChuHs``/``SoDinhDanh``,
``DiaChiChiTietChuHs``/``DiaChiChiTiet``): read when the top-level fields are empty.
Every value read must be text or a number; an object, a list or true/false is refused
naming the field (``{"MaHoSo": {"$gt": ""}}`` is not a dossier number).

Only ``TrangThaiHoSo`` 10 (result handed over, ``NgayTra`` set) is a completed dossier;
9 counts only for an online dossier whose result is delivered electronically (not by
post). Every other status is acknowledged and ignored (:class:`NotCompleted`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from sipas_intake.domain.dates import DateFormatError, parse_local_datetime
from sipas_intake.domain.dossiers import DossierRecord, NotCompleted
from sipas_intake.domain.errors import (
    DossierRejectedError,
    Problem,
    problem,
    problems_from_validation,
    raise_if,
)

STATUS_NAMES = {
    "1": "Mới đăng ký",
    "2": "Được tiếp nhận",
    "3": "Không được tiếp nhận",
    "4": "Đang xử lý",
    "5": "Yêu cầu bổ sung giấy tờ",
    "6": "Yêu cầu thực hiện nghĩa vụ tài chính",
    "7": "Công dân yêu cầu rút hồ sơ",
    "8": "Dừng xử lý",
    "9": "Đã xử lý xong",
    "10": "Đã trả kết quả",
}
_STATUS_WORDS = {  # DVCQG status words (reverse feed)
    "receiving": "1",
    "new": "2",
    "denied": "3",
    "processing": "4",
    "waiting": "5",
    "paying": "6",
    "cancelled": "7",
    "unresolved": "8",
    "releasing": "9",
    "done": "10",
}
_KINDS = {
    "1": "individual",
    "công dân": "individual",
    "cá nhân": "individual",
    "2": "organisation",
    "3": "organisation",
    "4": "organisation",
    "doanh nghiệp": "organisation",
    "tổ chức": "organisation",
    "tổ chức nhà nước": "organisation",
    "cơ quan nhà nước": "organisation",
    "khác": "organisation",
}
_CHANNELS = {"1": "direct", "2": "online", "3": "postal"}
_DELIVERY = {"0": "counter", "1": "postal"}
SOURCE_FIELDS = {
    "dossier_id": "MaHoSo",
    "unit": "DonViXuLy",
    "agency_code": "MaHoSo",
    "procedure_code": "MaTTHC",
    "procedure_name": "TenTTHC",
    "procedure_field": "MaLinhVuc",
    "applicant_id": "SoGiayToChuHoSo",
    "received_at": "NgayTiepNhan",
    "due_at": "NgayHenTra",
    "processed_at": "NgayKetThucXuLy",
    "delivered_at": "NgayTra",
    "contact.phone": "SoDienThoai",
    "contact.email": "Email",
    "contact.name": "ChuHoSo",
    "contact.address": "DiaChi",
}


_SCALARS = (
    "MaHoSo", "TrangThaiHoSo", "KenhThucHien", "HinhThuc", "LoaiDoiTuong", "DonViXuLy",
    "MaDinhDanh", "DonViId", "MaDonVi", "MaDonViTiepNhan", "MaTTHC", "TenTTHC", "MaLinhVuc",
    "TenLinhVuc", "SoGiayToChuHoSo", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy",
    "NgayTra", "SoDienThoai", "SoDienThoaiChuHoSo", "Email", "EmailChuHoSo", "ChuHoSo",
    "DiaChi", "DiaChiChuHoSo",
)  # fmt: skip
_APPLICANT = "ThongTinNguoiNop"
_DETAIL = "ThongTinChiTiet"
_DETAIL_SCALARS = (
    "TenNguoiNop", "TenChuHs", "SoDinhDanh", "SoDinhDanhChuHs", "SoDienThoai", "Email",
    "DiaChiChiTiet", "DiaChiChiTietChuHs",
)  # fmt: skip


def _not_scalar(value: object) -> str | None:
    """What a value is when it is not text or a number (None when it is)."""
    if value is None or (isinstance(value, (str, int, float)) and not isinstance(value, bool)):
        return None
    return {dict: "an object", list: "a list", bool: "true/false"}.get(type(value), "a value")


def _type_errors(raw: Mapping[str, Any]) -> list[Problem]:
    fields = [(name, raw.get(name)) for name in _SCALARS]
    applicant = raw.get(_APPLICANT)
    if applicant is not None:
        detail = applicant.get(_DETAIL) if isinstance(applicant, Mapping) else None
        if not isinstance(applicant, Mapping) or not isinstance(detail, Mapping | None):
            return [problem(_APPLICANT, "must be an object with ThongTinChiTiet (the applicant)")]
        fields.append((f"{_APPLICANT}.LoaiDoiTuong", applicant.get("LoaiDoiTuong")))
        prefix = f"{_APPLICANT}.{_DETAIL}."
        fields += [(prefix + name, (detail or {}).get(name)) for name in _DETAIL_SCALARS]
    return [
        problem(name, f"must be text or a number, not {kind}")
        for name, value in fields
        if (kind := _not_scalar(value)) is not None
    ]


def _applicant(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """The iGate applicant block (empty when the record has none)."""
    applicant = raw.get(_APPLICANT)
    detail = applicant.get(_DETAIL) if isinstance(applicant, Mapping) else None
    return detail if isinstance(detail, Mapping) else {}


def _text(raw: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = raw.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


def _word(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).casefold().split())


def _code(
    raw: Mapping[str, Any], name: str, table: Mapping[str, str], errors: list[Problem]
) -> str:
    value = _text(raw, name)
    found = table.get(_word(value))
    if found is None:
        reason = f"{value[:40]!r} is not one of {', '.join(sorted(set(table)))}" if value else ""
        errors.append(problem(name, reason or "required", "invalid" if value else "missing"))
        return ""
    return found


def _status(raw: Mapping[str, Any], errors: list[Problem]) -> str:
    value = _text(raw, "TrangThaiHoSo")
    code = _STATUS_WORDS.get(_word(value), value)
    if code not in STATUS_NAMES:
        reason = f"{value[:20]!r} is not a TrangThaiHoSo code (1-10)" if value else "required"
        errors.append(problem("TrangThaiHoSo", reason, "invalid" if value else "missing"))
    return code


def _date(raw: Mapping[str, Any], name: str, errors: list[Problem]) -> str | None:
    try:
        value = parse_local_datetime(raw.get(name))
    except DateFormatError as exc:
        errors.append(problem(name, str(exc)))
        return None
    return value.isoformat() if value else None


def _applicant_id(raw: Mapping[str, Any]) -> str | None:
    number = _text(raw, "SoGiayToChuHoSo") or _text(
        _applicant(raw), "SoDinhDanhChuHs", "SoDinhDanh"
    )
    identifiers = raw.get("DinhDanhCHS")
    if not number and isinstance(identifiers, list):
        for entry in identifiers:
            if isinstance(entry, Mapping) and _text(entry, "SoDinhDanh") not in {"", "000000001"}:
                return _text(entry, "SoDinhDanh")
    return number or None


def _agency_code(dossier_id: str, raw: Mapping[str, Any]) -> str | None:
    explicit = _text(raw, "MaDinhDanh", "DonViId", "MaDonVi", "MaDonViTiepNhan")
    prefix = dossier_id.split("-", 1)[0] if "-" in dossier_id else ""
    return explicit or prefix or None


def from_hoso(raw: Mapping[str, Any]) -> DossierRecord | NotCompleted:
    """Read one ``HoSo`` object (string or integer codes); raises with HoSo field names."""
    raise_if(_type_errors(raw), DossierRejectedError)
    errors: list[Problem] = []
    dossier_id = _text(raw, "MaHoSo")
    if not dossier_id:
        errors.append(problem("MaHoSo", "required", "missing"))
    status = _status(raw, errors)
    channel = _code(raw, "KenhThucHien", _CHANNELS, errors)
    delivery = _DELIVERY.get(_text(raw, "HinhThuc"), "counter")
    electronic = status == "9" and channel == "online" and delivery != "postal"
    if dossier_id and status in STATUS_NAMES and status != "10" and not electronic:
        return NotCompleted(dossier_id, f"TrangThaiHoSo {status} ({STATUS_NAMES[status]})")
    dates = {
        name: _date(raw, name, errors)
        for name in ("NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra")
    }
    delivered = dates["NgayTra"]
    if electronic:
        delivery, delivered = "electronic", delivered or dates["NgayKetThucXuLy"]
    if delivered is None and not any(e["field"] == "NgayTra" for e in errors):
        errors.append(problem("NgayTra", "required for a completed dossier", "missing"))
    kind = _code(_with_applicant_kind(raw), "LoaiDoiTuong", _KINDS, errors)
    raise_if(errors, DossierRejectedError)
    document = {
        "dossier_id": dossier_id,
        "unit": _text(raw, "DonViXuLy") or None,
        "agency_code": _agency_code(dossier_id, raw),
        "procedure_code": _text(raw, "MaTTHC"),
        "procedure_name": _text(raw, "TenTTHC")[:500] or None,
        "procedure_field": _text(raw, "MaLinhVuc", "TenLinhVuc")[:128] or None,
        "applicant_kind": kind,
        "applicant_id": _applicant_id(raw),
        "submission_channel": channel,
        "result_delivery": delivery,
        "received_at": dates["NgayTiepNhan"],
        "due_at": dates["NgayHenTra"],
        "processed_at": dates["NgayKetThucXuLy"],
        "delivered_at": delivered,
    }
    return _validated(document, raw)


def _with_applicant_kind(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    applicant = raw.get(_APPLICANT)
    if _text(raw, "LoaiDoiTuong") or not isinstance(applicant, Mapping):
        return raw
    return {**raw, "LoaiDoiTuong": applicant.get("LoaiDoiTuong")}


def _validated(document: dict[str, Any], raw: Mapping[str, Any]) -> DossierRecord:
    detail = _applicant(raw)
    contact = {
        "phone": _text(raw, "SoDienThoai", "SoDienThoaiChuHoSo") or _text(detail, "SoDienThoai"),
        "email": _text(raw, "Email", "EmailChuHoSo") or _text(detail, "Email"),
        "name": _text(raw, "ChuHoSo") or _text(detail, "TenChuHs", "TenNguoiNop"),
        "address": _text(raw, "DiaChi", "DiaChiChuHoSo")
        or _text(detail, "DiaChiChiTietChuHs", "DiaChiChiTiet"),
    }
    document["contact"] = {k: v for k, v in contact.items() if v}
    try:
        return DossierRecord.model_validate({k: v for k, v in document.items() if v is not None})
    except ValidationError as exc:
        raise DossierRejectedError(problems_from_validation(exc, rename=SOURCE_FIELDS)) from None
