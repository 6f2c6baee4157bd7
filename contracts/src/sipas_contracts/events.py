"""The events services exchange: one frozen pydantic model per fact, past tense.

Every event shares the envelope of :class:`Event` (``event_id`` UUIDv7, ``event_type``,
``occurred_at``, ``producer``, ``schema_version``). Personal data never travels in clear:
dossier events carry the applicant's contact *sealed* for the sampling service and a keyed
pseudonym for de-duplication; response events carry no identity at all.

Bump ``schema_version`` (and re-export the JSON Schemas with ``sipas contracts export``)
whenever a payload changes in a way a consumer could notice.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    TypeAdapter,
    model_validator,
)

from sipas_contracts.ids import CampaignId, DossierId, UnitCode, VisibleText

ApplicantKind = Literal["individual", "organisation"]
SubmissionChannel = Literal["direct", "online", "postal"]
ResultDelivery = Literal["counter", "postal", "electronic"]
ContactChannel = Literal["sms", "zalo", "email"]
InvitationChannel = Literal["sms", "zalo", "email", "counter", "enumerator"]
CollectionMode = Literal["online", "kiosk", "face_to_face", "phone", "paper"]
DrawList = Literal["continuous", "official", "reserve"]
Severity = Literal["info", "warning", "critical"]
CaseState = Literal["open", "acknowledged", "in_progress", "resolved", "closed", "dismissed"]
CaseChange = Literal[
    "opened", "acknowledged", "started", "resolved", "closed", "dismissed", "reopened", "escalated"
]
SlaKind = Literal["acknowledge", "resolve"]
SubstitutionReason = Literal["refused", "unreachable", "ineligible"]

Answer = Annotated[StrictInt, Field(ge=1, le=99)] | Literal["na"]
"""A coded answer on the item's scale, or ``"na"`` (không áp dụng / không trả lời)."""

SealedBlob = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9+/]+={0,2}$",
        max_length=4096,
        description="Base64 NaCl box (X25519 + XSalsa20-Poly1305) to the recipient's public key: "
        "0x02, ephemeral public key, nonce, ciphertext (or a classic sealed box); "
        "readable only by the holder of the recipient's secret key",
    ),
]


class Event(BaseModel):
    """Envelope common to every SIPAS event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID = Field(description="UUIDv7; also the JetStream Nats-Msg-Id (dedup key)")
    event_type: str = Field(description="Dotted event name, e.g. 'dossier.completed'")
    occurred_at: AwareDatetime = Field(description="When the fact happened (timezone-aware)")
    producer: str = Field(description="Service that produced the event", min_length=1)
    schema_version: int = Field(default=1, ge=1, description="Payload version of this type")


class DossierCompleted(Event):
    """A dossier's result was handed to the applicant (TrangThaiHoSo 10) or made available."""

    event_type: Literal["dossier.completed"] = "dossier.completed"
    dossier_id: DossierId = Field(
        description="Dossier number (MaHoSo), nationally unique; visible characters, NFC"
    )
    revision: int = Field(
        default=1, ge=1, description="1 for the first report; +1 for each correction re-sent"
    )
    unit: UnitCode = Field(description="Code of the administrative unit being rated")
    reception_point: UnitCode | None = Field(
        default=None, description="One-stop location that received the dossier, if different"
    )
    procedure_code: VisibleText = Field(min_length=1, max_length=64, description="MaTTHC")
    procedure_name: VisibleText | None = Field(default=None, max_length=500, description="TenTTHC")
    procedure_field: VisibleText | None = Field(
        default=None, max_length=128, description="Field (lĩnh vực) code, MaLinhVuc"
    )
    applicant_kind: ApplicantKind = Field(description="Individual or organisation")
    applicant_pseudonym: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="Keyed hash (HMAC-SHA256) of the applicant's identity; not reversible",
    )
    applicant_adult: bool | None = Field(default=None, description="Aged 18+, when known")
    resident_in_province: bool | None = Field(
        default=None, description="Residence in the province, when known"
    )
    submission_channel: SubmissionChannel = Field(description="KenhThucHien 1/2/3")
    result_delivery: ResultDelivery = Field(description="How the result reached the applicant")
    received_at: AwareDatetime = Field(description="NgayTiepNhan")
    due_at: AwareDatetime | None = Field(default=None, description="NgayHenTra (promised date)")
    processed_at: AwareDatetime | None = Field(default=None, description="NgayKetThucXuLy")
    delivered_at: AwareDatetime = Field(description="NgayTra: result handed over")
    contact_channels: list[ContactChannel] = Field(
        default_factory=list, description="Channels for which a usable contact exists"
    )
    sealed_contact: SealedBlob | None = Field(
        default=None, description="Applicant contact (JSON) sealed to the sampling service key"
    )
    handling_officer: VisibleText | None = Field(
        default=None, max_length=120, description="Officer who handled the dossier (optional)"
    )


