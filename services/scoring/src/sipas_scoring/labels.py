"""User-facing words of scoring's tables, exports and reports, from the message catalogue.

English message ids marked with ``_`` (the Vietnamese is in
``sipas_scoring/locale/vi/LC_MESSAGES/messages.po``); :func:`label` looks a key up,
:func:`note` gives a note in both languages (tables carry both, so a frozen snapshot
reads the same in either).
"""

from __future__ import annotations

from sipas_runtime.i18n import Catalogue, Lang, _

CATALOGUE = Catalogue.of("sipas_scoring")

_LABELS: dict[str, str] = {
    "tier.province": _("Province"),
    "tier.district": _("Districts"),
    "tier.commune": _("Communes, wards and towns"),
    "tier.department": _("Departments"),
    "tier.unknown": _("Not in the unit list"),
    "kind.individual": _("Individuals"),
    "kind.organisation": _("Organisations"),
    "kind.all": _("Combined"),
    "mode.online": _("Online"),
    "mode.kiosk": _("Kiosk at the one-stop shop"),
    "mode.face_to_face": _("Face to face"),
    "mode.phone": _("Phone"),
    "mode.paper": _("Paper form"),
    "channel.sms": _("SMS"),
    "channel.zalo": _("Zalo"),
    "channel.email": _("E-mail"),
    "channel.counter": _("QR code at the counter"),
    "channel.enumerator": _("Enumerator"),
    "submission.direct": _("In person"),
    "submission.online": _("Online submission"),
    "submission.postal": _("By post"),
    "insufficient": _("insufficient data"),
    "state.draft": _("Draft"),
    "state.approved": _("Approved"),
    "state.published": _("Published"),
    "state.superseded": _("Superseded"),
    "state.withdrawn": _("Withdrawn"),
    "state.preview": _("Preview — not published"),
    "method.share_positive": _("Share of Satisfied/Very satisfied among valid answers"),
    "method.mean_score": _("Mean score rescaled: 100 × (mean − 1) / 4"),
}


def text(lang: Lang, message: str, **params: object) -> str:
    """A catalogue message in ``lang``."""
    return CATALOGUE.gettext(lang, message, **params)


def label(key: str, lang: Lang = "vi") -> str:
    """The text for ``key`` in ``lang`` (the key's last part when unknown)."""
    message = _LABELS.get(key)
    if message is None:
        return key.split(".", 1)[-1]
    return text(lang, message)


def period_label(period: str, months: list[str], lang: Lang = "vi") -> str:
    """A period in words: ``Tháng 11/2026``, ``Quý 4/2026``, ``Năm 2026`` or the campaign."""

    def month(bucket: str) -> str:
        return f"{bucket[5:7]}/{bucket[:4]}"

    if period == "campaign":
        if not months:
            return text(lang, _("Whole campaign"))
        first, last = month(months[0]), month(months[-1])
        return text(lang, _("Whole campaign (%(first)s – %(last)s)"), first=first, last=last)
    if "-Q" in period:
        year, quarter = period.split("-Q")
        return text(lang, _("Quarter %(quarter)s/%(year)s"), quarter=quarter, year=year)
    if "-" in period:
        return text(lang, _("Month %(month)s"), month=month(period))
    return text(lang, _("Year %(year)s"), year=period)


def note(message: str, **params: object) -> dict[str, str]:
    """A note shown under a table, in both languages."""
    return {"vi": text("vi", message, **params), "en": text("en", message, **params)}
