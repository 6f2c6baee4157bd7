"""Invitation texts: Vietnamese first (English available), with link, unit and officer.

As in Đồng Nai's practice, the officer who handled the dossier may be named.

SMS texts are rendered from a short template; the SMS adapter strips diacritics and
checks the GSM-7 length (brandname CSKH templates are written without diacritics).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from string import Formatter

from sipas_sampling.domain.outreach import Templates

PLACEHOLDERS = frozenset({"unit", "link", "dossier", "officer_clause"})

DEFAULTS = {
    "vi": {
        "text": (
            "{unit} trân trọng mời Ông/Bà đánh giá mức độ hài lòng về việc giải quyết hồ sơ "
            "{dossier}{officer_clause}. Phiếu khảo sát ẩn danh, khoảng 3 phút: {link}"
        ),
        "sms": "{unit} moi Ong/Ba danh gia su hai long ve ho so {dossier}: {link}",
        "subject": "Mời đánh giá sự hài lòng — {unit}",
        "officer": " do cán bộ {officer} giải quyết",
        "reminder": "Nhắc lại: ",
    },
    "en": {
        "text": (
            "{unit} invites you to rate your satisfaction with the handling of dossier "
            "{dossier}{officer_clause}. Anonymous survey, about 3 minutes: {link}"
        ),
        "sms": "{unit} invites you to rate dossier {dossier}: {link}",
        "subject": "Please rate our service — {unit}",
        "officer": ", handled by {officer}",
        "reminder": "Reminder: ",
    },
}


class TemplateError(ValueError):
    """Raised when a campaign template uses an unknown placeholder or lacks the link."""


def check_template(name: str, template: str) -> None:
    """Reject templates with unknown placeholders or without ``{link}``."""
    fields = {f for _, f, _, _ in Formatter().parse(template) if f is not None}
    unknown = fields - PLACEHOLDERS
    if unknown:
        raise TemplateError(f"templates.{name}: unknown placeholder(s) {sorted(unknown)}")
    if name != "email_subject" and "link" not in fields:
        raise TemplateError(f"templates.{name}: must contain {{link}}")


@dataclass(frozen=True)
class Rendered:
    """One message in every form a channel may need."""

    text: str
    sms: str
    subject: str
    html: str
    params: dict[str, str]


def render(
    templates: Templates,
    *,
    unit: str,
    link: str,
    dossier: str,
    officer: str | None,
    reminder: bool = False,
) -> Rendered:
    """Render an invitation (or a reminder) for every channel."""
    words = DEFAULTS[templates.language]
    officer_clause = (
        words["officer"].format(officer=officer) if officer and templates.include_officer else ""
    )
    values = {"unit": unit, "link": link, "dossier": dossier, "officer_clause": officer_clause}
    prefix = words["reminder"] if reminder else ""
    text = prefix + (templates.text or words["text"]).format(**values)
    sms = (templates.sms or words["sms"]).format(**{**values, "officer_clause": ""})
    subject = prefix + (templates.email_subject or words["subject"]).format(**values)
    escaped = html.escape(text.replace(link, "\0")).replace(
        "\0", f'<a href="{html.escape(link, quote=True)}">{html.escape(link)}</a>'
    )
    body = f'<!doctype html><html lang="{templates.language}"><body><p>{escaped}</p></body></html>'
    params = {"unit": unit, "link": link, "dossier": dossier, "officer": officer or ""}
    return Rendered(text=text, sms=prefix + sms, subject=subject, html=body, params=params)


def zalo_data(templates: Templates, params: dict[str, str]) -> dict[str, str]:
    """``template_data`` for the campaign's ZNS template (keys as the template names them)."""
    zalo = templates.zalo
    if zalo is None:
        return {}
    data = {zalo.unit_param: params["unit"], zalo.link_param: params["link"]}
    if zalo.dossier_param:
        data[zalo.dossier_param] = params["dossier"]
    if zalo.officer_param and templates.include_officer:
        data[zalo.officer_param] = params["officer"]
    return data
