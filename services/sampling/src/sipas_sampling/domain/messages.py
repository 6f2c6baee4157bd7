"""Invitation texts: Vietnamese first (English available), with link, unit and officer.

As in Đồng Nai's practice, the officer who handled the dossier may be named.

The default wording comes from the message catalogue (``sipas_sampling.wording``); a
campaign's own templates replace it. SMS texts are rendered from a short template; the SMS
adapter strips diacritics and checks the GSM-7 length.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from string import Formatter

from sipas_sampling.domain.outreach import Templates

PLACEHOLDERS = frozenset({"unit", "link", "dossier", "officer_clause"})


@dataclass(frozen=True)
class Wording:
    """The default texts in one language (``str.format`` placeholders)."""

    text: str
    sms: str
    subject: str
    officer: str
    reminder: str


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
    wording: Wording,
    *,
    unit: str,
    link: str,
    dossier: str,
    officer: str | None,
    reminder: bool = False,
) -> Rendered:
    """Render an invitation (or a reminder) for every channel, in ``wording``'s language."""
    officer_clause = (
        wording.officer.format(officer=officer) if officer and templates.include_officer else ""
    )
    values = {"unit": unit, "link": link, "dossier": dossier, "officer_clause": officer_clause}
    prefix = wording.reminder if reminder else ""
    text = prefix + (templates.text or wording.text).format(**values)
    sms = (templates.sms or wording.sms).format(**{**values, "officer_clause": ""})
    subject = prefix + (templates.email_subject or wording.subject).format(**values)
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
