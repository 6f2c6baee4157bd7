"""Casework: hits become alerts on cases; people and the clock move cases along.

:class:`CaseDesk` is the one place that opens cases, attaches alerts, applies actions and
deadlines, and records what to publish and whom to notify, always inside a transaction
with the effect. JetStream handlers call :meth:`CaseDesk.receive` with their session (the
consumer publishes what it returns); HTTP actions and timers call :meth:`CaseDesk.act` and
:meth:`CaseDesk.advance`, which run their own transaction and publish after the commit
(an outbox relay re-publishes anything a crash left behind).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_alerts.domain.alerts import Hit
from sipas_alerts.domain.cases import MOVES, Actor, Case
from sipas_alerts.domain.errors import CaseNotFoundError, StaleCaseError
from sipas_alerts.domain.grouping import GroupState, by_group, place
from sipas_alerts.domain.lifecycle import Step, act, case_event, check_deadlines, note_on
from sipas_alerts.domain.policy import Policy
from sipas_alerts.metrics import AlertsMetrics
from sipas_alerts.notices import Notices
from sipas_alerts.store import Stores
from sipas_contracts.events import Event
from sipas_runtime.mongo import Document, in_transaction
from sipas_runtime.publishing import EventPublisher

Clock = Callable[[], datetime]
T = TypeVar("T")


def system_clock() -> datetime:
    """Now, in UTC, at the millisecond precision Mongo stores."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class CaseDesk:
    """Opens, attaches, moves and escalates cases (see the module docstring)."""

    def __init__(
        self,
        *,
        stores: Stores,
        mongo: Callable[[], AsyncMongoClient[Document]],
        publisher: Callable[[], EventPublisher],
        policy: Policy,
        notices: Notices,
        metrics: AlertsMetrics,
        clock: Clock = system_clock,
    ) -> None:
        self._stores = stores
        self._mongo = mongo
        self._publisher = publisher
        self.policy = policy
        self.notices = notices
        self.metrics = metrics
        self.clock = clock

    # -- alerts in ---------------------------------------------------------------------------
    async def receive(
        self, hits: Sequence[Hit], session: AsyncClientSession, *, pending: bool = False
    ) -> list[Event]:
        """Attach ``hits`` to their groups' active cases or open new ones; the events.

        ``pending`` marks a caller without redelivery (a timer): its hits are checked against
        the stored alerts (a rule re-evaluated the same day fires once) and all its events
        go through the outbox. A JetStream handler's hits are new by construction (the
        consumer's processed-event markers), which spares the hot path that query.
        """
        stores = self._stores
        fresh = await stores.cases.unseen(hits, session) if pending else list(hits)
        if not fresh:
            return []
        now = self.clock()
        groups = by_group(fresh)
        known = await stores.cases.groups_of(groups, session)
        current = await stores.cases.get_many({g.current for g in known.values()}, session)
        states = {k: GroupState(g.seq, current.get(g.current)) for k, g in known.items()}
        placement = place(
            groups, states, now=now, sla=self.policy.sla, calendar=self.policy.calendar
        )
        await stores.cases.open(placement.opened, session)
        await stores.cases.attach(placement.attached, session)
        await stores.cases.add_alerts(placement.placed, session)
        return await self._emit_received(
            placement.opened, placement.placed, session, now=now, pending=pending
        )

    async def _emit_received(
        self,
        opened: Sequence[Case],
        placed: Sequence[tuple[Hit, str]],
        session: AsyncClientSession,
        *,
        now: datetime,
        pending: bool,
    ) -> list[Event]:
        first_source = {case_id: str(hit.source_event_id) for hit, case_id in reversed(placed)}
        opened_events: list[tuple[Event, str]] = [
            (
                case_event(case, "opened", previous_state=None, actor_role="system"),
                first_source[str(case.case_id)],
            )
            for case in opened
        ]
        alert_events = [
            (hit.event(UUID(case_id)), str(hit.source_event_id)) for hit, case_id in placed
        ]
        # The stored alerts rebuild their alert-raised events on redelivery (see replay), so
        # on the hot path only case events go to the outbox: half the writes per alert.
        # Events born outside a consumer (``pending``) have no redelivery: all are recorded.
        recorded = [*opened_events, *alert_events] if pending else opened_events
        stores = self._stores
        await stores.outbox.record(recorded, session, now=now, pending=pending)
        notes = [note for case in opened for note in self.notices.for_change(case, "opened")]
        await stores.notifications.enqueue(notes, session, now=now)
        for hit, _ in placed:
            self.metrics.alerts.labels(hit.rule, hit.unit).inc()
        for case in opened:
            self.metrics.opened.labels(case.rule, case.unit).inc()
            if not self.notices.has_contact(case):
                self.metrics.opened_without_contact.labels(case.unit).inc()
        return [event for event, _ in (*opened_events, *alert_events)]

    async def replay(self, sources: Iterable[str], session: AsyncClientSession) -> list[Event]:
        """The events emitted for ``sources`` before (a redelivered event re-publishes them)."""
        sources = list(sources)
        stores = self._stores
        cases = await stores.outbox.of_sources(sources, session)
        return [*cases, *await stores.cases.alerts_of_sources(sources, session)]

    # -- people act --------------------------------------------------------------------------
    async def act(
        self,
        actor: Actor,
        case_id: str,
        action: str,
        *,
        note: str | None = None,
        expected_version: int | None = None,
        guard: Callable[[Case], None] = lambda _case: None,
    ) -> Case:
        """Apply ``action`` by ``actor`` (``guard`` checks the caller may see the case)."""

        async def work(session: AsyncClientSession) -> tuple[Case, Case, list[Event]]:
            case = await self._load(case_id, session, guard)
            now = self.clock()
            new = act(
                case, action, actor, now=now, sla=self.policy.sla,
                calendar=self.policy.calendar, note=note, expected_version=expected_version,
            )  # fmt: skip
            step = Step(new, MOVES[action].change, case.state)
            events = await self._save_steps(case, [step], actor.role, session, now=now)
            return case, new, events

        before, after, events = await self._transaction(work)
        await self.publish(events)
        self._count_transition(before, after)
        return after

    async def annotate(
        self,
        actor: Actor,
        case_id: str,
        *,
        action: str,
        note: str | None,
        guard: Callable[[Case], None] = lambda _case: None,
    ) -> Case:
        """Add a note, or a record of who viewed what, to a case's audit trail."""

        async def work(session: AsyncClientSession) -> Case:
            case = await self._load(case_id, session, guard)
            new = note_on(case, actor, now=self.clock(), action=action, note=note)
            if not await self._stores.cases.save(new, case.version, session):
                raise StaleCaseError(case.version, case.version + 1)
            return new

        return await self._transaction(work)

    async def _load(
        self, case_id: str, session: AsyncClientSession, guard: Callable[[Case], None]
    ) -> Case:
        case = await self._stores.cases.get(case_id, session)
        if case is None:
            raise CaseNotFoundError(case_id)
        guard(case)
        return case

    # -- the clock acts ----------------------------------------------------------------------
    async def advance(self, case: Case) -> list[Step]:
        """Escalate ``case``'s missed deadlines and auto-close it when due; the steps taken."""
        now = self.clock()
        steps = check_deadlines(case, now=now, sla=self.policy.sla, calendar=self.policy.calendar)
        if not steps:
            return []

        async def work(session: AsyncClientSession) -> list[Event]:
            return await self._save_steps(case, steps, "system", session, now=now)

        try:
            events = await self._transaction(work)
        except StaleCaseError:
            return []  # changed meanwhile (a person acted): the next sweep looks again
        await self.publish(events)
        for step in steps:
            self._count_step(step)
        return steps

    async def _save_steps(
        self,
        case: Case,
        steps: Sequence[Step],
        role: str,
        session: AsyncClientSession,
        *,
        now: datetime,
    ) -> list[Event]:
        final = steps[-1].case
        stores = self._stores
        if not await stores.cases.save(final, case.version, session):
            raise StaleCaseError(case.version, case.version + 1)
        events: list[Event] = [
            case_event(
                s.case, s.change, previous_state=s.previous_state, actor_role=role, breach=s.breach
            )
            for s in steps
        ]
        await stores.outbox.record(
            [(e, f"case:{e.event_id}") for e in events], session, now=now, pending=True
        )
        notes = [
            note
            for s in steps
            if s.change in {"escalated", "reopened"}
            for note in self.notices.for_change(s.case, "escalated" if s.breach else "reopened")
        ]
        await stores.notifications.enqueue(notes, session, now=now)
        return events

    # -- plumbing ----------------------------------------------------------------------------
    async def _transaction(self, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        return await in_transaction(self._mongo(), work)

    async def publish(self, events: Sequence[Event]) -> None:
        """Publish events recorded as pending and mark them sent (the relay retries failures)."""
        if events:
            outbox = self._stores.outbox
            await self._publisher().publish_from_outbox(events, outbox.mark_published)

    def _count_transition(self, before: Case, after: Case) -> None:
        if (
            after.acknowledged_at
            and not before.acknowledged_at
            and after.acknowledge_seconds is not None
        ):
            self.metrics.time_to_acknowledge.labels(after.rule).observe(after.acknowledge_seconds)
        if after.state == "resolved" and after.resolve_seconds is not None:
            self.metrics.time_to_resolve.labels(after.rule).observe(after.resolve_seconds)
        if before.active and not after.active:
            self.metrics.closed.labels(after.rule, after.unit, after.state).inc()

    def _count_step(self, step: Step) -> None:
        # Auto-closing a resolved case is not counted again: it left the active states
        # (and was counted as resolved) when it was resolved.
        if step.breach is not None:
            self.metrics.breaches.labels(step.breach, step.case.unit).inc()
            for agency in self._escalated_by(step):
                self.metrics.escalations.labels(agency).inc()

    def _escalated_by(self, step: Step) -> tuple[str, ...]:
        sla = self.policy.sla
        return (
            sla.escalate_acknowledge_to if step.breach == "acknowledge" else sla.escalate_resolve_to
        )
