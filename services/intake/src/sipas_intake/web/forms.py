"""What the survey and kiosk pages share: reading a posted form, localised field errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from fastapi import Request

from sipas_intake.domain.errors import Problem
from sipas_intake.web.i18n import Lang, translate

MAX_FIELDS = 300


async def posted_fields(request: Request) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` body (first value wins)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    fields: dict[str, str] = {}
    try:
        pairs = parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        return {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


@dataclass
class PageErrors:
    """Errors to show on a re-rendered form: a summary and one message per field."""

    summary: list[dict[str, str]] = field(default_factory=list)
    by_field: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, anchor: str, text: str) -> None:
        """One field's message (the first one for a field wins)."""
        if key not in self.by_field:
            self.by_field[key] = text
            self.summary.append({"anchor": anchor, "text": text})


def localise(problems: list[Problem], lang: Lang, labels: dict[str, str]) -> PageErrors:
    """Respondent-friendly messages for domain problems (``labels``: item id → text)."""
    errors = PageErrors()
    for p in problems:
        name = p["field"]
        if name.startswith("answers."):
            item = name.removeprefix("answers.")
            text = f"{labels.get(item, item)}: {translate('error_answer', lang)}"
            errors.add(item, f"q-{item}", text)
        elif name == "answers":
            errors.add("answers", "main", translate("error_no_answer", lang))
        elif name == "comment":
            errors.add("comment", "comment", translate("error_comment", lang))
        elif name in {"callback_phone", "callback_email"}:
            key = "error_callback_missing" if p["code"] == "missing" else f"error_{name}"
            errors.add("callback", "q-callback", translate(key, lang))
        elif name == "applicant_kind":
            errors.add("applicant_kind", "q-applicant_kind", translate("error_kind", lang))
        else:
            errors.add(name, "main", p["reason"])
    return errors


def switch_url(path: str, lang: Lang) -> str:
    """The same page in the other language."""
    return f"{path}?lang=en" if lang == "vi" else f"{path}?lang=vi"
