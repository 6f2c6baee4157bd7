"""Wiring of the alerts service: the only module that constructs things."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import structlog
from fastapi import FastAPI

from sipas_alerts import handlers
from sipas_alerts.api import ROUTERS
from sipas_alerts.api.errors import domain_error
from sipas_alerts.api.permissions import PERMISSIONS
from sipas_alerts.api.scope import CaseScope, service_of
from sipas_alerts.casework import CaseDesk, Clock, system_clock
from sipas_alerts.comment_vault import CommentVault
from sipas_alerts.config import load_policy
from sipas_alerts.dispatch import Dispatcher
from sipas_alerts.domain.cases import Case
from sipas_alerts.domain.errors import ActionNotAllowedError, AlertsError, CaseNotFoundError
from sipas_alerts.metrics import AlertsMetrics
from sipas_alerts.notices import Notices
from sipas_alerts.rulebook import RuleBook, classifier_factory
from sipas_alerts.settings import Settings
from sipas_alerts.store import COLLECTIONS, Stores, create_indexes
from sipas_alerts.sweeps import Sweeper
from sipas_contracts.streams import ALERTS_INDEXES, ALERTS_INVITATIONS, ALERTS_RESPONSES
from sipas_runtime.channels import Channel, WebhookChannel, smtp_channel
from sipas_runtime.identity.roles import CONTACTS_REVEAL
from sipas_runtime.mongo import ensure_collections
from sipas_runtime.privacy import PrivacyError, unseal
from sipas_runtime.problems import ProblemError
from sipas_runtime.service import ServiceRuntime

log = structlog.get_logger(__name__)


def build_channels(settings: Settings) -> dict[str, Channel]:
    """The notification channels the settings configure."""
    channels: dict[str, Channel] = {}
    if email := smtp_channel(settings):
        channels["email"] = email
    if settings.webhook_secret is not None:
        secret = base64.b64decode(settings.webhook_secret.get_secret_value())
        channels["webhook"] = WebhookChannel(secret=secret)
    return channels


class AlertsService:
    """Alerts' collaborators, shared by routes, handlers and timed jobs."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = system_clock,
        channels: dict[str, Channel] | None = None,
    ) -> None:
        self.settings = settings
        self.runtime = ServiceRuntime(settings, title="SIPAS Live — alerts")
        self.policy = load_policy(settings.policy_file)
        self.hierarchy = settings.load_hierarchy()
        self.metrics = AlertsMetrics(self.runtime.registry)
        self.notices = Notices(self.policy, self.hierarchy, settings.console_url)
        self.rules = RuleBook(self.policy, classifier_factory(settings.comment_classifier))
        secret = settings.secret_key.get_secret_value() if settings.secret_key else None
        self.comments = CommentVault(secret)
        self.stores = Stores(self.runtime.database)
        self.desk = self._case_desk(clock)
        self.sweeper = self._sweeper()
        self.channels = build_channels(settings) if channels is None else channels
        self.dispatcher = Dispatcher(
            queue=self.stores.notifications,
            channels=self.channels,
            clock=clock,
            metrics=self.metrics,
            owner=settings.instance_id,
        )

    def _case_desk(self, clock: Clock) -> CaseDesk:
        """Where signals become cases, alerts and notices (in one transaction each)."""
        return CaseDesk(
            stores=self.stores,
            mongo=lambda: self.runtime.mongo,
            publisher=lambda: self.runtime.publisher,
            policy=self.policy,
            notices=self.notices,
            metrics=self.metrics,
            clock=clock,
        )

    def _sweeper(self) -> Sweeper:
        """The periodic jobs of this instance (see ``sweeps``)."""
        settings = self.settings
        return Sweeper(
            desk=self.desk,
            stores=self.stores,
            mongo=lambda: self.runtime.mongo,
            owner=settings.instance_id,
            lease=timedelta(seconds=settings.lease_seconds),
            callback_retention=timedelta(days=settings.callback_retention_days),
        )

    async def case(self, case_id: str, scope: CaseScope) -> Case:
        """A case the caller may see (404 unknown, 403 outside the caller's units)."""
        case = await self.stores.cases.get(case_id)
        if case is None:
            raise CaseNotFoundError(case_id)
        scope.check(case.unit)
        return case

    async def open_callbacks(self, case_id: str, scope: CaseScope) -> list[dict[str, Any]]:
        """Unsealed call-back contacts of a case, for the unit's handler; the viewing is audited."""
        if not scope.caller.may(CONTACTS_REVEAL):
            raise ActionNotAllowedError(scope.role, "view call-back contacts")
        if self.settings.secret_key is None:
            raise ProblemError(503, "SIPAS_ALERTS_SECRET_KEY is not configured.")
        await self.case(case_id, scope)
        key = self.settings.secret_key.get_secret_value()
        opened: list[dict[str, Any]] = []
        for doc in await self.stores.reads.callbacks_of(case_id):
            entry: dict[str, Any] = {"alert_id": doc["_id"], "occurred_at": doc["occurred_at"]}
            try:
                entry["contact"] = unseal(key, doc["sealed_callback"])
            except PrivacyError:
                entry["contact"], entry["error"] = None, "cannot be opened with this key"
            opened.append(entry)
        await self.desk.annotate(
            scope.actor, case_id, action="callbacks_viewed", note=f"{len(opened)} contact(s)"
        )
        await self.runtime.audit.record(
            "contacts_revealed", actor=scope.caller.subject, target=case_id, count=len(opened)
        )
        return opened

    def register(self) -> None:
        """Consumers, start-up and shutdown hooks, periodic jobs."""
        runtime, s = self.runtime, self.settings
        runtime.consume(
            ALERTS_RESPONSES,
            decode=handlers.decode_response,
            handler=handlers.on_responses(self.desk, self.rules, self.stores, self.comments),
        )
        runtime.consume(
            ALERTS_INDEXES,
            decode=handlers.decode_index,
            handler=handlers.on_indexes(self.desk, self.rules, self.stores),
        )
        runtime.consume(
            ALERTS_INVITATIONS,
            decode=handlers.decode_invitation,
            handler=handlers.on_invitations(self.rules, self.stores),
        )
        runtime.on_startup(self._setup)
        runtime.on_shutdown(self._teardown)
        self._every(s.sla_interval, self.sweeper.deadlines)
        self._every(s.notify_interval, self.dispatcher.run_once)
        self._every(s.relay_interval, self.sweeper.relay)
        self._every(s.activity_interval, self.sweeper.activity_rules)
        self._every(s.housekeeping_interval, self.sweeper.housekeeping)

    def _every(self, seconds: float, job: Callable[[], Awaitable[object]]) -> None:
        async def run() -> None:
            await job()

        run.__name__ = job.__name__
        self.runtime.every(seconds, run)

    async def _setup(self, rt: ServiceRuntime) -> None:
        await ensure_collections(rt.db, COLLECTIONS)
        await create_indexes(rt.db)

    async def _teardown(self, _rt: ServiceRuntime) -> None:
        for channel in self.channels.values():
            close = getattr(channel, "aclose", None)
            if close is not None:
                await close()


def create_app(
    settings: Settings, *, clock: Clock = system_clock, channels: dict[str, Channel] | None = None
) -> FastAPI:
    """The alerts ASGI app with its consumers and timed jobs registered."""
    alerts = AlertsService(settings, clock=clock, channels=channels)
    alerts.register()
    app = alerts.runtime.create_app(
        routers=list(ROUTERS),
        permissions=PERMISSIONS,
        description="Alert rules, cases with SLAs and escalation, notifications and KPIs.",
    )
    app.add_exception_handler(AlertsError, domain_error)
    service_of.attach(app, alerts)
    return app