class CampaignPlanned(Event):
    """A campaign's plan was created or changed; the services that report on it follow it.

    Sampling owns campaigns and publishes the plan whenever it stores one (and again at
    start-up, so a consumer that joins later still learns every plan); the latest
    ``occurred_at`` per campaign wins. Scoring takes its report title, instrument, funnel
    window, units and the number of respondents a unit needs to be ranked from it.
    """

    event_type: Literal["campaign.planned"] = "campaign.planned"
    campaign_id: CampaignId
    name_vi: str = Field(min_length=1, max_length=300, description="Campaign name (report title)")
    name_en: str | None = Field(default=None, max_length=300)
    instrument_id: str = Field(description="Instrument catalogue id, e.g. sipas-2640-2017")
    mode: Literal["continuous", "batch"]
    window_start: date = Field(description="First day results were delivered (local date)")
    window_end: date = Field(description="Last day results were delivered (inclusive)")
    units: list[UnitCode] = Field(description="Units the campaign rates (its scope)")
    planned_per_unit: int | None = Field(
        default=None,
        ge=1,
        description="Forms the plan allocates to every unit at least (fixed quota, or the "
        "floor of a proportional allocation); None when the plan sets no per-unit number",
    )
    n_min_unit: int | None = Field(
        default=None,
        ge=1,
        description="Respondents a unit needs to be ranked, when the plan sets it; never "
        "above planned_per_unit",
    )
    design_digest: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the plan's frozen design"
    )


class InvitationSent(Event):
    """A sampled applicant was invited to answer the survey through one channel.

    Version 2 added ``dossier_completed_at`` (default None): scoring's funnel counts the
    eligible dossiers of the days the invited dossiers were completed.
    """

    event_type: Literal["invitation.sent"] = "invitation.sent"
    schema_version: int = Field(default=2, ge=1, description="Payload version of this type")
    invitation_id: UUID = Field(description="Stable id of the invitation")
    campaign_id: CampaignId
    unit: UnitCode
    stratum: ApplicantKind = Field(description="Sampling stratum within the unit")
    channel: InvitationChannel
    draw_list: DrawList = Field(description="Continuous decision, official list or reserve list")
    instrument_id: str = Field(description="Instrument catalogue id, e.g. sipas-1001-2023")
    token_hash: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256 of the single-use survey token"
    )
    expires_at: AwareDatetime = Field(description="After this the token is refused")
    attempt: int = Field(default=1, ge=1, description="1 = first invitation, 2+ = reminders")
    dossier_completed_at: AwareDatetime | None = Field(
        default=None,
        description="When the invited dossier's result was delivered (NgayTra); None before v2",
    )


