"""A canonical dossier record becomes a *prepared* dossier-completed event, or is rejected.

Every adapter (generic JSON, one-stop ``HoSo``, YAML field map) produces a
:class:`DossierRecord`; :func:`prepare` validates it once — unit against the hierarchy,
dates, contact — and returns a :class:`PreparedDossier`: the event without its revision,
plus a keyed *fingerprint* of its content (plain contact included) so that corrections
can be told from duplicates later without keeping the contact in clear. Sealing,
pseudonymisation and fingerprinting are passed in as functions; the clock as a value.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Self
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from sipas_contracts.events import (
    ApplicantKind,
    DossierCompleted,
    ResultDelivery,
    SubmissionChannel,
)
from sipas_contracts.ids import DossierId, VisibleText, uuid7_for
from sipas_contracts.units import UnitHierarchy, UnitHierarchyError
from sipas_intake.domain.contacts import CHANNEL_ORDER, Contact, UsableContact, read_contact
from sipas_intake.domain.errors import (
    DossierRejectedError,
    Problem,
    problem,
    problems_from_validation,
    raise_if,
)
from sipas_intake.domain.phones import msisdn
from sipas_intake.domain.units import CachedUnits

PRODUCER = "intake"
Units = UnitHierarchy | CachedUnits
CLOCK_SKEW = timedelta(minutes=5)
_PLACEHOLDER_IDS = frozenset({"", "0", "000000001"})
UNFINALISED = UUID(int=0)
"""The event id of a prepared dossier: its real id needs the revision (see ``finalise``)."""


class DossierRecord(BaseModel):
    """The canonical (generic JSON) record of a dossier whose result reached the applicant."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    dossier_id: DossierId = Field(description="MaHoSo")
    status: Literal["result_delivered"] = "result_delivered"
    unit: VisibleText | None = Field(
        default=None, min_length=1, max_length=200, description="Unit code or name (DonViXuLy)"
    )
    agency_code: VisibleText | None = Field(
        default=None, min_length=1, max_length=64, description="Mã định danh (MaHoSo prefix)"
    )
    reception_point: VisibleText | None = Field(default=None, min_length=1, max_length=200)
    procedure_code: VisibleText = Field(min_length=1, max_length=64, description="MaTTHC")
    procedure_name: VisibleText | None = Field(default=None, max_length=500)
    procedure_field: VisibleText | None = Field(default=None, max_length=128)
    applicant_kind: ApplicantKind
    applicant_id: VisibleText | None = Field(
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
    handling_officer: VisibleText | None = Field(default=None, max_length=120)

    @model_validator(mode="before")
    @classmethod
    def _nfc(cls, data: object) -> object:
        # Some systems send decomposed (NFD) Vietnamese: ids and names must compare equal.
        # One call for the whole record, not one per field (a Python call each).
        if not isinstance(data, dict):
            return data
        return {
            k: unicodedata.normalize("NFC", v) if isinstance(v, str) and not v.isascii() else v
            for k, v in data.items()
        }

    @model_validator(mode="after")
    def _has_a_unit(self) -> Self:
        if self.unit is None and self.agency_code is None:
            msg = "unit or agency_code is required"
            raise ValueError(msg)
        return self


@dataclass(frozen=True, slots=True)
class NotCompleted:
    """A valid record of a dossier that is not (yet) completed: acknowledged, not an event."""

    dossier_id: str
    reason: str


class PreparedDossier(BaseModel):
    """A validated dossier-completed event before its revision is known, plus a fingerprint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    candidate: DossierCompleted
    fingerprint: str = Field(pattern=r"^[0-9a-f]{64}$")
    warnings: list[dict[str, str]] = Field(default_factory=list)

    def with_sealed_contact(self, blob: str | None) -> PreparedDossier:
        """The same record with its contact sealed (see :func:`prepare_unsealed`)."""
        candidate = self.candidate.model_copy(update={"sealed_contact": blob})
        return self.model_copy(update={"candidate": candidate})

    def finalise(self, revision: int, *, sealed_contact: str | None = None) -> DossierCompleted:
        """The event for ``revision``; its id is derived from dossier, revision and content.

        ``sealed_contact``, when given, is the contact sealed after preparation.
        """
        key = f"dossier:{self.candidate.dossier_id}:r{revision}:{self.fingerprint}"
        update: dict[str, object] = {
            "revision": revision,
            "event_id": uuid7_for(key, self.candidate.delivered_at),
        }
        if sealed_contact is not None:
            update["sealed_contact"] = sealed_contact
        return self.candidate.model_copy(update=update)


@dataclass(frozen=True)
class Crypto:
    """The keyed operations ``prepare`` needs (all injected; the domain holds no key)."""

    seal: Callable[[dict[str, str]], str]
    pseudonymise: Callable[[str], str]
    fingerprint: Callable[[str], str]


def applicant_identity(record: DossierRecord, contact: UsableContact) -> str:
    """What identifies the applicant: id number, else mobile (84… form), e-mail, dossier."""
    applicant_id = "".join((record.applicant_id or "").split()).upper()
    if applicant_id not in _PLACEHOLDER_IDS:
        return f"id:{applicant_id}"
    if contact.phones.primary:
        return f"phone:{msisdn(contact.phones.primary)}"
    if "email" in contact.plain:
        return f"email:{contact.plain['email']}"
    return f"dossier:{record.dossier_id}"


def _resolve_unit(record: DossierRecord, hierarchy: Units) -> tuple[str, list[Problem]]:
    on = record.delivered_at.date()
    references = [r for r in (record.agency_code, record.unit) if r]
    for reference in references:
        try:
            return hierarchy.resolve(reference, on), []
        except UnitHierarchyError:
            continue
    wanted = " or ".join(repr(r) for r in references)
    reason = f"no unit valid on {on.isoformat()} matches {wanted}"
    return "", [problem("unit" if record.unit else "agency_code", reason, "unknown_unit")]


def _resolve_reception(record: DossierRecord, hierarchy: Units) -> str | None:
    if record.reception_point is None:
        return None
    try:
        return hierarchy.resolve(record.reception_point, record.delivered_at.date())
    except UnitHierarchyError as exc:
        raise DossierRejectedError([problem("reception_point", str(exc), "unknown_unit")]) from None


def date_problems(record: DossierRecord, now: datetime) -> list[Problem]:
    """Dates that contradict each other or lie in the future."""
    problems: list[Problem] = []
    if record.delivered_at < record.received_at:
        problems.append(problem("delivered_at", "is before received_at", "date_order"))
    if record.processed_at is not None and record.processed_at < record.received_at:
        problems.append(problem("processed_at", "is before received_at", "date_order"))
    for name in ("received_at", "processed_at", "delivered_at"):
        value = getattr(record, name)
        if value is not None and value > now + CLOCK_SKEW:
            problems.append(problem(name, "is in the future", "future_date"))
    return problems


@dataclass(frozen=True, slots=True)
class Unsealed:
    """A prepared record whose contact is not sealed yet (held in memory only, never stored).

    Sealing costs more than everything else together, so the raw consumer seals only the
    records it will emit, in parallel threads, after the ledger has dropped duplicates.
    """

    prepared: PreparedDossier
    contact: dict[str, str] | None

    def seal(self, seal: Callable[[dict[str, str]], str]) -> PreparedDossier:
        """The record with its contact sealed (``contact`` None: it already is)."""
        if self.contact is None:
            return self.prepared
        return self.prepared.with_sealed_contact(seal(self.contact) if self.contact else None)


def prepare_unsealed(
    record: DossierRecord, *, hierarchy: Units, crypto: Crypto, now: datetime
) -> Unsealed:
    """Validate ``record`` and build its event (no revision, contact not sealed yet)."""
    unit, problems = _resolve_unit(record, hierarchy)
    problems += date_problems(record, now)
    raise_if(problems, DossierRejectedError)
    contact = read_contact(record.contact)
    # Built from validated parts (the record, a unit code from the hierarchy, a keyed hash,
    # known channels): constructed without validating each field again. Its event id is a
    # placeholder until ``finalise`` knows the revision (the id is derived from it).
    candidate = construct_event(
        event_id=UNFINALISED,
        occurred_at=record.delivered_at,
        producer=PRODUCER,
        dossier_id=record.dossier_id,
        unit=unit,
        reception_point=_resolve_reception(record, hierarchy),
        procedure_code=record.procedure_code,
        procedure_name=record.procedure_name,
        procedure_field=record.procedure_field,
        applicant_kind=record.applicant_kind,
        applicant_pseudonym=crypto.pseudonymise(applicant_identity(record, contact)),
        applicant_adult=record.applicant_adult,
        resident_in_province=record.resident_in_province,
        submission_channel=record.submission_channel,
        result_delivery=record.result_delivery,
        received_at=record.received_at,
        due_at=record.due_at,
        processed_at=record.processed_at,
        delivered_at=record.delivered_at,
        contact_channels=sorted(contact.channels, key=CHANNEL_ORDER.index),
        handling_officer=record.handling_officer,
    )
    prepared = PreparedDossier.model_construct(
        candidate=candidate,
        fingerprint=crypto.fingerprint(content_key(candidate, contact.plain)),
        warnings=contact.warnings,
    )
    return Unsealed(prepared, contact.plain)


_REQUIRED = frozenset(n for n, f in DossierCompleted.model_fields.items() if f.is_required())
_unchecked: Any = DossierCompleted.model_construct  # placeholders of any type, replaced later
_BLANK_EVENT: DossierCompleted = _unchecked(_fields_set=set(), **dict.fromkeys(_REQUIRED))
"""Every field in declaration order, none set; the required ones are always replaced."""


def construct_event(**values: object) -> DossierCompleted:
    """``DossierCompleted.model_construct(**values)`` at a third of its cost.

    A copy of a blank event updated with ``values`` has the same fields in the same order
    (pydantic serialises them in that order) and the same fields set. ``values`` must give
    every required field; nothing is validated (the caller built them from checked parts).
    """
    if not values.keys() >= _REQUIRED:
        msg = f"required fields missing: {sorted(_REQUIRED - values.keys())}"
        raise TypeError(msg)
    return _BLANK_EVENT.model_copy(update=values)


def prepare(
    record: DossierRecord, *, hierarchy: Units, crypto: Crypto, now: datetime
) -> PreparedDossier:
    """Validate ``record`` and build its event (without revision), contact sealed."""
    return prepare_unsealed(record, hierarchy=hierarchy, crypto=crypto, now=now).seal(crypto.seal)


_NOT_CONTENT = frozenset({"event_id", "occurred_at", "revision", "sealed_contact"})
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode
"""``json.dumps(…, sort_keys=True, ensure_ascii=False)`` without a new encoder per call."""


def content_key(candidate: DossierCompleted, plain_contact: dict[str, str]) -> str:
    """Canonical text of what a correction may change (sealed blob excluded: it is random).

    Pydantic serialises fields in declaration order, so the text is deterministic.
    """
    payload = candidate.model_dump_json(exclude=set(_NOT_CONTENT))
    return payload + _CANONICAL_JSON(plain_contact)


def recheck(prepared: PreparedDossier, *, hierarchy: Units, now: datetime) -> None:
    """Re-validate a prepared record taken from the raw stream (its unit may have closed)."""
    event = prepared.candidate
    problems: list[Problem] = []
    if not hierarchy.is_active(event.unit, event.delivered_at.date()):
        reason = f"unit {event.unit!r} is not valid on {event.delivered_at.date().isoformat()}"
        problems.append(problem("unit", reason, "unknown_unit"))
    if event.delivered_at < event.received_at:
        problems.append(problem("delivered_at", "is before received_at", "date_order"))
    if event.delivered_at > now + CLOCK_SKEW:
        problems.append(problem("delivered_at", "is in the future", "future_date"))
    raise_if(problems, DossierRejectedError)


def parse_record(document: dict[str, object]) -> DossierRecord:
    """Validate a generic record; dotted keys (``contact.phone``, from spreadsheets) nest."""
    try:
        return DossierRecord.model_validate(nest(document))
    except ValidationError as exc:
        raise DossierRejectedError(problems_from_validation(exc)) from None


def nest(document: dict[str, object]) -> dict[str, object]:
    """``{"contact.phone": "x"}`` → ``{"contact": {"phone": "x"}}``; empty cells dropped."""
    if "." not in "".join(map(str, document)):  # JSON records: the common, fast case
        return {k: v for k, v in document.items() if v is not None and v != ""}
    out: dict[str, object] = {}
    for key, value in document.items():
        if value is None or value == "":
            continue
        head, dot, tail = str(key).partition(".")
        if dot and tail:
            inner = out.setdefault(head, {})
            if isinstance(inner, dict):
                inner[tail] = value
                continue
        out[str(key)] = value
    return out
