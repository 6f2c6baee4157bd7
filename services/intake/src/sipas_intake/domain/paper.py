"""Rows of the coded paper-form workbook (the template intake exports) → responses.

One row per paper form. Fixed columns: ``so_phieu`` (the number written on the form,
unique per campaign and unit), ``campaign_id``, ``unit`` (code or name),
``applicant_kind`` (1 / cá nhân, 2 / tổ chức), optional ``collection_mode`` (paper by
default; face_to_face or phone for enumerators' forms) and ``interviewer_id``; then one
column per item id of the form profile (a code on the item's scale, ``na``, or blank for
not answered), then ``comment``. Every problem names the column; the importer adds the
row number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import cast

from sipas_contracts.events import Answer, ApplicantKind, CollectionMode
from sipas_contracts.ids import is_code
from sipas_contracts.instrument import Catalogue
from sipas_contracts.units import UnitHierarchy, UnitHierarchyError
from sipas_intake.domain.errors import (
    PaperRowError,
    Problem,
    ResponseRejectedError,
    problem,
    raise_if,
)
from sipas_intake.domain.responses import (
    NOT_APPLICABLE,
    ResponseContext,
    answer_problems,
    applicant_kind,
    clean_comment,
)

FIXED_COLUMNS = (
    "so_phieu",
    "campaign_id",
    "unit",
    "applicant_kind",
    "collection_mode",
    "interviewer_id",
)
COMMENT_COLUMN = "comment"
_FORM_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,31}$")
_MODES: tuple[CollectionMode, ...] = ("paper", "face_to_face", "phone")


def columns(items: Sequence[str]) -> tuple[str, ...]:
    """The template's columns for a form asking ``items``."""
    return (*FIXED_COLUMNS, *items, COMMENT_COLUMN)


@dataclass(frozen=True, slots=True)
class PaperForm:
    """One coded paper form, validated."""

    form_number: str
    context: ResponseContext
    answers: dict[str, Answer]
    comment: str | None

    @property
    def key(self) -> str:
        """What identifies the paper form: campaign, unit and the number written on it."""
        return f"{self.context.campaign_id}:{self.context.unit}:{self.form_number}"

    def content(self) -> str:
        """Canonical text of the form's content (re-imports are compared on it)."""
        ctx = self.context
        return json.dumps(
            [
                ctx.applicant_kind,
                ctx.collection_mode,
                ctx.interviewer_id,
                self.answers,
                self.comment,
            ],
            sort_keys=True,
            ensure_ascii=False,
        )


PREFILLED = frozenset({"campaign_id", "unit"})


def is_blank(row: Mapping[str, object]) -> bool:
    """A template row with nothing filled in beyond the pre-filled campaign and unit."""
    return all(name in PREFILLED or _cell(row, name) == "" for name in row)


def _cell(row: Mapping[str, object], name: str) -> str:
    value = row.get(name)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _answer(text: str, item_id: str, catalogue: Catalogue) -> Answer | Problem:
    if text.casefold() == NOT_APPLICABLE:
        return NOT_APPLICABLE
    scale = catalogue.scale_of(item_id)
    if text.isdecimal() and int(text) in scale.values:
        return int(text)
    allowed = ", ".join(str(c) for c in scale.values)
    return problem(item_id, f"{text[:20]!r} is not one of {allowed}, 'na' or blank")


def _answers(
    row: Mapping[str, object], items: Sequence[str], catalogue: Catalogue
) -> tuple[dict[str, Answer], list[Problem]]:
    answers: dict[str, Answer] = {}
    problems: list[Problem] = []
    for item_id in items:
        text = _cell(row, item_id)
        if not text:
            continue
        result = _answer(text, item_id, catalogue)
        if isinstance(result, dict):
            problems.append(result)
        else:
            answers[item_id] = result
    return answers, problems


def _unit(text: str, hierarchy: UnitHierarchy, on: date) -> tuple[str, list[Problem]]:
    if not text:
        return "", [problem("unit", "required", "missing")]
    try:
        return hierarchy.resolve(text, on), []
    except UnitHierarchyError as exc:
        return "", [problem("unit", str(exc), "unknown_unit")]


def _identity_problems(number: str, campaign: str, mode: str) -> list[Problem]:
    problems: list[Problem] = []
    if not _FORM_NUMBER.match(number):
        reason = "required" if not number else "use letters, digits and . _ / - (max 32)"
        problems.append(problem("so_phieu", reason, "missing" if not number else "invalid"))
    if not is_code(campaign):
        reason = "required" if not campaign else "is not a campaign id"
        problems.append(problem("campaign_id", reason, "missing" if not campaign else "invalid"))
    if mode not in _MODES:
        problems.append(problem("collection_mode", f"must be one of {', '.join(_MODES)}"))
    return problems


def parse_row(
    row: Mapping[str, object],
    *,
    catalogue: Catalogue,
    items: Sequence[str],
    hierarchy: UnitHierarchy,
    on: date,
) -> PaperForm:
    """Validate one row; raises :class:`PaperRowError` listing every problem in it."""
    number, campaign = _cell(row, "so_phieu"), _cell(row, "campaign_id")
    mode = _cell(row, "collection_mode") or "paper"
    problems = _identity_problems(number, campaign, mode)
    unit, unit_problems = _unit(_cell(row, "unit"), hierarchy, on)
    answers, answer_errors = _answers(row, items, catalogue)
    problems += unit_problems + answer_errors
    kind: ApplicantKind = "individual"
    comment = None
    try:
        kind = applicant_kind(_cell(row, "applicant_kind"))
    except ResponseRejectedError as exc:
        problems += exc.errors
    try:
        comment = clean_comment(_cell(row, COMMENT_COLUMN))
    except ResponseRejectedError as exc:
        problems += exc.errors
    if not answer_errors:
        problems += [
            p for p in answer_problems(answers, catalogue, items) if p["field"] == "answers"
        ]
    raise_if(problems, PaperRowError)
    interviewer = _cell(row, "interviewer_id")[:64] or None
    context = ResponseContext(
        campaign, unit, catalogue.id, cast("CollectionMode", mode), kind, None, interviewer
    )
    return PaperForm(number, context, answers, comment)
