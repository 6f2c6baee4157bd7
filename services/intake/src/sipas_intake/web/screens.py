"""What each screen of the survey shows: its template, heading, values and the review."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from sipas_intake.questionnaire import QuestionItem, Questionnaire, for_instrument
from sipas_intake.steps import Draft, Step, paginate
from sipas_runtime.i18n import Lang, _

Text = Callable[..., str]
"""A message in the page's language: ``text(message, **params)``."""

TEMPLATES = {
    "intro": "step_intro.html",
    "questions": "step_questions.html",
    "comment": "step_comment.html",
    "review": "step_review.html",
}
HEADINGS = {
    "comment": _("Other comments and call back"),
    "review": _("Check your answers before sending"),
}
PART = _("%(title)s (part %(part)s of %(parts)s)")
ANSWERED = _("%(answered)s of %(count)s answered")
NOT_ANSWERED = _("Not answered")
COMMENT = _("Other comments (optional)")
CALLBACK = _("Call back (optional)")
NONE = _("None")
NO_CALLBACK = _("No call back")


@cache
def form_of(instrument_id: str, profile: str, lang: Lang) -> tuple[Questionnaire, list[Step]]:
    """A campaign's questionnaire in ``lang`` and its screens (built once)."""
    questionnaire = for_instrument(instrument_id, profile, lang)
    return questionnaire, paginate(questionnaire)


def heading(step: Step, text: Text) -> str:
    """The screen's title (a split element says which part it is)."""
    if step.kind in HEADINGS:
        return text(HEADINGS[step.kind])
    title = step.title or ""
    if step.parts > 1:
        return text(PART, title=title, part=step.part, parts=step.parts)
    return title


@dataclass(frozen=True)
class ReviewPart:
    """One screen as the review shows it: what was answered, with a link back to it."""

    number: int
    title: str
    status: str
    rows: list[tuple[str, str]]


def _label(item: QuestionItem, code: str | None, text: Text) -> str:
    for option in item.options:
        if option.code == code:
            return option.label
    return text(NOT_ANSWERED)


def _comment_rows(draft: Draft, text: Text) -> list[tuple[str, str]]:
    contact = ", ".join(c for c in (draft.callback_phone, draft.callback_email) if c)
    return [
        (text(COMMENT), draft.comment or text(NONE)),
        (text(CALLBACK), contact if draft.callback else text(NO_CALLBACK)),
    ]


def _first_part(steps: list[Step], step: Step) -> Step:
    """The first screen of the element (or question part) a split screen belongs to."""
    return steps[step.number - step.part]


def review(steps: list[Step], draft: Draft, text: Text) -> list[ReviewPart]:
    """One part per element (its screens together) and the comment, with the draft's answers."""
    parts: list[ReviewPart] = []
    for step in steps:
        if step.kind == "comment":
            rows = _comment_rows(draft, text)
            parts.append(ReviewPart(step.number, heading(step, text), "", rows))
        if step.kind != "questions" or step.part > 1:
            continue
        screens = steps[step.number - 1 : step.number - 1 + step.parts]
        items = [i for s in screens for g in s.groups for i in g.items]
        rows = [(i.text, _label(i, draft.answers.get(i.id), text)) for i in items]
        answered = sum(draft.answered(s) for s in screens)
        status = text(ANSWERED, answered=answered, count=len(items))
        parts.append(ReviewPart(step.number, step.title or "", status, rows))
    return parts


def review_anchor(steps: list[Step], anchor: str) -> str:
    """Where an error found at sending points on the review: the part holding its field."""
    for step in steps:
        if step.kind == "questions" and anchor.removeprefix("q-") in step.item_ids():
            return f"review-{_first_part(steps, step).number}"
        if step.kind == "comment" and anchor.startswith(("comment", "callback")):
            return f"review-{step.number}"
    return f"review-{next(s.number for s in steps if s.kind == 'questions')}"


def context(
    questionnaire: Questionnaire, steps: list[Step], step: Step, draft: Draft, text: Text
) -> dict[str, object]:
    """The template variables of one screen (errors and the session's are added by routes)."""
    answered = sum(draft.answered(s) for s in steps)
    return {
        "q": questionnaire,
        "step": step,
        "total": len(steps),
        "heading": heading(step, text),
        "values": draft.answers,
        "draft": draft,
        "review": review(steps, draft, text) if step.kind == "review" else [],
        "answered": answered,
        "count": len(questionnaire.item_ids()),
    }
