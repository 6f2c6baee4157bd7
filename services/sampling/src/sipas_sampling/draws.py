"""Batch draws: freeze the population, draw the lists, invite; the observer's export.

Replacing a member from the reserve lists, and publishing what it stored, is
``sipas_sampling.substitutions`` (:class:`Draws` is a :class:`Substitutions`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from sipas_contracts.events import Event, InvitationSent
from sipas_runtime.mongo import Document
from sipas_runtime.publishing import publish_and_mark
from sipas_sampling.domain.allocation import AllocationError
from sipas_sampling.domain.audit import ANNOUNCED
from sipas_sampling.domain.batch import (
    FORMAT,
    DrawResult,
    Population,
    lists_document,
    normalise,
    run_draw,
)
from sipas_sampling.domain.campaign import KINDS, Campaign
from sipas_sampling.domain.eligibility import usable_channels
from sipas_sampling.drawn import FrozenPopulation, draw_summary
from sipas_sampling.inviting import build
from sipas_sampling.maintenance import Transact
from sipas_sampling.metrics import SamplingMetrics
from sipas_sampling.registry import ActiveCampaign, Registry
from sipas_sampling.store.campaigns import CampaignStore
from sipas_sampling.store.contacts import ContactStore
from sipas_sampling.store.invitations import InvitationStore
from sipas_sampling.store.population import PopulationStore
from sipas_sampling.substitutions import DrawError, Substitutions
from sipas_sampling.vault import contact_hashes, unlock

__all__ = ["DrawError", "Draws"]
log = structlog.get_logger(__name__)


def _run(campaign: Campaign, population: Population) -> DrawResult:
    try:
        return run_draw(
            campaign.seed, population, campaign.allocation, campaign.sample_size, campaign.reserve
        )
    except AllocationError as exc:
        raise DrawError(f"campaign {campaign.id!r} cannot be drawn: {exc}") from exc


class Draws(Substitutions):
    """Operations on batch campaigns: the draw, its export, and substitutions."""

    def __init__(
        self,
        *,
        registry: Registry,
        campaigns: CampaignStore,
        invitations: InvitationStore,
        population: PopulationStore,
        contacts: ContactStore,
        transact: Transact,
        publish: Callable[[Sequence[Event]], Awaitable[Any]],
        token_key: bytes,
        optout_key: bytes,
        metrics: SamplingMetrics,
    ) -> None:
        super().__init__(
            registry=registry,
            campaigns=campaigns,
            invitations=invitations,
            population=population,
            transact=transact,
            publish=publish,
            token_key=token_key,
            metrics=metrics,
        )
        self._contacts = contacts
        self._optout_key = optout_key

    async def draw(self, campaign_id: str) -> Document:
        """Freeze the population, draw the lists, create the official invitations.

        The draw is written ``announced: False`` with the invitations (each holding its
        invitation-sent event) and marked once they are on the stream: a failed publish or
        a crash before it is made good by :meth:`announce_pending`, not by drawing again.
        """
        active = self._batch(campaign_id)
        campaign = active.campaign
        if await self._campaigns.draw(campaign_id) is not None:
            raise DrawError(f"campaign {campaign_id!r} has already been drawn; substitutions only")
        key = await self._campaigns.key(campaign_id)
        frozen = await self._freeze(active, campaign_id, key)
        result = _run(campaign, frozen.population)
        lists = lists_document(campaign.id, campaign.seed, frozen.population, result)
        now = datetime.now(UTC)
        built = [
            build(
                campaign,
                frozen.invitee(d, "official"),
                vault_key=key or "",
                token_key=self._token_key,
                now=now,
            )
            for unit in result.lists.values()
            for strata in unit.values()
            for d in strata["official"]
        ]
        summary = draw_summary(frozen, result, lists, now)
        await self._store_draw(
            campaign, summary, {"population": frozen.population, "lists": lists}, built
        )
        await self._announce_draw(campaign_id, [event for _, event in built])
        for _, event in built:
            self._metrics.invitations.labels(
                campaign_id, event.unit, event.channel, "official"
            ).inc()
        return summary

    async def _freeze(
        self, active: ActiveCampaign, campaign_id: str, key: str | None
    ) -> FrozenPopulation:
        """The members of a batch campaign and, by unit and kind, those a channel reaches."""
        members = {d["dossier_id"]: d for d in await self._population.eligible(campaign_id)}
        contacts = {
            i: unlock(key, d["contact"]) if d.get("contact") else {} for i, d in members.items()
        }
        hashes = {i: contact_hashes(self._optout_key, c) for i, c in contacts.items()}
        optouts = await self._contacts.opted_out([h for hs in hashes.values() for h in hs])
        raw: dict[str, dict[str, list[str]]] = {u: {k: [] for k in KINDS} for u in active.units}
        channels: dict[str, list[Any]] = {}
        for dossier, doc in members.items():
            scopes = {s for h in hashes[dossier] for s in optouts.get(h, [])}
            channels[dossier] = usable_channels(active.campaign.channels, doc["channels"], scopes)
            if channels[dossier]:
                raw[doc["unit"]][doc["kind"]].append(dossier)
        return FrozenPopulation(members, contacts, channels, normalise(raw))

    async def _store_draw(
        self,
        campaign: Campaign,
        summary: Document,
        export: Document,
        built: list[tuple[Document, InvitationSent]],
    ) -> None:
        """The draw (its summary and what an observer re-runs) with its official invitations."""

        async def work(session: AsyncClientSession) -> None:
            await self._campaigns.add_draw(
                campaign.id,
                {
                    **summary,
                    "export": {
                        "format": FORMAT,
                        "campaign": campaign.model_dump(mode="json"),
                        **export,
                    },
                    ANNOUNCED: False,
                },
                session,
            )
            await self._invitations.add([doc for doc, _ in built], session)

        try:
            await self._transact(work)
        except DuplicateKeyError as exc:
            raise DrawError(f"campaign {campaign.id!r} has already been drawn") from exc

    async def announce_pending(self, before: datetime) -> int:
        """Publish the events of draws and log entries committed before ``before``, unsent.

        A draw is its own outbox, as a log entry is (:meth:`Substitutions.announce_pending`):
        written ``announced: False`` with its official invitations, each holding its
        invitation-sent event, and marked once they are on the stream; a crash or a failed
        publish between the two is made good here, by the upkeep, under the stored event
        ids. Returns how many draws and entries were published.
        """
        draws = [d["_id"] for d in await self._campaigns.unannounced_draws() if d["at"] < before]
        for campaign_id in draws:
            official = await self._invitations.by_campaign(campaign_id, list="official")
            events = [InvitationSent.model_validate(doc["event"]) for doc in official]
            await self._announce_draw(campaign_id, events)
        if draws:
            log.info("draws_announced_late", campaigns=draws)
        return len(draws) + await super().announce_pending(before)

    async def _announce_draw(self, campaign_id: str, events: Sequence[Event]) -> None:
        """Publish a draw's invitation events, then mark it announced."""

        async def mark(_: Sequence[Event]) -> None:
            await self._campaigns.mark_draw_announced(campaign_id)

        await publish_and_mark(self._publish, events, mark)

    async def export(self, campaign_id: str) -> Document:
        """What an observer needs to re-run the draw: campaign, population, lists, log."""
        drawn = await self._campaigns.draw(campaign_id)
        if drawn is None:
            raise DrawError(f"campaign {campaign_id!r} has not been drawn yet")
        log = [
            {k: v for k, v in e.items() if k not in {"_id", "campaign", ANNOUNCED}}
            for e in await self._campaigns.substitutions(campaign_id)
        ]
        return {**drawn["export"], "substitutions": log}
