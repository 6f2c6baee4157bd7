"""User-facing words of scoring's tables, exports and reports: Vietnamese first, English too."""

from __future__ import annotations

from typing import Literal

Lang = Literal["vi", "en"]

_LABELS: dict[str, tuple[str, str]] = {
    "tier.province": ("Tỉnh", "Province"),
    "tier.district": ("Cấp huyện", "Districts"),
    "tier.commune": ("Cấp xã (xã, phường, thị trấn)", "Communes, wards and towns"),
    "tier.department": ("Sở, ban, ngành", "Departments"),
    "tier.unknown": ("Chưa có trong danh mục đơn vị", "Not in the unit list"),
    "kind.individual": ("Cá nhân", "Individuals"),
    "kind.organisation": ("Tổ chức", "Organisations"),
    "kind.all": ("Chung", "Combined"),
    "mode.online": ("Trực tuyến", "Online"),
    "mode.kiosk": ("Kiosk tại bộ phận một cửa", "Kiosk at the one-stop shop"),
    "mode.face_to_face": ("Phỏng vấn trực tiếp", "Face to face"),
    "mode.phone": ("Điện thoại", "Phone"),
    "mode.paper": ("Phiếu giấy", "Paper form"),
    "channel.sms": ("Tin nhắn SMS", "SMS"),
    "channel.zalo": ("Zalo", "Zalo"),
    "channel.email": ("Thư điện tử", "E-mail"),
    "channel.counter": ("Mã QR tại quầy", "QR code at the counter"),
    "channel.enumerator": ("Điều tra viên", "Enumerator"),
    "submission.direct": ("Nộp trực tiếp", "In person"),
    "submission.online": ("Nộp trực tuyến", "Online"),
    "submission.postal": ("Qua bưu chính", "By post"),
    "insufficient": ("không đủ dữ liệu", "insufficient data"),
    "state.draft": ("Dự thảo", "Draft"),
    "state.approved": ("Đã phê duyệt", "Approved"),
    "state.published": ("Đã công bố", "Published"),
    "state.superseded": ("Đã được thay thế", "Superseded"),
    "state.withdrawn": ("Đã rút", "Withdrawn"),
    "state.preview": ("Bản xem trước — không phải số liệu công bố", "Preview — not published"),
    "method.share_positive": (
        "Tỷ lệ câu trả lời Hài lòng/Rất hài lòng trên tổng số câu trả lời hợp lệ",
        "Share of Satisfied/Very satisfied among valid answers",
    ),
    "method.mean_score": (
        "Điểm trung bình quy đổi: 100 × (điểm trung bình − 1) / 4",
        "Mean score rescaled: 100 × (mean − 1) / 4",
    ),
}


def label(key: str, lang: Lang = "vi") -> str:
    """The text for ``key`` in ``lang`` (the key itself when unknown)."""
    pair = _LABELS.get(key)
    if pair is None:
        return key.split(".", 1)[-1]
    return pair[0] if lang == "vi" else pair[1]


def period_label(period: str, months: list[str], lang: Lang = "vi") -> str:
    """A period in words: ``Tháng 11/2026``, ``Quý 4/2026``, ``Năm 2026`` or the campaign."""

    def month(bucket: str) -> str:
        return f"{bucket[5:7]}/{bucket[:4]}"

    if period == "campaign":
        span = f" ({month(months[0])} – {month(months[-1])})" if months else ""
        return ("Toàn đợt khảo sát" if lang == "vi" else "Whole campaign") + span
    if "-Q" in period:
        year, quarter = period.split("-Q")
        return f"Quý {quarter}/{year}" if lang == "vi" else f"Q{quarter} {year}"
    if "-" in period:
        return ("Tháng " if lang == "vi" else "Month ") + month(period)
    return ("Năm " if lang == "vi" else "Year ") + period


def note(vi: str, en: str) -> dict[str, str]:
    """A note shown under a table, in both languages."""
    return {"vi": vi, "en": en}
