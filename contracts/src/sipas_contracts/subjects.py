"""NATS subjects: the routing keys travel in the subject so consumers filter without parsing.

``sipas.<noun>.<past-verb>.<routing tokens...>``; unit codes and campaign ids are single
subject tokens (see :data:`sipas_contracts.ids.CODE_PATTERN`).
"""

from __future__ import annotations

from sipas_contracts.ids import is_code

PREFIX = "sipas"

RAW_DOSSIERS = f"{PREFIX}.raw.dossier.>"
DOSSIERS_COMPLETED = f"{PREFIX}.dossier.completed.>"
DOSSIERS_BY_UNIT = f"{PREFIX}.dossier.completed.*"
"""A dossier as published (``dossier_completed``): its one routing token is the unit."""
INVITATIONS_SENT = f"{PREFIX}.invitation.sent.>"
INVITATIONS_CLOSED = f"{PREFIX}.invitation.closed.>"
RESPONSES_RECORDED = f"{PREFIX}.response.recorded.>"
INDEXES_UPDATED = f"{PREFIX}.index.updated.>"
ALERTS_RAISED = f"{PREFIX}.alert.raised.>"
CASES_UPDATED = f"{PREFIX}.case.updated.>"
CAMPAIGNS_PLANNED = f"{PREFIX}.campaign.planned.>"
DEAD_LETTERS = f"{PREFIX}.dlq.>"
REPLAY_REQUESTS = f"{PREFIX}.replay.*"
"""Core request/reply (no stream): an operator asks a service to replay its dead letters."""
OVERRIDES = f"{PREFIX}.override.>"
DLQ_REPLAY_OVERRIDE = f"{PREFIX}.override.dlq-replay"
"""A dead letter replayed from its own body because its source message is gone."""


class SubjectError(ValueError):
    """Raised when a routing token is not a valid subject token."""


def _token(value: str, what: str) -> str:
    if not is_code(value):
        msg = f"{what} {value!r} is not a valid subject token ([A-Za-z0-9_-], max 64)"
        raise SubjectError(msg)
    return value


def raw_dossier(source: str) -> str:
    """Subject on which a TTHC information system publishes raw dossier records."""
    return f"{PREFIX}.raw.dossier.{_token(source, 'source')}"


def dossier_completed(unit: str) -> str:
    """Subject of DossierCompleted events for ``unit``."""
    return f"{PREFIX}.dossier.completed.{_token(unit, 'unit')}"


def dossier_partition(partition: int) -> str:
    """The dossiers of one partition as a partitioned stream stores them (issue #22).

    ``sipas.dossier.completed.<unit>`` is stored as ``sipas.dossier.completed.<p>.<unit>``
    when the stream is partitioned, so :data:`DOSSIERS_COMPLETED` still matches them all.
    """
    return f"{PREFIX}.dossier.completed.{partition}.*"


def invitation_sent(unit: str) -> str:
    """Subject of InvitationSent events for ``unit``."""
    return f"{PREFIX}.invitation.sent.{_token(unit, 'unit')}"


def invitation_closed(unit: str) -> str:
    """Subject of InvitationClosed events for ``unit``."""
    return f"{PREFIX}.invitation.closed.{_token(unit, 'unit')}"


def response_recorded(unit: str) -> str:
    """Subject of ResponseRecorded events for ``unit``."""
    return f"{PREFIX}.response.recorded.{_token(unit, 'unit')}"


def index_updated(campaign_id: str, unit: str, period: str | None = None) -> str:
    """Subject of IndexUpdated events for ``unit`` in ``campaign_id`` (and a calendar period).

    The whole-campaign figure (period ``campaign`` or None) keeps the 5-token subject; a
    calendar period (``2026-11``, ``2026-Q4``, ``2026``) adds a sixth token, so the
    INDEXES stream keeps the latest figure of each period.
    """
    base = f"{PREFIX}.index.updated.{_token(campaign_id, 'campaign')}.{_token(unit, 'unit')}"
    if period is None or period == "campaign":
        return base
    return f"{base}.{_token(period, 'period')}"


def alert_raised(unit: str) -> str:
    """Subject of AlertRaised events for ``unit``."""
    return f"{PREFIX}.alert.raised.{_token(unit, 'unit')}"


def case_updated(unit: str) -> str:
    """Subject of CaseUpdated events for ``unit``."""
    return f"{PREFIX}.case.updated.{_token(unit, 'unit')}"


def campaign_planned(campaign_id: str) -> str:
    """Subject of CampaignPlanned events of ``campaign_id``."""
    return f"{PREFIX}.campaign.planned.{_token(campaign_id, 'campaign')}"


def dead_letter(service: str) -> str:
    """Subject of the dead-letter queue of ``service``."""
    return f"{PREFIX}.dlq.{_token(service, 'service')}"


def replay_request(service: str) -> str:
    """Subject on which ``service`` answers requests to replay its dead letters."""
    return f"{PREFIX}.replay.{_token(service, 'service')}"


def for_event(event: object) -> str:
    """The subject an event is published on, derived from its type and routing fields."""
    event_type = getattr(event, "event_type", None)
    unit = getattr(event, "unit", "")
    builders = {
        "dossier.completed": dossier_completed,
        "invitation.sent": invitation_sent,
        "invitation.closed": invitation_closed,
        "response.recorded": response_recorded,
        "alert.raised": alert_raised,
        "case.updated": case_updated,
    }
    if event_type == "index.updated":
        return index_updated(
            getattr(event, "campaign_id", ""), unit, getattr(event, "period", None)
        )
    if event_type == "campaign.planned":
        return campaign_planned(getattr(event, "campaign_id", ""))
    if event_type in builders:
        return builders[event_type](unit)
    msg = f"no subject for event type {event_type!r}"
    raise SubjectError(msg)
