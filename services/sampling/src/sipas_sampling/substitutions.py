"""Substitutions of a batch campaign's members from the reserve lists, and their outbox.

A listed member who refuses, cannot be reached or whose every channel fails is replaced by
the next reserve of the stratum (``domain.audit.next_substitute``): the hash-chained log
entry, the replaced token closed and the reserve invited are written in one transaction,
the caller's own (the dispatcher's undeliverable outcome) or one of their own. The log is
the substitutions' outbox (:meth:`Substitutions.announce_pending`).
``sipas_sampling.draws.Draws`` adds the draw itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_contracts.events import Event, InvitationClosed, InvitationSent, SubstitutionReason
from sipas_runtime.mongo import Document
from sipas_runtime.publishing import publish_and_mark
from sipas_sampling.domain.audit import ANNOUNCED, next_entry, next_substitute
from sipas_sampling.domain.eligibility import usable_channels
from sipas_sampling.drawn import DrawnCampaign, invitee
from sipas_sampling.inviting import build, closed
from sipas_sampling.maintenance import Transact
from sipas_sampling.metrics import SamplingMetrics
from sipas_sampling.registry import ActiveCampaign, Registry
from sipas_sampling.store.campaigns import CampaignStore
from sipas_sampling.store.invitations import InvitationStore
from sipas_sampling.store.population import PopulationStore
from sipas_sampling.vault import unlock

log = structlog.get_logger(__name__)


class DrawError(ValueError):
    """Raised when a draw or substitution is not possible (the message says why)."""


class Substitutions:
    """A drawn batch campaign's members replaced from its reserve lists."""

    def __init__(
        self,
        *,
        registry: Registry,
        campaigns: CampaignStore,
        invitations: InvitationStore,
        population: PopulationStore,
        transact: Transact,
        publish: Callable[[Sequence[Event]], Awaitable[Any]],
        token_key: bytes,
        metrics: SamplingMetrics,
    ) -> None:
        self._registry = registry
        self._campaigns = campaigns
        self._invitations = invitations
        self._population = population
        self._transact = transact
        self._publish = publish
        self._token_key = token_key
        self._metrics = metrics

    def _batch(self, campaign_id: str) -> ActiveCampaign:
        active = self._registry.get(campaign_id)
        if active is None:
            raise DrawError(f"unknown campaign {campaign_id!r}")
        if active.campaign.mode != "batch" or active.status != "active":
            raise DrawError(f"campaign {campaign_id!r} is not an active batch campaign")
        return active

    async def substitute(
        self, campaign_id: str, dossier_id: str, reason: SubstitutionReason
    ) -> Document:
        """Replace a listed member by the next reserve of the stratum; log it.

        In the same transaction the replaced invitation keeps the event closing its token
        (invitation-closed), the reserve's invitation its invitation-sent event, and the
        entry ``announced: False``; both events are published once it committed, under ids
        fixed then, and the entry marked announced (see :meth:`announce_pending` for a
        publish that failed or a crash before it). Reporting the same member again with the
        same reason (an enumerator's app syncing twice) answers the logged entry again, with
        ``repeated`` true, and re-publishes both stored events (de-duplicated by their ids);
        another reason is refused.
        """
        drawing = await self._drawn(campaign_id)

        async def work(session: AsyncClientSession) -> tuple[Document, bool]:
            return await self._replace(drawing, dossier_id, reason, session)

        entry, fresh = await self._transact(work)
        substitute = await self._announce(campaign_id, entry)
        if fresh:
            self._metrics.substitutions.labels(campaign_id, reason).inc()
        return {
            **{k: v for k, v in entry.items() if k not in {"_id", "campaign", ANNOUNCED}},
            "substitute_invitation_id": str(substitute["_id"]) if substitute else None,
            "repeated": not fresh,
        }

    async def replace(
        self,
        campaign_id: str,
        dossier_id: str,
        reason: SubstitutionReason,
        session: AsyncClientSession,
    ) -> Document | None:
        """Within the caller's transaction, replace a member as ``substitute`` does.

        The new log entry, for :meth:`announce` once the transaction committed; None when
        nothing was written (replaced already, or no reserve left: logged). Every check that
        refuses comes before the first write, so a refusal leaves the caller's writes whole.
        """
        try:
            drawing = await self._drawn(campaign_id)
            entry, fresh = await self._replace(drawing, dossier_id, reason, session)
        except DrawError as exc:
            log.warning("no_substitute", campaign=campaign_id, dossier=dossier_id, reason=str(exc))
            return None
        return entry if fresh else None

    async def announce(self, campaign_id: str, entry: Document) -> None:
        """Count what a committed :meth:`replace` stored and publish it.

        The events: the replaced member's token closed, the reserve's invitation sent. A
        failed publish is logged and left to :meth:`announce_pending`.
        """
        self._metrics.substitutions.labels(campaign_id, entry["reason"]).inc()
        await self._announce(campaign_id, entry)

    async def announce_pending(self, before: datetime) -> int:
        """Publish the events of log entries committed before ``before``, never announced.

        The log is the substitutions' outbox: an entry is written ``announced: False`` with
        its events and marked once they are on the stream, so a crash (or a failed publish)
        between the commit and the publish leaves it to this call, which the upkeep makes.
        Younger entries are left to their own publish. The event ids are those stored, so a
        copy is dropped by JetStream within its duplicate window, and later by intake's
        tokens and scoring's funnel, which apply an invitation's events by its id. Returns
        how many entries were published.
        """
        pending = [
            e
            for e in await self._campaigns.unannounced()
            if datetime.fromisoformat(e["at"]) < before
        ]
        for entry in pending:
            await self._announce(entry["campaign"], entry)
        if pending:
            log.info("substitutions_announced_late", entries=len(pending))
        return len(pending)

    async def _drawn(self, campaign_id: str) -> DrawnCampaign:
        active = self._batch(campaign_id)
        drawn = await self._campaigns.draw(campaign_id)
        if drawn is None:
            raise DrawError(f"campaign {campaign_id!r} has not been drawn yet")
        return DrawnCampaign(active, campaign_id, await self._campaigns.key(campaign_id), drawn)

    async def _announce(self, campaign_id: str, entry: Document) -> Document | None:
        """Publish the events a substitution stored, then mark it; the reserve's invitation."""
        substitute = await self._invitation_of(campaign_id, entry["substitute"])

        async def mark(_: Sequence[Event]) -> None:
            await self._campaigns.mark_announced(campaign_id, entry["seq"])

        events = await self._stored_events(campaign_id, entry, substitute)
        await publish_and_mark(self._publish, events, mark)
        return substitute

    async def _stored_events(
        self, campaign_id: str, entry: Document, substitute: Document | None
    ) -> list[Event]:
        """The events a substitution committed: the replaced token closed, the reserve invited."""
        replaced = await self._invitation_of(campaign_id, entry["replaced"])
        events: list[Event] = []
        if replaced is not None and replaced.get("closed_event"):
            events.append(InvitationClosed.model_validate(replaced["closed_event"]))
        if substitute is not None:
            events.append(InvitationSent.model_validate(substitute["event"]))
        return events

    async def _replace(
        self,
        drawn: DrawnCampaign,
        dossier_id: str,
        reason: SubstitutionReason,
        session: AsyncClientSession,
    ) -> tuple[Document, bool]:
        """Log the substitution, close the replaced token, invite the reserve (fresh: True).

        Refused (``DrawError``) before any write: the caller's transaction may go on.
        """
        logged = await self._campaigns.substitutions(drawn.campaign_id, session)
        earlier = next((e for e in logged if e["replaced"] == dossier_id), None)
        if earlier is not None:
            if earlier["reason"] != reason:
                raise DrawError(f"{dossier_id!r} was already replaced ({earlier['reason']})")
            return earlier, False
        invitation = await self._listed(drawn.campaign_id, dossier_id)
        strata = drawn.lists[invitation["unit"]]
        used = {d for s in strata.values() for d in s["official"]}
        used |= {e["substitute"] for e in logged}
        found = next_substitute(strata, invitation["kind"], used, transfer=drawn.transfers())
        if found is None:
            raise DrawError(f"the reserve list of {invitation['unit']} is exhausted")
        member = await self._member(drawn.campaign_id, found[0], session)
        now = datetime.now(UTC)
        entry = {**next_entry(logged, invitation, found, reason, now), ANNOUNCED: False}
        await self._campaigns.add_substitution(drawn.campaign_id, entry, session)
        sent = await self._invite_reserve(drawn.active, drawn.key, member, session)
        closing = closed(invitation, reason, sent.invitation_id, now)
        await self._invitations.update(
            invitation["_id"],
            {
                "state": "substituted",
                "updated_at": now,
                "closed_event": closing.model_dump(mode="json"),
            },
            session=session,
        )
        return entry, True

    async def _listed(self, campaign_id: str, dossier_id: str) -> Document:
        """The invitation of a member who may be replaced (listed, not answered)."""
        invitation = await self._invitation_of(campaign_id, dossier_id)
        if invitation is None:
            raise DrawError(f"{dossier_id!r} is not on the official or an activated reserve list")
        if invitation["state"] == "answered":
            raise DrawError(f"{dossier_id!r} has already answered")
        return invitation

    async def _invitation_of(self, campaign_id: str, dossier_id: str) -> Document | None:
        found = await self._invitations.by_campaign(campaign_id, dossier_id=dossier_id)
        return found[0] if found else None

    async def _invite_reserve(
        self,
        active: ActiveCampaign,
        key: str | None,
        member: Document,
        session: AsyncClientSession,
    ) -> InvitationSent:
        """Create the reserve's invitation (inside the substitution's transaction)."""
        doc, event = build(
            active.campaign,
            invitee(
                member,
                usable_channels(active.campaign.channels, member["channels"]),
                unlock(key, member["contact"]) if member.get("contact") else {},
                "reserve",
            ),
            vault_key=key or "",
            token_key=self._token_key,
            now=datetime.now(UTC),
        )
        await self._invitations.add([doc], session)
        return event

    async def _member(
        self, campaign_id: str, dossier_id: str, session: AsyncClientSession
    ) -> Document:
        member = await self._population.member(campaign_id, dossier_id, session)
        if member is None:
            raise DrawError(f"{dossier_id!r} is not in the population")
        return member
