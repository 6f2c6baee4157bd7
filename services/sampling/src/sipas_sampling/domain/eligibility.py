"""Who belongs to a campaign's population, and who may be contacted.

:func:`exclusion` applies the rules that need only the event (scope, window, channel,
residence, age, field); the store applies the ones that need history through the pure
checks below (one dossier per applicant, the contact-frequency cap, opt-outs). Each
returns a short reason code that ends up in the audit log and a bounded metric label.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime, timedelta, tzinfo

from sipas_contracts.events import ContactChannel, DossierCompleted, InvitationChannel
from sipas_sampling.domain.campaign import Campaign, ContactCap

REASONS = (
    "out_of_scope",
    "outside_window",
    "online",
    "postal",
    "non_resident",
    "minor",
    "other_field",
    "duplicate_applicant",
    "contact_cap",
    "opted_out",
    "no_usable_contact",
    "contact_unreadable",
    "repeat",
)


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def local_date(moment: datetime, zone: tzinfo) -> date:
    """The calendar day of ``moment`` in the campaign's time zone."""
    return moment.astimezone(zone).date()


def exclusion(  # noqa: PLR0911 - one return per rule reads best
    event: DossierCompleted, campaign: Campaign, units: Collection[str], zone: tzinfo
) -> str | None:
    """Why the dossier is not in the campaign's population (None = it is)."""
    if event.unit not in units:
        return "out_of_scope"
    day = local_date(event.delivered_at, zone)
    if not campaign.window.start <= day <= campaign.window.end:
        return "outside_window"
    rules = campaign.population.exclude
    if rules.online and event.submission_channel == "online":
        return "online"
    if rules.postal and (event.submission_channel == "postal" or event.result_delivery == "postal"):
        return "postal"
    resident = event.resident_in_province
    if rules.non_resident and (
        resident is False or (resident is None and not rules.unknown_residence_is_resident)
    ):
        return "non_resident"
    if rules.minor and event.applicant_adult is False:
        return "minor"
    fields = {_fold(f) for f in campaign.population.procedure_fields}
    if fields and _fold(event.procedure_field or "") not in fields:
        return "other_field"
    return None


def usable_channels(
    campaign_channels: Sequence[InvitationChannel],
    contact_channels: Iterable[ContactChannel],
    opted_out: Collection[str] = (),
) -> list[InvitationChannel]:
    """Campaign channels in order that this applicant can be reached by.

    ``counter`` and ``enumerator`` need no contact (a printed slip, a visit or a call
    arranged by the unit); ``"all"`` in ``opted_out`` blocks every channel.
    """
    if "all" in opted_out:
        return []
    available = set(contact_channels)
    return [
        c
        for c in campaign_channels
        if c not in opted_out and (c in {"counter", "enumerator"} or c in available)
    ]


def within_contact_cap(history: Iterable[datetime], cap: ContactCap | None, at: datetime) -> bool:
    """Whether one more invitation at ``at`` respects the cap across campaigns."""
    if cap is None:
        return True
    since = at - timedelta(days=cap.days)
    return sum(1 for moment in history if moment > since) < cap.max_invitations


def claim_key(
    campaign_id: str, unit: str, pseudonym: str, dossier_id: str, *, per_applicant: bool
) -> str:
    """What a dossier claims in a campaign: its applicant in the unit, or just itself."""
    if per_applicant:
        return f"{campaign_id}|{unit}|{pseudonym}"
    return f"{campaign_id}|dossier|{dossier_id}"
