"""Field-level problems and intake's error hierarchy.

Every problem is ``{"field", "reason", "code"}``: ``field`` names the input field as the
sender wrote it (``MaHoSo``, ``Ngày tiếp nhận``, ``answers.HL.DV.E1.1``), ``reason`` says
what is wrong without echoing personal data, ``code`` is a bounded reason code used as a
metric label.

Error hierarchy::

    IntakeError                  problems with one input (``errors`` lists them)
     ├── DossierRejectedError    a dossier record that cannot become a dossier-completed event
     ├── ResponseRejectedError   answers that do not fit the instrument or form
     └── PaperRowError           a row of a paper-form workbook that cannot be imported
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from pydantic import ValidationError

ReasonCode = Literal[
    "malformed",
    "missing",
    "invalid",
    "unexpected",
    "unknown_unit",
    "unknown_format",
    "unmapped_value",
    "date_order",
    "future_date",
    "too_many",
    "duplicate",
    "conflict",
]
Problem = dict[str, str]

_PYDANTIC_CODES: dict[str, ReasonCode] = {
    "missing": "missing",
    "json_invalid": "malformed",
    "json_type": "malformed",
    "extra_forbidden": "unexpected",
}


def problem(field: str, reason: str, code: ReasonCode = "invalid") -> Problem:
    """One field-level problem."""
    return {"field": field or "(body)", "reason": reason, "code": code}


def problems_from_validation(
    exc: ValidationError, *, prefix: str = "", rename: Mapping[str, str] | None = None
) -> list[Problem]:
    """Problems from a pydantic error; ``rename`` maps canonical fields to source names."""
    out: list[Problem] = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(p) for p in error["loc"])
        field = (rename or {}).get(location, location)
        out.append(
            problem(
                f"{prefix}{field}" if field else prefix.rstrip(".") or "(body)",
                _plain(error),
                _PYDANTIC_CODES.get(error["type"], "invalid"),
            )
        )
    return out


def _plain(error: Mapping[str, object]) -> str:
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


class IntakeError(ValueError):
    """Base of intake's domain errors; ``errors`` lists ``{field, reason, code}``."""

    def __init__(self, errors: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['reason']}" for e in errors))
        self.errors: list[Problem] = list(errors)

    @property
    def code(self) -> str:
        """The reason code of the first problem (a bounded metric label)."""
        return self.errors[0]["code"] if self.errors else "invalid"

    def public_errors(self) -> list[dict[str, str]]:
        """``[{field, reason}]`` for a problem+json body."""
        return [{"field": e["field"], "reason": e["reason"]} for e in self.errors]


class DossierRejectedError(IntakeError):
    """Raised when a dossier record is well-formed but cannot be accepted."""


class ResponseRejectedError(IntakeError):
    """Raised when submitted answers do not fit the instrument, the form or the rules."""


class PaperRowError(IntakeError):
    """Raised when one row of a paper-form workbook cannot be imported."""


def raise_if(errors: Iterable[Problem], error: type[IntakeError]) -> None:
    """Raise ``error`` with ``errors`` if there is at least one."""
    collected = list(errors)
    if collected:
        raise error(collected)
