"""Wiring of the sampling service: the only module that constructs things."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TypeVar

import structlog
from fastapi import FastAPI
from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_contracts.events import Event
from sipas_contracts.streams import SAMPLING_DOSSIERS, SAMPLING_RESPONSES, partition_consumers
from sipas_runtime.channels import (
    Channel,
    EsmsChannel,
    EsmsSettings,
    TokenPair,
    ZaloSettings,
    ZaloZnsChannel,
    smtp_channel,
)
from sipas_runtime.mongo import in_transaction
from sipas_runtime.service import ServiceRuntime
from sipas_runtime.settings import decode_key
from sipas_runtime.stopping import cancel_all
from sipas_sampling import handlers
from sipas_sampling.answering import Answers
from sipas_sampling.api import callbacks, campaigns, dev, draws, service_of
from sipas_sampling.api.permissions import PERMISSIONS
from sipas_sampling.campaigns import campaign_file, load_campaign_file
from sipas_sampling.deciding.ownership import ROLE, Ownership
from sipas_sampling.deciding.running import Decider, DecisionLoops
from sipas_sampling.deciding.state import DecisionState
from sipas_sampling.dispatch import Dispatcher
from sipas_sampling.draws import Draws
from sipas_sampling.maintenance import Maintenance
from sipas_sampling.metrics import SamplingMetrics
from sipas_sampling.registry import Registry, env_campaign
from sipas_sampling.screening import Keys
from sipas_sampling.selection import Selector
from sipas_sampling.settings import Settings
from sipas_sampling.store import Stores, prepare
from sipas_sampling.vault import optout_key

T = TypeVar("T")
log = structlog.get_logger(__name__)


class SamplingService:
    """Sampling's collaborators, shared by routes, handlers and background jobs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.token_key = decode_key(settings.token_key, what="SIPAS_TOKEN_KEY")
        decode_key(settings.secret_key, what="SIPAS_SAMPLING_SECRET_KEY", length=32)
        self.optout_key = optout_key(settings.secret_key)
        self.callback_token = hmac.new(
            self.optout_key, b"esms-callback", hashlib.sha256
        ).hexdigest()[:32]
        self.hierarchy = settings.load_hierarchy()
        self.runtime = ServiceRuntime(settings, title="SIPAS Live — sampling")
        self.metrics = SamplingMetrics(self.runtime.registry)
        day = settings.templates_day()
        self.campaign_files = [
            load_campaign_file(campaign_file(entry), self.hierarchy, as_of=day)
            for entry in settings.campaign_entries()
        ]
        self.stores = Stores(self.runtime.database)
        self.registry = Registry(
            self.hierarchy, self.stores.campaigns, self.stores.decisions, self.publish
        )
        self.keys = Keys(settings.secret_key, self.token_key, self.optout_key)
        self.selector = self._selector()
        self.draws = self._draws()
        self.maintenance = self._maintenance()
        self.dispatcher = self._dispatcher()
        self.dossier_handler = handlers.on_dossiers(self.selector, self.stores.invitations)
        self.answers = Answers(
            self.stores.invitations, self.stores.decisions, self.stores.waiting_answers,
            self.metrics,
        )  # fmt: skip
        self.response_handler = handlers.on_responses(self.answers)
        self.deciders: list[Decider] = []
        """The dossiers' durables decided in memory (``decisions=memory``): one, or one per
        partition (``SIPAS_PARTITIONS``)."""
        self.ownership: Ownership | None = None

    def decider(self, durable: str) -> Decider:
        """The state and loops of one durable of dossiers decided in memory."""
        state = DecisionState(
            registry=self.registry,
            campaigns=self.stores.campaigns,
            keys=self.keys,
            metrics=self.metrics,
            durable=durable,
        )
        loops = DecisionLoops(
            state, publish=self.publish, db=lambda: self.runtime.db, owner=lambda: decider.owner
        )
        decider = Decider(state, loops)
        return decider

    def _selector(self) -> Selector:
        return Selector(
            registry=self.registry,
            campaigns=self.stores.campaigns,
            decisions=self.stores.decisions,
            invitations=self.stores.invitations,
            population=self.stores.population,
            contacts=self.stores.contacts,
            metrics=self.metrics,
            keys=self.keys,
        )

    def _maintenance(self) -> Maintenance:
        return Maintenance(
            registry=self.registry,
            campaigns=self.stores.campaigns,
            invitations=self.stores.invitations,
            decisions=self.stores.decisions,
            transact=self.transact,
            metrics=self.metrics,
            grace=timedelta(hours=self.settings.lapse_grace_hours),
            announcer=self.draws,
        )

    async def publish(self, events: Sequence[Event]) -> None:
        """Publish contract events with dedup ids (once the service has connected)."""
        await self.runtime.publisher.publish_many(events)

    def _dispatcher(self) -> Dispatcher:
        return Dispatcher(
            registry=self.registry,
            hierarchy=self.hierarchy,
            campaigns=self.stores.campaigns,
            invitations=self.stores.invitations,
            decisions=self.stores.decisions,
            outbox=self.stores.dev_outbox,
            channels=self._channels(),
            dev_outbox=self.settings.dev_outbox,
            survey_base_url=self.settings.survey_base_url,
            publish=self.publish,
            metrics=self.metrics,
            transact=self.transact,
            reserves=self.draws,
            concurrency=self.settings.send_concurrency,
        )

    def _draws(self) -> Draws:
        return Draws(
            registry=self.registry,
            campaigns=self.stores.campaigns,
            invitations=self.stores.invitations,
            population=self.stores.population,
            contacts=self.stores.contacts,
            transact=self.transact,
            publish=self.publish,
            token_key=self.token_key,
            optout_key=self.optout_key,
            metrics=self.metrics,
        )

    async def transact(self, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        """Run ``work`` in a majority transaction on the service's client."""
        return await in_transaction(self.runtime.mongo, work)

    def _channels(self) -> dict[str, Channel]:
        s = self.settings
        channels: dict[str, Channel] = {}
        if email := smtp_channel(s):
            channels["email"] = email
        if s.esms_api_key:
            callback = (
                f"{s.esms_callback_url.rstrip('/')}/v1/callbacks/esms/{self.callback_token}"
                if s.esms_callback_url
                else ""
            )
            channels["sms"] = EsmsChannel(
                EsmsSettings(
                    api_key=s.esms_api_key,
                    secret_key=s.esms_secret_key,
                    brandname=s.esms_brandname,
                    base_url=s.esms_url,
                    callback_url=callback,
                )
            )
        if s.zalo_app_id:
            channels["zalo"] = ZaloZnsChannel(
                ZaloSettings(
                    app_id=s.zalo_app_id,
                    secret_key=s.zalo_app_secret,
                    base_url=s.zalo_url,
                    oauth_url=s.zalo_oauth_url,
                ),
                self.stores.zalo_tokens,
            )
        return channels

    async def load_campaigns(self) -> None:
        """Campaign files (or the development campaign) into Mongo and the registry."""
        for campaign in self.campaign_files:
            if campaign.as_of is not None and await self.stores.campaigns.get(campaign.id):
                # a template instantiated on an earlier start keeps its dates (and its draw)
                log.info("campaign_template_kept", campaign=campaign.id)
                continue
            await self.registry.save(campaign)
        if self.settings.runs_dev_campaign():
            # the development campaign follows its environment even after it decided
            await self.registry.save(
                env_campaign(self.settings, self.hierarchy.province), frozen=False
            )
        await self.registry.refresh()
        await self.registry.announce_all()
        s = self.settings
        if s.zalo_access_token and s.zalo_refresh_token:
            await self.stores.zalo_tokens.bootstrap(
                TokenPair(s.zalo_access_token, s.zalo_refresh_token, time.time() + 3600)
            )


def register_consumers(sampling: SamplingService) -> None:
    """The dossier and response consumers (not in a dispatch-only instance)."""
    if sampling.settings.role == "dispatch":
        return
    if sampling.settings.decisions == "memory":
        register_memory_decisions(sampling)
    else:
        register_store_decisions(sampling)
    sampling.runtime.consume(
        SAMPLING_RESPONSES, decode=handlers.decode_response, handler=sampling.response_handler
    )


def register_memory_decisions(sampling: SamplingService) -> None:
    """One instance decides each durable of dossiers from memory (one per partition)."""
    runtime, settings = sampling.runtime, sampling.settings
    count = settings.partitions
    specs = partition_consumers(SAMPLING_DOSSIERS, count) or (
        dataclasses.replace(SAMPLING_DOSSIERS, pinned=True),
    )
    ownership = None
    if count:
        runtime.roles.add(ROLE)
        ownership = Ownership(runtime.instance, count, runtime.live, ttl=settings.owner_timeout)
    for partition, spec in enumerate(specs):
        decider = sampling.decider(spec.durable)
        decider.consumer = runtime.consume_in_memory(
            spec,
            decode=handlers.decode_dossier,
            state=decider.state,
            on_applied=decider.loops.nudge,
            active=None if ownership is None else functools.partial(ownership.active, partition),
            # As in the store path: a dossier published again late is a repeat of its claim.
            refuse_republished=False,
        )
        runtime.every(settings.refresh_interval, decider.loops.refresh)
        sampling.deciders.append(decider)

    async def settle_waiting() -> None:  # answers that came before their invitation's checkpoint
        await sampling.answers.settle_waiting(sampling.transact)

    runtime.every(settings.refresh_interval, settle_waiting)
    publishing: list[asyncio.Task[None]] = []

    async def start_publishing(_: ServiceRuntime) -> None:
        publishing.extend(asyncio.create_task(d.loops.publish_forever()) for d in sampling.deciders)

    async def stop_publishing(_: ServiceRuntime) -> None:
        await cancel_all(publishing)

    runtime.on_startup(start_publishing)
    runtime.on_shutdown(stop_publishing)
    if ownership is not None:
        ownership.consumers = {p: d.consumer for p, d in enumerate(sampling.deciders) if d.consumer}
        runtime.every(ownership.ttl / 3, ownership.beat)
        sampling.ownership = ownership


def register_store_decisions(sampling: SamplingService) -> None:
    """Every instance decides on batches of dossiers in Mongo transactions."""
    # Sequence mode: one applied-set document per batch instead of a marker per dossier.
    sampling.runtime.consume(
        SAMPLING_DOSSIERS,
        decode=handlers.decode_dossier,
        handler=sampling.dossier_handler,
        dedup="sequence",
        # A dossier event published again late (its id carries the delivery time, so
        # every one would be checked) is a "repeat" of the claim each campaign holds on
        # the dossier (selection.py): the domain refuses it, no marker needed.
        refuse_republished=False,
    )


def register_jobs(sampling: SamplingService) -> None:
    """Collections and campaigns at start; sending (not in a decide-only instance) and upkeep."""
    runtime, settings = sampling.runtime, sampling.settings

    async def setup(rt: ServiceRuntime) -> None:
        await prepare(rt.db)
        await sampling.load_campaigns()

    async def dispatch() -> None:
        while await sampling.dispatcher.run_once():
            pass

    async def upkeep() -> None:
        await sampling.maintenance.run()

    runtime.on_startup(setup)
    if settings.role != "decide":
        runtime.every(settings.dispatch_interval, dispatch)
    # Every role: upkeep also refreshes the campaign registry (a closed campaign must
    # stop deciding everywhere), and each of its jobs is safe to run in many instances.
    runtime.every(settings.maintenance_interval, upkeep)


def create_app(settings: Settings) -> FastAPI:
    """The sampling ASGI app with its consumers and background jobs registered."""
    sampling = SamplingService(settings)
    register_consumers(sampling)
    register_jobs(sampling)
    app = sampling.runtime.create_app(
        routers=[campaigns.router, draws.router, callbacks.router, dev.router],
        permissions=PERMISSIONS,
        description="Campaigns, eligibility, allocation, reproducible draws and invitations.",
    )
    service_of.attach(app, sampling)
    return app
