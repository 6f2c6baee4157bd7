"""The administrative parts of the report, laid out as Nghị định 30/2020/NĐ-CP asks.

- the issuing agency under its parent agency (upper case, the agency in bold) and the
  document number ``Số: 45/BC-SNV`` (blank until the report is issued);
- the national title (Quốc hiệu) and motto (Tiêu ngữ), then the place and date in words,
  ``Hà Tĩnh, ngày 07 tháng 12 năm 2026`` (days below 10 and the months January and
  February take a leading zero);
- the recipients (Nơi nhận) and the signature block: the signing authority
  (``KT. GIÁM ĐỐC``), the signer's title and name, from the approval.

Values come from the campaign's profile (frozen in the snapshot) and the publication's
history; what a profile leaves out is derived from the province's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sipas_runtime.i18n import Lang, _
from sipas_scoring.labels import text

VIETNAM = timezone(timedelta(hours=7))
MONTHS_EN = (
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
)  # fmt: skip
DEFAULT_RECIPIENTS = (
    _("Ministry of Home Affairs (for reporting);"),
    _("Provincial Party Committee and People's Council standing committees (for reporting);"),
    _("Chair and Vice-Chairs of the provincial People's Committee;"),
    _("Provincial Fatherland Front Committee and Veterans' Association;"),
    _("Departments, agencies and the People's Committees of communes and wards;"),
    _("Archive: clerical office, administrative reform division."),
)


def local_time(moment: datetime | str) -> datetime:
    """A moment in Vietnam's time (UTC+7)."""
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return value.astimezone(VIETNAM)


def clock(moment: datetime | str) -> str:
    """``07/12/2026 10:32`` in Vietnam's time."""
    return local_time(moment).strftime("%d/%m/%Y %H:%M")


def day_month_year(value: date | str) -> str:
    """``08/04/2026``."""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return day.strftime("%d/%m/%Y")


def dated(place: str, day: date | None, lang: Lang, *, year: int) -> str:
    """``Hà Tĩnh, ngày 07 tháng 12 năm 2026`` (day and month blank before issue)."""
    if lang == "en":
        return f"{place}, {day.day} {MONTHS_EN[day.month - 1]} {day.year}" if day else place
    if day is None:
        return f"{place}, ngày      tháng      năm {year}"
    month = f"{day.month:02d}" if day.month <= 2 else str(day.month)  # noqa: PLR2004 - NĐ 30
    return f"{place}, ngày {day.day:02d} tháng {month} năm {day.year}"


def place_of(province_name: str) -> str:
    """``Hà Tĩnh`` from ``Tỉnh Hà Tĩnh`` (``Thành phố Huế`` → ``Huế``)."""
    for prefix in ("Thành phố ", "Tỉnh "):
        if province_name.startswith(prefix):
            return province_name[len(prefix) :]
    return province_name


def number_line(number: str | None, code: str, lang: Lang) -> str:
    """``Số: 45/BC-SNV``; a bare number gets the symbol; blank before issue."""
    word = "Số" if lang == "vi" else "No."
    if not number:
        return f"{word}:        /BC-{code}"
    return f"{word}: {number}" if "/" in number else f"{word}: {number}/BC-{code}"


@dataclass(frozen=True)
class Signature:
    """Who signs: authority (``KT. GIÁM ĐỐC``), title (``PHÓ GIÁM ĐỐC``), name."""

    authority: str = ""
    title: str = ""
    name: str = ""


@dataclass(frozen=True)
class Heading:
    """Everything around the body of the report."""

    parent: str
    issuer: str
    number: str
    place_date: str
    recipients: list[str]
    signature: Signature


def _entry(history: list[Any], state: str) -> Any | None:  # noqa: ANN401 - a history entry
    found = [h for h in history if h.state == state]
    return found[-1] if found else None


def heading(
    profile: dict[str, Any], province_name: str, history: list[Any], *, lang: Lang, year: int
) -> Heading:
    """The report's heading from the frozen profile and the publication's history."""
    place = profile.get("place") or place_of(province_name)
    parent = profile.get("issuer_parent") or f"UBND {province_name}".upper()
    issuer = profile.get("issuer") or "SỞ NỘI VỤ"
    code = profile.get("issuer_code") or "SNV"
    published, approved = _entry(history, "published"), _entry(history, "approved")
    issued = local_time(published.at).date() if published else None
    recipients = profile.get("recipients") or [text(lang, r) for r in DEFAULT_RECIPIENTS]
    signature = Signature()
    if approved is not None:
        signature = Signature(
            authority=(approved.authority or "").upper(),
            title=(approved.title or "").upper(),
            name=approved.name or approved.actor,
        )
    return Heading(
        parent=parent.upper(),
        issuer=issuer.upper(),
        number=number_line(published.number if published else None, code, lang),
        place_date=dated(place, issued, lang, year=year),
        recipients=list(recipients),
        signature=signature,
    )
