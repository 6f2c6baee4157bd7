"""Sending invitations and reminders: leases, quiet hours, retries, fallback, delivery status.

Several instances may run: each claims due invitations with a lease (``claim_due``), so a
message is handed to one sender at a time. Leases are short (``LEASE``) and renewed while
the round is still sending, so a long round keeps its invitations and a killed sender's
invitations are free again within seconds, not minutes. The
channel outcome goes through :func:`sipas_sampling.domain.delivery.next_step`; every attempt
is recorded on the invitation. Undeliverable invitations release their quota slot
(continuous) or are replaced from the reserve list (batch, via ``reserves``), in the
transaction that writes the outcome.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_contracts.events import Event, InvitationSent, SubstitutionReason
from sipas_contracts.units import UnitHierarchy
from sipas_runtime.channels import (
    Channel,
    Delivery,
    DeliveryReport,
    DeliveryStatus,
    OutboundMessage,
    send_with_retry,
    to_gsm7,
)
from sipas_runtime.mongo import Document
from sipas_sampling.domain.delivery import Step, fallback, next_allowed, next_step, reminder_times
from sipas_sampling.domain.messages import render, zalo_data
from sipas_sampling.inviting import sent_event_id
from sipas_sampling.maintenance import Transact
from sipas_sampling.metrics import SamplingMetrics
from sipas_sampling.registry import ActiveCampaign, Registry
from sipas_sampling.store.campaigns import CampaignStore
from sipas_sampling.store.decisions import DecisionStore
from sipas_sampling.store.dev_outbox import DevOutbox
from sipas_sampling.store.invitations import InvitationStore
from sipas_sampling.store.states import StateChange
from sipas_sampling.vault import VaultError, unlock
from sipas_sampling.wording import wording

log = structlog.get_logger(__name__)
NEVER = datetime(9999, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=10)
RENEW_EVERY = LEASE.total_seconds() / 3  # two renewals may be late before a lease lapses


class Reserves(Protocol):
    """Replaces a batch campaign's member from its reserve (``sipas_sampling.draws.Draws``)."""

    async def replace(
        self,
        campaign_id: str,
        dossier_id: str,
        reason: SubstitutionReason,
        session: AsyncClientSession,
    ) -> Document | None:
        """In the caller's transaction: the new log entry, None when nothing was written."""
        ...

    async def announce(self, campaign_id: str, entry: Document) -> None:
        """Publish what a committed replacement stored (a failure: left to the upkeep)."""
        ...


@dataclass
class RoundWrites:
    """What one dispatch round will write: invitation state changes and outbox messages."""

    updates: list[StateChange] = field(default_factory=list)
    outbox: list[Document] = field(default_factory=list)


