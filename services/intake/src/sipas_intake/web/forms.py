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
from sipas_runtime.i18n import Lang, _
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

    summary: list[tuple[str, str]] = field(default_factory=list)
    by_field: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, anchor: str, text: str, summary: str | None = None) -> None:
        """One field's message (the first one for a field wins); ``summary`` if it differs."""
        if key not in self.by_field:
            self.by_field[key] = text
            self.summary.append((anchor, summary or text))


ANSWER_INVALID = _("This answer is not valid.")
FIELD_MESSAGES = {
    "answers": _("You have not answered any question."),
    "comment": _("The comment is too long (at most 2000 characters)."),
    "callback_phone": _("This phone number is not valid."),
    "callback_email": _("This e-mail address is not valid."),
    "callback_missing": _("Give a phone number or an e-mail so that we can contact you."),
    "applicant_kind": _("Please say whether you are an individual or represent an organisation."),
}


def localise(
    problems: list[Problem], text: Callable[[str], str], labels: dict[str, str]
) -> PageErrors:
    """Respondent-friendly messages for domain problems (``labels``: item id → question)."""
    errors = PageErrors()
    for p in problems:
        name = p["field"]
        if name.startswith("answers."):
            item = name.removeprefix("answers.")
            message = text(ANSWER_INVALID)
            errors.add(item, f"q-{item}", message, f"{labels.get(item, item)}: {message}")
        elif name in {"callback_phone", "callback_email"} and p["code"] == "missing":
            errors.add(name, name, text(FIELD_MESSAGES["callback_missing"]))
        elif name in FIELD_MESSAGES:
            anchor = {"answers": "main", "applicant_kind": "q-applicant_kind"}.get(name, name)
            errors.add(name, anchor, text(FIELD_MESSAGES[name]))
        else:
            errors.add(name, "main", p["reason"])
    return errors


def event_or_errors(
    fields: dict[str, str],
    *,
    catalogue: Catalogue,
    items: tuple[str, ...],
    text: Callable[[str], str],
    lang: Lang,
    context: Callable[[], ResponseContext],
    seal_comment: Callable[[str], str],
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
                seal_comment=seal_comment,
                sealed_callback=parts[1] if isinstance(parts[1], str) else None,
                response_id=uuid7(),
                now=datetime.now(UTC),
            )
        except ResponseRejectedError as exc:
            problems += exc.errors
    if problems or event is None:
        labels = {i: getattr(catalogue.items[i], lang) for i in items}
        return localise(problems, text, labels)
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
