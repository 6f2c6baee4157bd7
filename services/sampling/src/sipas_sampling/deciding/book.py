"""Deciding on completed dossiers from memory: one dossier at a time, nothing read (#22).

The owner of the dossiers' durable holds what a decision reads: the claims
(``ClaimBook``), each unit's quota and counters (``QuotaBook``), the opt-outs, the
contact history and the campaigns' vault keys. It applies the same rules as the
store-backed path (``sipas_sampling.screening``), dossier after dossier in stream order,
so a replay of the same messages decides the same whatever its batches: a unit's rate is
read before each dossier (the store path reads it once per batch: with batches of one
dossier the two agree exactly). What it decides waits in :class:`Pending` for the next
checkpoint, and its invitation events in :attr:`DecisionBook.outbox` for the publisher.

Every draw that invites takes ``now`` from the message (when the stream stored it, in whole
seconds), so
the event id (``sent_event_id``) and the token (``derived_token``) come out the same when
another owner decides the message again after a crash; JetStream drops the duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sipas_contracts.events import DossierCompleted, InvitationSent
from sipas_runtime.batches import Delivery
from sipas_runtime.checkpoints import NotReadyError
from sipas_runtime.mongo import Document
from sipas_sampling.domain.claims import ClaimBook
from sipas_sampling.domain.eligibility import exclusion, usable_channels
from sipas_sampling.domain.quotas import QuotaBook
from sipas_sampling.inviting import Invitee, build
from sipas_sampling.metrics import SamplingMetrics
from sipas_sampling.registry import ActiveCampaign, Registry
from sipas_sampling.screening import (
    Keys,
    Row,
    claims_of,
    contact_of,
    draw_rows,
    invitee_of,
    population_document,
    population_log,
    refusal,
)
from sipas_sampling.vault import contact_hashes

HISTORY = 20
"""Invitation times kept per applicant (as ``ContactStore.record_contacts`` trims them)."""


class VaultKeyMissingError(NotReadyError):
    """Raised when a campaign decides before its vault key was loaded.

    The message waits: the refresh loads the key of a campaign that started deciding since.
    """


@dataclass
class Pending:
    """What was decided since the last checkpoint, to be written with the next."""

    invitations: list[Document] = field(default_factory=list)
    log: dict[str, list[list[Any]]] = field(default_factory=dict)
    logged_at: dict[str, datetime] = field(default_factory=dict)
    population: list[Document] = field(default_factory=list)
    contacts: dict[str, list[datetime]] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)


@dataclass
class _Screened:
    row: Row
    claims: dict[str, str]


class DecisionBook:
    """The in-memory state of the units one owner decides for, and the decision rules."""

    def __init__(self, registry: Registry, keys: Keys, metrics: SamplingMetrics) -> None:
        self._registry = registry
        self._keys = keys
        self._metrics = metrics
        self.quotas = QuotaBook()
        self.claims = ClaimBook()
        self.optouts: dict[str, list[str]] = {}
        """Opt-out scopes by contact hash (refreshed from the store)."""
        self.history: dict[str, list[datetime]] = {}
        """Invitation times by applicant pseudonym (loaded, then this owner's own)."""
        self.vault: dict[str, str | None] = {}
        """Vault keys by campaign (None once shredded)."""
        self.pending = Pending()
        self.outbox: list[InvitationSent] = []
        """Invitation events decided and not yet published."""
        self._partial: set[int] = set()

    def fold(self, deliveries: Sequence[Delivery[DossierCompleted]]) -> None:
        """Decide on each delivery in order.

        A dossier is decided whole or not at all; if one raises, those before it stay
        decided and the consumer's retry one message at a time skips them.
        """
        for delivery in deliveries:
            if delivery.seq in self._partial:
                continue
            event = delivery.event
            stored_at = delivery.stored_at or event.occurred_at
            # Whole seconds: a pulled message's time comes through a float (nats-py), a
            # message read back by sequence through text; they differ by a microsecond.
            self.decide(event, stored_at.replace(microsecond=0))
            self._partial.add(delivery.seq)
        self._partial.difference_update(d.seq for d in deliveries)

    def decide(self, event: DossierCompleted, now: datetime) -> None:
        """Every deciding campaign whose scope holds the dossier's unit decides on it.

        A campaign whose vault key is not loaded yet makes the whole dossier wait, before
        any campaign decides on it (decided again later, one campaign's excluded row would
        be logged twice: only eligible rows leave a claim).
        """
        deciding = [active for active in self._registry.deciding() if event.unit in active.units]
        for active in deciding:
            if active.id not in self.vault:
                raise VaultKeyMissingError(active.id)
        for active in deciding:
            self.pending.started.add(active.id)
            screened = self._screen(active, event)
            if screened is None:
                continue  # a repeat: decided before
            if active.campaign.mode == "continuous":
                self._continuous(active, screened, now)
            else:
                self._collect(active, screened)

    def _screen(self, active: ActiveCampaign, event: DossierCompleted) -> _Screened | None:
        campaign = active.campaign
        row = Row(event, exclusion(event, campaign, active.units, active.zone))
        claims, keys = claims_of(campaign, [row])
        if keys:
            others, repeats = self.claims.check(claims)
            key, itself = keys[0]
            if key in repeats or itself in repeats:
                return None
            if key in others:
                row.reason = "duplicate_applicant"
        if row.reason is None and not usable_channels(campaign.channels, event.contact_channels):
            row.reason = "no_usable_contact"
        return _Screened(row, claims)

    def _continuous(self, active: ActiveCampaign, screened: _Screened, now: datetime) -> None:
        campaign, row = active.campaign, screened.row
        e, unit = row.event, row.event.unit
        held = self.quotas.unit(campaign.id, unit)
        progress = {} if campaign.fixed_rate is not None else {unit: held.progress()}
        log, drawn = draw_rows(active, [row], progress)
        invitation: tuple[Document, InvitationSent] | None = None
        for _, decision in drawn:
            contact = contact_of(self._keys.secret_key, e)
            channels = usable_channels(
                campaign.channels, e.contact_channels, self._opted_out(contact)
            )
            history = self.history.get(e.applicant_pseudonym, [])
            reason = refusal(contact, channels, history, campaign.population.contact_cap, now)
            if reason is None and not held.room(1):
                reason = "quota_full"
            if reason is None:
                invitation = self._build(active, invitee_of(e, channels, contact or {}), now)
            outcome = reason or "invited"
            log.append([e.dossier_id, unit, decision.draw, decision.rate, outcome])
        # Nothing below raises: the dossier is applied whole.
        self.claims.take(screened.claims)
        eligible = row.reason in {None, "no_usable_contact"}
        self.quotas.seen(campaign.id, unit, eligible=eligible, reachable=row.reason is None)
        if log[-1][4] == "invited":
            self.quotas.reserve(campaign.id, unit, 1)
            self._invited(e.applicant_pseudonym, now, invitation)
        self.pending.log.setdefault(campaign.id, []).extend(log)
        self.pending.logged_at[campaign.id] = now
        self._metrics.count_decisions(campaign.id, log)

    def _build(
        self, active: ActiveCampaign, invitee: Invitee, now: datetime
    ) -> tuple[Document, InvitationSent] | None:
        if active.id not in self.vault:
            raise VaultKeyMissingError(active.id)
        key = self.vault[active.id]
        if key is None:
            return None  # shredded: as the store path, the slot is taken, nothing is sent
        return build(
            active.campaign, invitee, vault_key=key, token_key=self._keys.token_key, now=now,
            derive_token=True,
        )  # fmt: skip

    def _invited(
        self, pseudonym: str, now: datetime, invitation: tuple[Document, InvitationSent] | None
    ) -> None:
        history = self.history.setdefault(pseudonym, [])
        history.append(now)
        del history[:-HISTORY]
        self.pending.contacts.setdefault(pseudonym, []).append(now)
        if invitation is not None:
            document, event = invitation
            self.pending.invitations.append(document)
            self.outbox.append(event)
            self._metrics.invitations.labels(
                event.campaign_id, event.unit, event.channel, event.draw_list
            ).inc()

    def _opted_out(self, contact: dict[str, str] | None) -> set[str]:
        if not contact:
            return set()
        hashes = contact_hashes(self._keys.optout_key, contact)
        return {scope for h in hashes for scope in self.optouts.get(h, [])}

    def _collect(self, active: ActiveCampaign, screened: _Screened) -> None:
        row = screened.row
        if active.id not in self.vault:
            raise VaultKeyMissingError(active.id)
        contact = contact_of(self._keys.secret_key, row.event) if row.reason is None else {}
        document = population_document(
            active.id, row.event, row.reason, contact, self.vault[active.id]
        )
        self.claims.take(screened.claims)
        self.pending.population.append(document)
        self._metrics.count_decisions(active.id, population_log([document]))
