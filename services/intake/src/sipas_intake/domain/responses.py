"""Answers → a ResponseRecorded event, whatever the channel (form, kiosk, enumerator, paper).

Answers are checked against the instrument (item exists, code on its scale) and, where a
form profile applies, against the items that form asks. A comment is normalised (NFC,
no control characters) and limited in code points. The event carries campaign, unit,
instrument, collection mode, applicant kind and answers — never a token or a contact;
an opt-in callback contact travels only sealed to the alerts service.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from sipas_contracts.events import Answer, ApplicantKind, CollectionMode, ResponseRecorded
from sipas_contracts.instrument import Catalogue
from sipas_intake.domain.dossiers import PRODUCER
from sipas_intake.domain.errors import Problem, ResponseRejectedError, problem, raise_if
from sipas_intake.domain.phones import parse_phones

COMMENT_LIMIT = 2000
NOT_APPLICABLE: Literal["na"] = "na"
_KINDS: dict[str, ApplicantKind] = {
    "individual": "individual",
    "1": "individual",
    "cá nhân": "individual",
    "ca nhan": "individual",
    "công dân": "individual",
    "organisation": "organisation",
    "organization": "organisation",
    "2": "organisation",
    "tổ chức": "organisation",
    "to chuc": "organisation",
    "doanh nghiệp": "organisation",
}


class TokenGrant(BaseModel):
    """What an invitation allows: one response for one campaign, unit and stratum."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    invitation_id: UUID
    campaign_id: str
    unit: str
    stratum: ApplicantKind
    instrument_id: str
    expires_at: datetime
    channel: str | None = None
    draw_list: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseContext:
    """Everything about a response except the answers."""

    campaign_id: str
    unit: str
    instrument_id: str
    collection_mode: CollectionMode
    applicant_kind: ApplicantKind
    invitation_id: UUID | None = None
    interviewer_id: str | None = None

    @classmethod
    def invited(
        cls, grant: TokenGrant, mode: CollectionMode = "online", interviewer: str | None = None
    ) -> ResponseContext:
        """The context of an invited respondent (online, or through an enumerator)."""
        return cls(
            grant.campaign_id,
            grant.unit,
            grant.instrument_id,
            mode,
            grant.stratum,
            grant.invitation_id,
            interviewer,
        )


def applicant_kind(value: str | None, field: str = "applicant_kind") -> ApplicantKind:
    """``individual``/``organisation`` from a code, an English or a Vietnamese word."""
    kind = _KINDS.get(" ".join(str(value or "").casefold().split()))
    if kind is None:
        reason = "required" if not value else "must be individual (1, cá nhân) or organisation (2)"
        raise ResponseRejectedError([problem(field, reason, "missing" if not value else "invalid")])
    return kind


def answer_problems(
    answers: Mapping[str, object], catalogue: Catalogue, allowed: Sequence[str] | None = None
) -> list[Problem]:
    """Unknown items, codes off the scale, items the form does not ask, no answer at all."""
    problems = [
        problem(e.split(":", 1)[0], e.split(":", 1)[1].strip())
        for e in catalogue.answer_errors(
            {k: v for k, v in answers.items() if isinstance(v, int | str)}
        )
    ]
    problems += [
        problem(f"answers.{k}", f"{v!r} is not a code or 'na'")
        for k, v in answers.items()
        if not isinstance(v, int | str) or isinstance(v, bool)
    ]
    if allowed is not None:
        asked = set(allowed)
        problems += [
            problem(f"answers.{k}", "is not asked on this form", "unexpected")
            for k in answers
            if k in catalogue.items and k not in asked
        ]
    if not answers:
        problems.append(problem("answers", "no question was answered", "missing"))
    return problems


