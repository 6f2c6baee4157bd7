"""The survey form in steps: which questions each screen shows, and the answers kept between.

A questionnaire is cut into screens a phone shows in at most two heights: a start screen
(who is asking, anonymity, how resuming works), the perception questions together, then
one screen per element of the satisfaction part (an element or a
question with more than :data:`MAX_ITEMS_PER_STEP` items is split evenly), then the
comment and call-back screen, then a review before sending. Numbering depends only on the
form's structure, so it is the same in every language.

A :class:`Draft` holds what the respondent entered so far (raw form codes, validated when
the response is built) and the step to resume at. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sipas_contracts.instrument import Catalogue
from sipas_intake.domain.errors import Problem, ResponseRejectedError
from sipas_intake.domain.responses import callback_contact, clean_comment, parse_form_answers
from sipas_intake.questionnaire import Group, Questionnaire

MAX_ITEMS_PER_STEP = 3
StepKind = Literal["intro", "questions", "comment", "review"]


class Step(BaseModel):
    """One screen of the form."""

    model_config = ConfigDict(frozen=True)

    number: int = Field(description="1-based position")
    kind: StepKind
    section: str | None = None
    title: str | None = None
    part: int = 1
    parts: int = 1
    groups: tuple[Group, ...] = ()

    def item_ids(self) -> list[str]:
        """The items this screen asks, in order."""
        return [i.id for g in self.groups for i in g.items]


def _chunks(count: int, most: int) -> list[int]:
    """Sizes of ``ceil(count / most)`` nearly equal chunks (larger ones first)."""
    pieces = -(-count // most)
    return [count // pieces + (1 if i < count % pieces else 0) for i in range(pieces)]


def _buckets(questionnaire: Questionnaire) -> Iterator[tuple[str, str, list[Group]]]:
    """(section id, title, groups) per screen-to-be: singles together, headed groups alone."""
    for section in questionnaire.sections:
        singles: list[Group] = []
        for group in section.groups:
            if group.heading is None:
                singles.append(group)
                continue
            if singles:
                yield section.id, section.title, singles
                singles = []
            yield section.id, group.heading, [group]
        if singles:
            yield section.id, section.title, singles


def _split(groups: list[Group]) -> list[tuple[Group, ...]]:
    """The groups of one bucket cut into screens of at most MAX_ITEMS_PER_STEP items."""
    items = [(g.heading, i) for g in groups for i in g.items]
    screens: list[tuple[Group, ...]] = []
    start = 0
    for size in _chunks(len(items), MAX_ITEMS_PER_STEP):
        screen: list[Group] = []
        for heading, item in items[start : start + size]:
            if screen and screen[-1].heading == heading and heading is not None:
                screen[-1].items.append(item)
            else:
                screen.append(Group(heading=heading, items=[item]))
        screens.append(tuple(screen))
        start += size
    return screens


def paginate(questionnaire: Questionnaire) -> list[Step]:
    """Every screen: start, questions, then comment and call-back, then review."""
    steps = [Step(number=1, kind="intro", title=questionnaire.title)]
    for section_id, title, groups in _buckets(questionnaire):
        screens = _split(groups)
        for part, screen in enumerate(screens, start=1):
            steps.append(
                Step(
                    number=len(steps) + 1,
                    kind="questions",
                    section=section_id,
                    title=title,
                    part=part,
                    parts=len(screens),
                    groups=screen,
                )
            )
    steps.append(Step(number=len(steps) + 1, kind="comment"))
    steps.append(Step(number=len(steps) + 1, kind="review"))
    return steps


class Draft(BaseModel):
    """What a respondent entered so far, kept against the token until the response is sent."""

    model_config = ConfigDict(extra="ignore")

    answers: dict[str, str] = Field(default_factory=dict, description="item id → posted code")
    comment: str = ""
    callback: bool = False
    callback_phone: str = ""
    callback_email: str = ""
    step: int = Field(default=1, ge=1, description="the screen to resume at")

    def fields(self) -> dict[str, str]:
        """The draft as the fields of one whole posted form (what the response is built from)."""
        fields = {f"a.{item}": code for item, code in self.answers.items()}
        fields |= {"comment": self.comment}
        if self.callback:
            fields |= {
                "callback": "yes",
                "callback_phone": self.callback_phone,
                "callback_email": self.callback_email,
            }
        return fields

    def answered(self, step: Step) -> int:
        """How many of a screen's questions have an answer."""
        return sum(1 for item in step.item_ids() if self.answers.get(item))


def merge(draft: Draft, step: Step, posted: Mapping[str, str]) -> Draft:
    """The draft with one screen's posted fields in place of what it held for that screen.

    A question left blank on the screen is dropped (the respondent cleared it); answers of
    other screens are kept as they were.
    """
    if step.kind == "questions":
        mine = set(step.item_ids())
        answers = {k: v for k, v in draft.answers.items() if k not in mine}
        for item in step.item_ids():
            code = (posted.get(f"a.{item}") or "").strip()
            if code:
                answers[item] = code
        return draft.model_copy(update={"answers": answers})
    if step.kind == "comment":
        return draft.model_copy(
            update={
                "comment": posted.get("comment", ""),
                "callback": posted.get("callback") == "yes",
                "callback_phone": (posted.get("callback_phone") or "").strip(),
                "callback_email": (posted.get("callback_email") or "").strip(),
            }
        )
    return draft


def step_at(steps: Sequence[Step], number: int | str | None) -> Step:
    """The screen numbered ``number`` (the first one for anything that is not a step)."""
    try:
        wanted = int(number or 1)
    except ValueError:
        wanted = 1
    return steps[min(max(wanted, 1), len(steps)) - 1]


def check(step: Step, posted: Mapping[str, str], catalogue: Catalogue) -> list[Problem]:
    """What is wrong with one screen's posted fields (blank answers are fine)."""
    if step.kind == "questions":
        return parse_form_answers(posted, step.item_ids(), catalogue)[1]
    if step.kind != "comment":
        return []
    checks: list[Callable[[], object]] = [lambda: clean_comment(posted.get("comment"))]
    if posted.get("callback") == "yes":
        checks.append(
            lambda: callback_contact(posted.get("callback_phone"), posted.get("callback_email"))
        )
    problems: list[Problem] = []
    for run in checks:
        try:
            run()
        except ResponseRejectedError as exc:
            problems += exc.errors
    return problems
