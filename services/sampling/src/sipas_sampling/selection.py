"""Deciding on a batch of completed dossiers, inside the consumer's Mongo transaction.

For every campaign whose scope holds the dossier's unit: screen (exclusions, one dossier
per applicant per unit, a usable channel), then either decide now (continuous: draw
against the unit's adaptive rate, opt-outs, contact cap, atomic slot reservation,
invitation) or record the dossier in the population snapshot (batch: drawn later).
Every outcome is logged with the draw and the rate so an observer can check it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_contracts.events import DossierCompleted, InvitationChannel, InvitationSent
from sipas_runtime.writes import Writes
from sipas_sampling.domain.campaign import Campaign
from sipas_sampling.domain.continuous import Decision
from sipas_sampling.domain.eligibility import exclusion, usable_channels
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
from sipas_sampling.store.campaigns import CampaignStore
from sipas_sampling.store.contacts import ContactStore
from sipas_sampling.store.decisions import DecisionStore
from sipas_sampling.store.invitations import InvitationStore
from sipas_sampling.store.population import PopulationStore
from sipas_sampling.vault import contact_hashes

__all__ = ["Keys", "Selector"]


class Selector:
    """Applies every active campaign to a batch of dossiers."""

    def __init__(
        self,
        *,
        registry: Registry,
        campaigns: CampaignStore,
        decisions: DecisionStore,
        invitations: InvitationStore,
        population: PopulationStore,
        contacts: ContactStore,
        keys: Keys,
        metrics: SamplingMetrics,
    ) -> None:
        self._registry = registry
        self._campaigns = campaigns
        self._decisions = decisions
        self._invitations = invitations
        self._population = population
        self._contacts = contacts
        self._keys = keys
        self._metrics = metrics

    async def handle(
        self,
        events: Sequence[DossierCompleted],
        session: AsyncClientSession,
        now: datetime,
        writes: Writes,
    ) -> list[InvitationSent]:
        """Decide on ``events`` for every campaign; returns the invitation-sent events.

        The writes go to ``writes`` (sent in one command by the consumer); a campaign's
        reads must see the campaigns' before it (contact history, claims), so their
        writes are sent before the next campaign reads (the consumer's own, already in
        ``writes``, can wait: nothing here reads them).
        """
        outputs: list[InvitationSent] = []
        decided = False
        for active in self._registry.deciding():
            relevant = [e for e in events if e.unit in active.units]
            if not relevant:
                continue
            if decided:
                await writes.flush(session.client, session)
            decided = True
            await self._campaigns.mark_started([active.id])
            rows = await self._screen(active, relevant, session)
            if active.campaign.mode == "continuous":
                outputs.extend(await self._continuous(active, rows, session, now, writes))
            else:
                await self._collect(active, rows, writes)
        return outputs

    def campaign_ids(self, unit: str) -> list[str]:
        """Campaigns whose scope holds ``unit``."""
        return [c.id for c in self._registry.all() if unit in c.units]

    async def _screen(
        self, active: ActiveCampaign, events: list[DossierCompleted], session: AsyncClientSession
    ) -> list[Row]:
        campaign = active.campaign
        rows = [Row(e, exclusion(e, campaign, active.units, active.zone)) for e in events]
        claims, keys = claims_of(campaign, rows)
        others, repeats = await self._decisions.claim(claims, session)
        for index, (key, itself) in keys.items():
            repeated = key in repeats or itself in repeats
            rows[index].reason = "repeat" if repeated else None
            if not repeated and key in others:
                rows[index].reason = "duplicate_applicant"
        for row in rows:
            if row.reason is None and not usable_channels(
                campaign.channels, row.event.contact_channels
            ):
                row.reason = "no_usable_contact"
        return [r for r in rows if r.reason != "repeat"]

    async def _continuous(
        self,
        active: ActiveCampaign,
        rows: list[Row],
        session: AsyncClientSession,
        now: datetime,
        writes: Writes,
    ) -> list[InvitationSent]:
        campaign = active.campaign
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for row in rows:
            if row.reason in (None, "no_usable_contact"):
                counts[row.event.unit][0] += 1
                counts[row.event.unit][1] += row.reason is None
        fixed = campaign.fixed_rate is not None  # a fixed rate needs no progress
        progress = {} if fixed else await self._decisions.progress(campaign.id, counts, session)
        log, drawn = draw_rows(active, rows, progress)
        accepted = await self._contactable(campaign, drawn, log, session, now)
        invitees: list[tuple[Invitee, Decision]] = []
        seen = {u: (a, b) for u, (a, b) in counts.items()}
        wanted = {u: len(c) for u, c in accepted.items()}
        granted_by_unit = await self._decisions.apply_batch(
            campaign.id, progress, seen, wanted, writes
        )
        for unit, candidates in accepted.items():
            granted = granted_by_unit[unit]
            for index, (invitee, decision) in enumerate(candidates):
                outcome = "invited" if index < granted else "quota_full"
                log.append([invitee.dossier_id, unit, decision.draw, decision.rate, outcome])
                if index < granted:
                    invitees.append((invitee, decision))
        events = await self._invite(active, [i for i, _ in invitees], now, writes)
        invited = {i.dossier_id for i, _ in invitees}
        self._contacts.record_contacts(
            {e.applicant_pseudonym: now for e, _ in drawn if e.dossier_id in invited}, writes
        )
        self._decisions.log_decisions(campaign.id, log, now, writes)
        self._metrics.count_decisions(campaign.id, log)
        return events

    async def _contactable(
        self,
        campaign: Campaign,
        drawn: list[tuple[DossierCompleted, Decision]],
        log: list[list[Any]],
        session: AsyncClientSession,
        now: datetime,
    ) -> dict[str, list[tuple[Invitee, Decision]]]:
        """The drawn who may be invited, by unit; the others go to ``log`` with the reason."""
        contacts = {e.dossier_id: contact_of(self._keys.secret_key, e) for e, _ in drawn}
        scopes = await self._opted_out_scopes(contacts, session)
        cap = campaign.population.contact_cap
        pseudonyms = [e.applicant_pseudonym for e, _ in drawn]
        history = await self._contacts.contact_history(pseudonyms, session) if cap else {}
        accepted: dict[str, list[tuple[Invitee, Decision]]] = defaultdict(list)
        for e, decision in drawn:
            contact = contacts[e.dossier_id]
            channels: list[InvitationChannel] = usable_channels(
                campaign.channels, e.contact_channels, scopes.get(e.dossier_id, set())
            )
            earlier = history.get(e.applicant_pseudonym, [])
            reason = refusal(contact, channels, earlier, cap, now)
            if reason is not None:
                log.append([e.dossier_id, e.unit, decision.draw, decision.rate, reason])
                continue
            history.setdefault(e.applicant_pseudonym, []).append(now)
            accepted[e.unit].append((invitee_of(e, channels, contact or {}), decision))
        return accepted

    async def _opted_out_scopes(
        self, contacts: dict[str, dict[str, str] | None], session: AsyncClientSession
    ) -> dict[str, set[str]]:
        """Per dossier, the channels (or ``all``) its contacts opted out of."""
        hashes = {d: contact_hashes(self._keys.optout_key, c) for d, c in contacts.items() if c}
        optouts = await self._contacts.opted_out([h for hs in hashes.values() for h in hs], session)
        return {d: {s for h in hs for s in optouts.get(h, [])} for d, hs in hashes.items()}

    async def _invite(
        self,
        active: ActiveCampaign,
        invitees: list[Invitee],
        now: datetime,
        writes: Writes,
    ) -> list[InvitationSent]:
        if not invitees:
            return []
        key = await self._campaigns.key(active.id)
        if key is None:
            return []
        built = [
            build(active.campaign, i, vault_key=key, token_key=self._keys.token_key, now=now)
            for i in invitees
        ]
        await self._invitations.add([doc for doc, _ in built], writes=writes)
        for _, event in built:
            self._metrics.invitations.labels(
                active.id, event.unit, event.channel, event.draw_list
            ).inc()
        return [event for _, event in built]

    async def _collect(self, active: ActiveCampaign, rows: list[Row], writes: Writes) -> None:
        key = await self._campaigns.key(active.id)
        documents = [
            population_document(
                active.id,
                row.event,
                row.reason,
                contact_of(self._keys.secret_key, row.event) if row.reason is None else {},
                key,
            )
            for row in rows
        ]
        self._population.add(documents, writes)
        self._metrics.count_decisions(active.id, population_log(documents))