class InvitationClosed(Event):
    """A listed member was replaced from the reserve list: their survey token takes no answer.

    Sampling publishes it with the substitution it follows from (refused, unreachable);
    intake closes the invitation's token, so neither the survey link nor an enumerator's
    interview records an answer for the replaced member any more. An answer intake recorded
    before the event arrived stands (the first recorded wins).
    """

    event_type: Literal["invitation.closed"] = "invitation.closed"
    invitation_id: UUID = Field(description="The replaced member's invitation")
    campaign_id: CampaignId
    unit: UnitCode
    token_hash: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256 of the survey token now closed"
    )
    reason: SubstitutionReason = Field(description="Why the member was replaced")
    replaced_by: UUID | None = Field(
        default=None, description="Invitation of the reserve brought in instead"
    )


class ResponseRecorded(Event):
    """A completed questionnaire was accepted. Carries no identity of the respondent.

    Version 2 carries the free-text comment only sealed to the alerts service key
    (``sealed_comment``): a comment may name people or hold a phone number, and the
    RESPONSES stream is kept for good. Version 1 events carried it in clear (``comment``).
    """

    event_type: Literal["response.recorded"] = "response.recorded"
    schema_version: int = Field(default=2, ge=1, description="Payload version of this type")
    response_id: UUID
    campaign_id: CampaignId
    unit: UnitCode
    instrument_id: str
    collection_mode: CollectionMode
    applicant_kind: ApplicantKind
    answers: dict[str, Answer] = Field(
        description="Answers by item id; blank items are absent, 'na' = not applicable"
    )
    comment: str | None = Field(
        default=None,
        max_length=2000,
        description="Version 1 only: the free-text comment in clear; never set from version 2",
    )
    sealed_comment: SealedBlob | None = Field(
        default=None,
        description="The free-text comment (Ý kiến khác) as {comment}, sealed to the alerts "
        "service key (version 2)",
    )
    invitation_id: UUID | None = Field(
        default=None, description="Link to the invitation for re-audit; None for kiosk/paper"
    )
    interviewer_id: str | None = Field(
        default=None, max_length=64, description="Enumerator id for face-to-face/phone entry"
    )
    sealed_callback: SealedBlob | None = Field(
        default=None, description="Opt-in callback contact, sealed to the alerts service key"
    )

    @model_validator(mode="after")
    def _comment_sealed(self) -> Self:
        if self.comment is not None and self.schema_version >= 2:  # noqa: PLR2004 - version 2
            msg = "comment: a version 2 response carries its comment sealed (sealed_comment)"
            raise ValueError(msg)
        return self


