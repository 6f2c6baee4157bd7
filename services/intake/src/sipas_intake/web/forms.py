"""What the survey and kiosk pages share: reading a posted form, localised field errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from sipas_contracts.events import ResponseRecorded
from sipas_contracts.ids import uuid7
from sipas_contracts.instrument import Catalogue
from sipas_intake.domain.errors import Problem, ResponseRejectedError
from sipas_intake.domain.responses import ResponseContext, build_response, parse_form_answers
from sipas_intake.web.i18n import Lang, translate
from sipas_runtime.pages import SECURITY_HEADERS

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


def event_or_errors(
    fields: dict[str, str],
    *,
    catalogue: Catalogue,
    items: tuple[str, ...],
    lang: Lang,
    context: Callable[[], ResponseContext],
    sealed_callback: Callable[[], str | None] = lambda: None,
) -> ResponseRecorded | PageErrors:
    """The response a posted form describes, or every problem to show on the form again.

    ``context`` and ``sealed_callback`` read further fields and may raise
    :class:`ResponseRejectedError`; their problems are shown with the answers' problems.
    """
    answers, problems = parse_form_answers(fields, items, catalogue)
    parts: list[object] = []
    for part in (context, sealed_callback):
        try:
            parts.append(part())
        except ResponseRejectedError as exc:
            problems += exc.errors
            parts.append(None)
    event = None
    if isinstance(parts[0], ResponseContext):
        try:
            event = build_response(
                parts[0],
                answers,
                catalogue=catalogue,
                allowed=items,
                comment=fields.get("comment"),
                sealed_callback=parts[1] if isinstance(parts[1], str) else None,
                response_id=uuid7(),
                now=datetime.now(UTC),
            )
        except ResponseRejectedError as exc:
            problems += exc.errors
    if problems or event is None:
        labels = {i: getattr(catalogue.items[i], lang) for i in items}
        return localise(problems, lang, labels)
    return event


def continue_with_cookie(
    location: str, *, name: str, value: str, max_age: int, path: str, secure: bool
) -> Response:
    """Redirect (303) to ``location``, keeping ``value`` in a strict HttpOnly cookie."""
    response = RedirectResponse(location, status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(
        name, value, max_age=max_age, path=path, secure=secure, httponly=True, samesite="strict"
    )
    return response