def parse_form_answers(
    fields: Mapping[str, str], items: Sequence[str], catalogue: Catalogue
) -> tuple[dict[str, Answer], list[Problem]]:
    """Answers from HTML form fields ``a.<item id>`` (blank = not answered)."""
    answers: dict[str, Answer] = {}
    problems: list[Problem] = []
    for item_id in items:
        raw = (fields.get(f"a.{item_id}") or "").strip()
        if not raw:
            continue
        if raw == NOT_APPLICABLE:
            answers[item_id] = NOT_APPLICABLE
        elif raw.isdecimal() and int(raw) in catalogue.scale_of(item_id).values:
            answers[item_id] = int(raw)
        else:
            problems.append(problem(f"answers.{item_id}", "is not one of the offered answers"))
    return answers, problems


def clean_comment(text: str | None, field: str = "comment") -> str | None:
    """NFC text without control characters; None when empty; rejected when too long."""
    if text is None:
        return None
    normal = unicodedata.normalize("NFC", text)
    kept = "".join(ch for ch in normal if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    cleaned = "\n".join(line.rstrip() for line in kept.strip().splitlines())
    if len(cleaned) > COMMENT_LIMIT:
        reason = f"is {len(cleaned)} characters long; at most {COMMENT_LIMIT}"
        raise ResponseRejectedError([problem(field, reason, "too_many")])
    return cleaned or None


def callback_contact(phone: str | None, email: str | None) -> dict[str, str]:
    """An opt-in callback contact (landlines are fine for a call back), or field problems."""
    contact: dict[str, str] = {}
    problems: list[Problem] = []
    if phone:
        numbers = parse_phones(phone)
        best = numbers.primary or (numbers.landlines[0] if numbers.landlines else None)
        if best is None:
            problems.append(problem("callback_phone", "is not a Vietnamese phone number"))
        else:
            contact["phone"] = best
    if email:
        if "@" in email and "." in email.rsplit("@", 1)[-1] and len(email) <= 254:  # noqa: PLR2004
            contact["email"] = email.strip().lower()
        else:
            problems.append(problem("callback_email", "is not an e-mail address"))
    if not contact and not problems:
        problems.append(problem("callback_phone", "give a phone number or an e-mail", "missing"))
    raise_if(problems, ResponseRejectedError)
    return contact


def build_response(
    context: ResponseContext,
    answers: Mapping[str, Answer],
    *,
    catalogue: Catalogue,
    allowed: Sequence[str] | None,
    comment: str | None,
    seal_comment: Callable[[str], str],
    sealed_callback: str | None,
    response_id: UUID,
    now: datetime,
) -> ResponseRecorded:
    """Check everything and build the event; raises :class:`ResponseRejectedError`.

    The comment leaves intake only sealed (``seal_comment``: to the alerts service key).
    """
    raise_if(answer_problems(answers, catalogue, allowed), ResponseRejectedError)
    text = clean_comment(comment)
    return ResponseRecorded(
        event_id=response_id,
        occurred_at=now,
        producer=PRODUCER,
        response_id=response_id,
        campaign_id=context.campaign_id,
        unit=context.unit,
        instrument_id=context.instrument_id,
        collection_mode=context.collection_mode,
        applicant_kind=context.applicant_kind,
        answers=dict(answers),
        sealed_comment=seal_comment(text) if text else None,
        invitation_id=context.invitation_id,
        interviewer_id=context.interviewer_id,
        sealed_callback=sealed_callback,
    )


class ResponseSubmission(BaseModel):
    """A respondent's answers as posted to ``/v1/responses`` (JSON, with the token)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    token: str = Field(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    answers: dict[str, Answer] = Field(min_length=1, max_length=200)
    comment: str | None = Field(default=None, max_length=4000)
    callback_phone: str | None = Field(default=None, max_length=64)
    callback_email: str | None = Field(default=None, max_length=254)


class InterviewSubmission(BaseModel):
    """Answers an enumerator enters for one invitation of the official or reserve list."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    invitation_id: UUID
    mode: Literal["face_to_face", "phone"] = Field(description="How the answers were taken")
    answers: dict[str, Answer] = Field(min_length=1, max_length=200)
    comment: str | None = Field(default=None, max_length=4000)
    submission_id: UUID | None = Field(
        default=None,
        description=(
            "The device's own id for this interview (made once, when it was recorded): "
            "sending it again answers 200 with the same response instead of 409"
        ),
    )