class IndexFigure(BaseModel):
    """One published figure with its sample size and 95% confidence interval."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: float | None = Field(description="Percentage 0-100, None when data is insufficient")
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = Field(ge=0, description="Valid answers (items) or respondents (aggregates)")
    sufficient: bool = Field(description="n reaches the campaign's minimum")


class IndexUpdated(Event):
    """A unit's satisfaction index changed; latest value per (campaign, unit, period) is kept.

    ``period`` ``campaign`` (everything so far) is published on
    ``sipas.index.updated.<campaign>.<unit>``; a calendar period (``2026-11``, ``2026-Q4``,
    ``2026``) on ``sipas.index.updated.<campaign>.<unit>.<period>``. Version 2 added the
    fields after ``counts``; all have defaults.
    """

    event_type: Literal["index.updated"] = "index.updated"
    schema_version: int = Field(default=2, ge=1, description="Payload version of this type")
    campaign_id: CampaignId
    unit: UnitCode
    period: str = Field(description="'campaign', or a period: '2026', '2026-Q4', '2026-11'")
    instrument_id: str
    method: Literal["share_positive", "mean_score"] = "share_positive"
    version: int = Field(
        ge=1,
        description="RESPONSES stream sequence of the latest response counted; "
        "never decreases per (campaign, unit, period)",
    )
    responses: int = Field(ge=0, description="Responses counted in this index")
    sipas: IndexFigure
    aspects: dict[str, IndexFigure] = Field(default_factory=dict)
    elements: dict[str, IndexFigure] = Field(default_factory=dict)
    counts: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="Answer counts by item id and level ('na' included)"
    )
    previous: IndexFigure | None = Field(
        default=None,
        description="SIPAS of the previous period (or previous campaign) for this unit, "
        "carried through unit successions; None when there is none",
    )
    previous_period: str | None = Field(
        default=None, description="Period of 'previous' (e.g. '2026-10'), or 'campaign'"
    )
    previous_campaign: CampaignId | None = Field(
        default=None, description="Campaign of 'previous' when it is another campaign"
    )
    segments: dict[ApplicantKind, IndexFigure] = Field(
        default_factory=dict, description="SIPAS of individuals and of organisations"
    )
    level: str | None = Field(
        default=None,
        description="Ranking tier of the unit: commune, department, district, province, unknown",
    )
    rollup: bool = Field(default=False, description="Sums the counts of the units below")
    modes: list[CollectionMode] = Field(
        default_factory=list, description="Collection modes counted (kiosk apart by default)"
    )
    basis: list[str] = Field(
        default_factory=list,
        description="Components (aspects or elements) averaged into SIPAS; fewer than the "
        "instrument's when the campaign does not ask them all or data is insufficient",
    )
    profile_revision: int = Field(
        default=0, ge=0, description="Revision of the campaign's scoring profile used"
    )


class AlertRaised(Event):
    """A rule fired on a response or an index; the unit must look at it."""

    event_type: Literal["alert.raised"] = "alert.raised"
    alert_id: UUID
    rule: str = Field(min_length=1, max_length=64)
    severity: Severity
    unit: UnitCode
    campaign_id: CampaignId | None = None
    source_event_id: UUID = Field(description="The event that triggered the rule")
    summary_vi: str = Field(max_length=500)
    summary_en: str = Field(max_length=500)
    details: dict[str, str | int | float | None] = Field(default_factory=dict)
    case_id: UUID | None = Field(
        default=None, description="The case this alert was attached to (opened or existing)"
    )


class CaseUpdated(Event):
    """A case moved in its lifecycle (opened, acknowledged, escalated, resolved, ...)."""

    event_type: Literal["case.updated"] = "case.updated"
    case_id: UUID
    unit: UnitCode
    rule: str
    state: CaseState
    previous_state: CaseState | None = None
    actor_role: str = Field(description="Role of who made the change, or 'system'")
    sla_due_at: datetime | None = None
    escalated: bool = False
    change: CaseChange | None = Field(
        default=None, description="What happened: opened, a transition, or an SLA escalation"
    )
    campaign_id: CampaignId | None = None
    severity: Severity | None = None
    window: str | None = Field(
        default=None, max_length=80, description="Grouping window (e.g. 2026-W47)"
    )
    alerts: int = Field(default=0, ge=0, description="Alerts attached to the case so far")
    acknowledge_due_at: AwareDatetime | None = Field(
        default=None, description="Acknowledge deadline (working time)"
    )
    resolve_due_at: AwareDatetime | None = Field(
        default=None, description="Resolve deadline (working time)"
    )
    breach: SlaKind | None = Field(
        default=None, description="On an escalation: which deadline was missed"
    )
    escalated_to: list[str] = Field(
        default_factory=list, description="Supervising agencies the case escalated to"
    )


AnyEvent = Annotated[
    DossierCompleted
    | CampaignPlanned
    | InvitationSent
    | InvitationClosed
    | ResponseRecorded
    | IndexUpdated
    | AlertRaised
    | CaseUpdated,
    Field(discriminator="event_type"),
]
EVENT_TYPES: tuple[type[Event], ...] = (
    DossierCompleted,
    CampaignPlanned,
    InvitationSent,
    InvitationClosed,
    ResponseRecorded,
    IndexUpdated,
    AlertRaised,
    CaseUpdated,
)
any_event_adapter: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)
