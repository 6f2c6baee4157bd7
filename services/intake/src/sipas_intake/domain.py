"""Intake's pure rules: a dossier record becomes a DossierCompleted event, or is rejected.

No I/O here: sealing and pseudonymisation are passed in as functions, the clock and ids
as values. Errors name the field and the reason (``DossierRejectedError.errors``).

Error hierarchy::

    IntakeError
     ├── DossierRejectedError   a record that cannot become a DossierCompleted event
     └── ResponseRejectedError  answers that do not fit the invitation's instrument
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field

from sipas_contracts.events import (
    Answer,
    ApplicantKind,
    ContactChannel,
    DossierCompleted,
    ResponseRecorded,
    ResultDelivery,
    SubmissionChannel,
)
from sipas_contracts.ids import uuid7_for
from sipas_contracts.instrument import Catalogue
from sipas_contracts.units import UnitHierarchy, UnitHierarchyError

PRODUCER = "intake"


class IntakeError(ValueError):
    """Base of intake's domain errors; ``errors`` lists ``{field, reason}``."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['reason']}" for e in errors))
        self.errors = errors


class DossierRejectedError(IntakeError):
    """Raised when a dossier record is valid JSON of the right shape but cannot be accepted."""


class ResponseRejectedError(IntakeError):
    """Raised when submitted answers do not fit the instrument of the invitation."""


class Contact(BaseModel):
    """Applicant contact as the TTHC system knows it; sealed before it leaves intake."""

    model_config = ConfigDict(extra="forbid")

    phone: str | None = Field(default=None, max_length=64)
    email: EmailStr | None = None
    zalo_id: str | None = Field(default=None, max_length=64)


class DossierRecord(BaseModel):
    """The generic JSON dossier record intake accepts (documented in the README)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    dossier_id: str = Field(min_length=1, max_length=64)
    status: Literal["result_delivered"] = "result_delivered"
    unit: str = Field(min_length=1, max_length=200, description="Unit code, agency code or name")
    procedure_code: str = Field(min_length=1, max_length=64)
    procedure_name: str | None = Field(default=None, max_length=500)
    procedure_field: str | None = Field(default=None, max_length=128)
    applicant_kind: ApplicantKind
    applicant_id: str | None = Field(
        default=None, max_length=64, description="CCCD / tax code; only its keyed hash is kept"
    )
    applicant_adult: bool | None = None
    resident_in_province: bool | None = None
    submission_channel: SubmissionChannel
    result_delivery: ResultDelivery = "counter"
    received_at: AwareDatetime
    due_at: AwareDatetime | None = None
    processed_at: AwareDatetime | None = None
    delivered_at: AwareDatetime
    contact: Contact = Field(default_factory=Contact)
    handling_officer: str | None = Field(default=None, max_length=120)


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def contact_channels(contact: Contact) -> list[ContactChannel]:
    """The invitation channels this contact makes possible (a mobile number: SMS and Zalo)."""
    channels: list[ContactChannel] = []
    digits = _digits(contact.phone or "")
    if digits.startswith("84"):
        digits = "0" + digits[2:]
    if len(digits) == 10 and digits[:2] in {"03", "05", "07", "08", "09"}:  # noqa: PLR2004
        channels += ["zalo", "sms"]
    if contact.email:
        channels.append("email")
    if contact.zalo_id and "zalo" not in channels:
        channels.append("zalo")
    return channels


def applicant_identity(record: DossierRecord) -> str:
    """What identifies the applicant for de-duplication: id number, else phone, else dossier."""
    if record.applicant_id:
        return f"id:{record.applicant_id.upper()}"
    digits = _digits(record.contact.phone or "")
    if digits:
        return f"phone:{digits[-9:]}"
    return f"dossier:{record.dossier_id}"


def to_dossier_completed(
    record: DossierRecord,
    *,
    hierarchy: UnitHierarchy,
    seal: Callable[[dict[str, str]], str],
    pseudonymise: Callable[[str], str],
    now: datetime,
) -> DossierCompleted:
    """Validate ``record`` against the unit hierarchy and turn it into the canonical event."""
    errors: list[dict[str, str]] = []
    unit = ""
    try:
        unit = hierarchy.resolve(record.unit, record.delivered_at.date())
    except UnitHierarchyError as exc:
        errors.append({"field": "unit", "reason": str(exc)})
    if record.delivered_at < record.received_at:
        errors.append({"field": "delivered_at", "reason": "is before received_at"})
    if record.delivered_at > now:
        errors.append({"field": "delivered_at", "reason": "is in the future"})
    if errors:
        raise DossierRejectedError(errors)
    plain = {k: v for k, v in record.contact.model_dump(mode="json").items() if v}
    return DossierCompleted(
        event_id=uuid7_for(f"dossier:{record.dossier_id}:1", record.delivered_at),
        occurred_at=record.delivered_at,
        producer=PRODUCER,
        dossier_id=record.dossier_id,
        unit=unit,
        procedure_code=record.procedure_code,
        procedure_name=record.procedure_name,
        procedure_field=record.procedure_field,
        applicant_kind=record.applicant_kind,
        applicant_pseudonym=pseudonymise(applicant_identity(record)),
        applicant_adult=record.applicant_adult,
        resident_in_province=record.resident_in_province,
        submission_channel=record.submission_channel,
        result_delivery=record.result_delivery,
        received_at=record.received_at,
        due_at=record.due_at,
        processed_at=record.processed_at,
        delivered_at=record.delivered_at,
        contact_channels=contact_channels(record.contact),
        sealed_contact=seal(plain) if plain else None,
        handling_officer=record.handling_officer,
    )


class TokenGrant(BaseModel):
    """What an invitation token allows: one response for one campaign and unit."""

    model_config = ConfigDict(frozen=True)

    invitation_id: UUID
    campaign_id: str
    unit: str
    stratum: ApplicantKind
    instrument_id: str
    expires_at: datetime


class ResponseSubmission(BaseModel):
    """A respondent's answers as posted to ``/v1/responses``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    token: str = Field(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    answers: dict[str, Answer] = Field(min_length=1, max_length=200)
    comment: str | None = Field(default=None, max_length=2000)


def to_response_recorded(
    submission: ResponseSubmission,
    grant: TokenGrant,
    *,
    catalogue: Catalogue,
    response_id: UUID,
    now: datetime,
) -> ResponseRecorded:
    """Check the answers against the invitation's instrument and build the event."""
    errors = [
        {"field": e.split(":", 1)[0], "reason": e.split(":", 1)[1].strip()}
        for e in catalogue.answer_errors(submission.answers)
    ]
    if errors:
        raise ResponseRejectedError(errors)
    return ResponseRecorded(
        event_id=response_id,
        occurred_at=now,
        producer=PRODUCER,
        response_id=response_id,
        campaign_id=grant.campaign_id,
        unit=grant.unit,
        instrument_id=grant.instrument_id,
        collection_mode="online",
        applicant_kind=grant.stratum,
        answers=submission.answers,
        comment=submission.comment or None,
        invitation_id=grant.invitation_id,
    )