class Dispatcher:
    """Sends what is due through the campaign's channels (or the development outbox)."""

    def __init__(
        self,
        *,
        registry: Registry,
        hierarchy: UnitHierarchy,
        campaigns: CampaignStore,
        invitations: InvitationStore,
        decisions: DecisionStore,
        outbox: DevOutbox,
        channels: Mapping[str, Channel],
        dev_outbox: bool,
        survey_base_url: str,
        publish: Callable[[Sequence[Event]], Awaitable[Any]],
        metrics: SamplingMetrics,
        transact: Transact,
        reserves: Reserves | None = None,
        concurrency: int = 16,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._registry = registry
        self._hierarchy = hierarchy
        self._campaigns = campaigns
        self._invitations = invitations
        self._decisions = decisions
        self._outbox = outbox
        self._channels = channels
        self._dev = dev_outbox
        self._base = survey_base_url.rstrip("/")
        self._publish = publish
        self._metrics = metrics
        self._transact = transact
        self._reserves = reserves
        self._concurrency = asyncio.Semaphore(concurrency)
        self._owner = uuid.uuid4().hex
        self.clock = clock

    async def run_once(self, limit: int = 200) -> int:
        """Send everything due now; returns how many invitations were handled.

        The round's state changes and outbox messages are written in two bulk writes at the
        end rather than two writes per invitation: a crash before the flush leaves the
        leases to expire and the round is sent again (at least once).
        """
        now = self.clock()
        due = await self._invitations.claim_due(now, owner=self._owner, limit=limit, lease=LEASE)
        if not due:
            return 0
        writes = RoundWrites()
        renewing = asyncio.create_task(self._renew(due[0]["lease_owner"]))
        try:
            results = await asyncio.gather(
                *(self._one(doc, now, writes) for doc in due), return_exceptions=True
            )
        finally:
            renewing.cancel()
            await asyncio.wait([renewing])
        await self._outbox.add(writes.outbox, now)
        await self._invitations.update_all(writes.updates)
        for doc, result in zip(due, results, strict=True):
            if isinstance(result, Exception):  # retried when its lease expires
                log.error(
                    "dispatch_failed", invitation=str(doc["_id"]), error=type(result).__name__
                )
        return len(due)

    async def _renew(self, lease_id: str) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY)
            try:
                await self._invitations.renew(lease_id, self.clock() + LEASE)
            except Exception:  # noqa: BLE001 - the round goes on; the next renewal may land
                log.warning("lease_renewal_failed", lease=lease_id)

    async def _one(self, doc: Document, now: datetime, writes: RoundWrites) -> None:
        active = self._registry.get(doc["campaign"])
        if active is None or active.status != "active":
            closed = {"state": "closed", "updated_at": now}
            writes.updates.append(StateChange(doc["_id"], closed, expect=doc["state"]))
            return
        campaign = active.campaign
        allowed = next_allowed(now, campaign.quiet_hours, active.zone)
        if allowed > now:
            deferred = {"next_attempt_at": allowed, "updated_at": now}
            writes.updates.append(StateChange(doc["_id"], deferred))
            return
        if doc["state"] == "await_report":  # no delivery report in time: try the next channel
            await self._apply(
                doc,
                active,
                fallback(doc["channels"], doc["channel_index"], now),
                now,
                writes=writes,
            )
            return
        reminder = doc["state"] == "sent"
        channel = doc["channels"][doc["channel_index"]]
        try:
            message = await self._message(doc, active, channel, reminder=reminder)
        except VaultError:
            shredded = {"state": "shredded", "updated_at": now}
            writes.updates.append(StateChange(doc["_id"], shredded, expect=doc["state"]))
            return
        async with self._concurrency:
            if reminder:
                if await self._moved_on(doc):
                    return
                await self._publish([self._reminder_event(doc, channel)])
            delivery = await self._send(channel, message, doc, writes)
        step = next_step(
            delivery.status.value,
            channels=doc["channels"],
            index=doc["channel_index"],
            rounds=doc["rounds"],
            now=now,
            retry_after=delivery.retry_after,
        )
        await self._apply(
            doc,
            active,
            step,
            now,
            delivery=delivery,
            channel=channel,
            reminder=reminder,
            writes=writes,
        )

    async def _moved_on(self, doc: Document) -> bool:
        """Whether a reminder's invitation left the state it was claimed in (answered, say).

        A cheap read just before the send: someone who answered after the round claimed the
        invitation gets no reminder and no invitation-sent event for it (the state write
        after the send would be refused, but the message and the event would have gone out).
        A window remains: an answer while the send itself is in flight still gets the
        reminder. That is harmless for quotas: the answer is counted once and the send's
        state write is refused (``expect``), so the invitation stays answered.
        """
        current = await self._invitations.get(doc["_id"])
        if current is not None and current["state"] == doc["state"]:
            return False
        log.info("reminder_skipped", invitation=str(doc["_id"]))
        return True

    async def _message(
        self, doc: Document, active: ActiveCampaign, channel: str, *, reminder: bool
    ) -> OutboundMessage:
        key = await self._campaigns.key(active.id)
        contact = unlock(key, doc["contact"])
        link = f"{self._base}/s/{unlock(key, doc['token'])['token']}"
        templates = active.campaign.templates
        unit = self._hierarchy.units.get(doc["unit"])
        rendered = render(
            templates,
            wording(templates.language),
            unit=unit.name_vi if unit else doc["unit"],
            link=link,
            dossier=doc["dossier_id"],
            officer=doc.get("officer"),
            reminder=reminder,
        )
        params = {"link": link, "unit_code": doc["unit"]}
        if channel == "zalo" and templates.zalo is not None:
            params = {
                "template_id": templates.zalo.template_id,
                **zalo_data(templates, rendered.params),
            }
        recipient = contact.get("email" if channel == "email" else "phone", "")
        return OutboundMessage(
            recipient=recipient,
            text=rendered.sms if channel == "sms" else rendered.text,
            key=f"{doc['_id']}-{doc['attempt'] + reminder}",
            subject=rendered.subject,
            html=rendered.html if channel == "email" else None,
            params={**params, "dev_link": link},
        )

    async def _send(
        self, channel: str, message: OutboundMessage, doc: Document, writes: RoundWrites
    ) -> Delivery:
        started = time.monotonic()
        if self._dev:
            delivery = self._to_outbox(channel, message, doc, writes)
        elif channel not in self._channels:
            delivery = Delivery(
                DeliveryStatus.PERMANENT,
                code="not_configured",
                channel_fault=True,
                detail=f"no {channel} gateway configured",
            )
        else:
            params = {k: v for k, v in message.params.items() if k not in {"dev_link", "unit_code"}}
            real = OutboundMessage(
                message.recipient, message.text, message.key, message.subject, message.html, params
            )
            try:
                delivery = await send_with_retry(
                    self._channels[channel], real, attempts=2, initial_wait=0.2
                )
            except Exception as exc:
                log.exception("channel_crashed", channel=channel)
                delivery = Delivery(
                    DeliveryStatus.PERMANENT, code="crash", detail=type(exc).__name__
                )
        self._metrics.send_seconds.labels(channel).observe(time.monotonic() - started)
        self._metrics.deliveries.labels(channel, delivery.status.value).inc()
        if delivery.channel_fault:
            self._metrics.channel_faults.labels(channel, delivery.code or "").inc()
            log.error("channel_fault", channel=channel, code=delivery.code, detail=delivery.detail)
        return delivery

    def _to_outbox(
        self, channel: str, message: OutboundMessage, doc: Document, writes: RoundWrites
    ) -> Delivery:
        text = to_gsm7(message.text) if channel == "sms" else message.text
        writes.outbox.append(
            {
                "_id": message.key,
                "invitation_id": str(doc["_id"]),
                "channel": channel,
                "recipient": message.recipient,
                "text": text,
                "link": message.params["dev_link"],
                "unit": doc["unit"],
            }
        )
        return Delivery(DeliveryStatus.SENT, provider_id=message.key, code="dev")

    def _reminder_event(self, doc: Document, channel: str) -> InvitationSent:
        first = InvitationSent.model_validate(doc["event"])
        attempt = doc["attempt"] + 1
        at = doc["next_attempt_at"]
        return first.model_copy(
            update={
                "event_id": sent_event_id(first.campaign_id, doc["dossier_id"], attempt, at),
                "occurred_at": at,
                "attempt": attempt,
                "channel": channel,
            }
        )

    async def _apply(
        self,
        doc: Document,
        active: ActiveCampaign,
        step: Step,
        now: datetime,
        *,
        delivery: Delivery | None = None,
        channel: str | None = None,
        reminder: bool = False,
        writes: RoundWrites | None = None,
    ) -> None:
        changes: Document = {
            "updated_at": now,
            "rounds": step.rounds,
            "channel_index": step.channel_index,
        }
        if step.action == "sent":
            pending = (
                doc["reminders"][1:]
                if reminder
                else [
                    t
                    for t in reminder_times(now, active.campaign.reminder_days)
                    if t < doc["expires_at"]
                ]
            )
            changes.update(
                state="sent",
                reminders=pending,
                next_attempt_at=pending[0] if pending else NEVER,
                attempt=doc["attempt"] + reminder,
            )
            changes.setdefault("sent_at", doc.get("sent_at") or now)
        elif step.action in {"retry", "await_report"}:
            changes.update(state=step.action, next_attempt_at=step.at)
        elif step.action == "fallback":
            changes.update(state="queued", next_attempt_at=now)
        else:
            changes.update(state="undeliverable", next_attempt_at=NEVER)
        attempt = None
        if delivery is not None:
            attempt = {
                "at": now,
                "channel": channel,
                "status": delivery.status.value,
                "code": delivery.code,
                "provider_id": delivery.provider_id,
                "detail": delivery.detail[:200],
                "reminder": reminder,
            }
        # Each change applies only to an invitation still in the state it was made from: not
        # once the person answered, the token lapsed, a delivery report or another sender
        # (whose lease followed a stalled one's) moved it on meanwhile.
        expect = doc["state"]
        if step.action == "undeliverable":
            await self._give_up(StateChange(doc["_id"], changes, attempt, expect), doc, active)
        elif writes is None:
            await self._invitations.update(doc["_id"], changes, attempt=attempt, expect=expect)
        else:
            writes.updates.append(StateChange(doc["_id"], changes, attempt, expect))

    async def _give_up(self, change: StateChange, doc: Document, active: ActiveCampaign) -> None:
        """Write an undeliverable outcome; if it applied, free its slot or call a reserve.

        Written at once, not with the round, and the slot released (continuous) or the member
        replaced from the reserve (batch) only if the change applied, in the same transaction:
        so once at most (a round sent again after a crash finds it undeliverable already, no
        longer due; a second sender finds it moved on), and at least once (a failure between
        the writes leaves none of them: it is sent again). The replacement's events are
        published once it committed (or by the upkeep, if that publish fails).
        """
        continuous = doc["list"] == "continuous"

        async def work(session: AsyncClientSession) -> tuple[bool, Document | None]:
            invitation_id, changes, attempt, expect = change
            if not await self._invitations.update(
                invitation_id, changes, attempt=attempt, expect=expect, session=session
            ):
                return False, None
            if continuous:
                await self._decisions.settle(active.id, doc["unit"], release=1, session=session)
            elif self._reserves is not None:
                reason: SubstitutionReason = "unreachable"
                entry = await self._reserves.replace(active.id, doc["dossier_id"], reason, session)
                return True, entry
            return True, None

        applied, entry = await self._transact(work)
        if not applied:
            return
        self._metrics.settled.labels(active.id, "undeliverable").inc()
        if entry is not None and self._reserves is not None:
            await self._reserves.announce(active.id, entry)

    async def report(self, report: DeliveryReport) -> bool:
        """Apply a gateway delivery report; False when the invitation is unknown."""
        try:
            invitation_id = uuid.UUID(report.key.rsplit("-", 1)[0])
        except ValueError:
            return False
        doc = await self._invitations.get(invitation_id)
        if doc is None:
            return False
        now = self.clock()
        await self._invitations.update(
            invitation_id,
            {
                "last_report": {
                    "at": now,
                    "delivered": report.delivered,
                    "failed": report.failed,
                    "provider_id": report.provider_id,
                }
            },
        )
        active = self._registry.get(doc["campaign"])
        if (
            report.failed
            and report.final
            and active is not None
            and doc["state"] in {"sent", "await_report"}
        ):
            await self._apply(
                doc, active, fallback(doc["channels"], doc["channel_index"], now), now
            )
        elif report.delivered and doc["state"] == "await_report" and active is not None:
            await self._apply(doc, active, Step("sent", doc["channel_index"]), now)
        return True
