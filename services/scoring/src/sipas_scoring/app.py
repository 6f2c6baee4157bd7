"""Wiring of the scoring service: the only module that constructs things."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from sipas_contracts.streams import (
    SCORING_CAMPAIGNS,
    SCORING_DOSSIERS,
    SCORING_INVITATIONS,
    SCORING_RESPONSES,
)
from sipas_runtime.mongo import ensure_collections
from sipas_runtime.service import ServiceRuntime
from sipas_runtime.stopping import cancel_all
from sipas_scoring import handlers
from sipas_scoring.api import indices, public, publications, service_of
from sipas_scoring.api.permissions import PERMISSIONS
from sipas_scoring.counts import Counts, CountsReader
from sipas_scoring.metrics import ScoringMetrics
from sipas_scoring.retired_funnel import finish_retired_marks
from sipas_scoring.settings import Settings
from sipas_scoring.store import COLLECTIONS, Stores
from sipas_scoring.updates import IndexPublisher
from sipas_scoring.views import Views


class LegacyCountsError(RuntimeError):
    """Raised at start when the counts are stored in an earlier version's form."""


class ScoringService:
    """Scoring's collaborators, shared by routes, handlers and the index loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime = ServiceRuntime(settings, title="SIPAS Live — scoring")
        self.metrics = ScoringMetrics(self.runtime.registry)
        self.hierarchy = settings.load_hierarchy()
        self.counts = Counts(settings.utc_offset)
        self.stores = Stores(self.runtime.database, settings.profile_defaults())
        self.reader = CountsReader(
            self.counts,
            lambda: self.responses.applied if self.responses.owner else None,
            self.stores.aggregates,
            lambda: self.runtime.mongo,
        )
        self.views = Views(
            reader=self.reader,
            funnel=self.stores.funnel,
            profiles=self.stores.profiles,
            hierarchy=self.hierarchy,
            settings=settings,
        )
        self.metrics.name_units(self.hierarchy, self.views.today())
        self.index_task: asyncio.Task[None] | None = None
        self.index_publisher = IndexPublisher(
            counts=self.counts,
            owner=lambda: self.responses.owner,
            position=lambda: self.responses.applied.floor,
            profiles=self.stores.profiles,
            publisher=lambda: self.runtime.publisher,
            hierarchy=self.hierarchy,
            settings=settings,
            metrics=self.metrics,
        )
        self.responses = self.runtime.consume_in_memory(
            SCORING_RESPONSES,
            decode=handlers.decode_response,
            state=self.counts,
            on_applied=self.index_publisher.nudge,
            pace=settings.responses_pace,
            on_take_over=lambda js, checkpoint: finish_retired_marks(
                js, self.runtime.mongo, settings.database_name, self.stores.funnel, checkpoint
            ),
        )


def register_consumers(scoring: ScoringService) -> None:
    """The funnel's dossiers and invitations, and the plans.

    The responses are folded in memory (``ScoringService.responses``), and their checkpoints
    write the funnel's "responded" marks too.
    """
    runtime, offset = scoring.runtime, scoring.settings.utc_offset
    pace = scoring.settings.funnel_interval  # the funnel: nobody waits on it
    runtime.consume(
        SCORING_DOSSIERS,
        decode=handlers.decode_dossier,
        handler=handlers.on_dossiers(scoring.stores.funnel, offset=offset),
        key=handlers.dossier_key,
        pace=pace,
    )
    runtime.consume(
        SCORING_INVITATIONS,
        decode=handlers.decode_invitation,
        handler=handlers.on_invitations(scoring.stores.funnel),
        pace=pace,
    )
    runtime.consume(
        SCORING_CAMPAIGNS,
        decode=handlers.decode_plan,
        handler=handlers.on_plans(scoring.stores.profiles, scoring.index_publisher.invalidate),
    )


def register_lifecycle(scoring: ScoringService) -> None:
    """Collections and indexes at start; the index loop while the service runs."""
    runtime = scoring.runtime

    async def setup(rt: ServiceRuntime) -> None:
        await ensure_collections(rt.db, COLLECTIONS)
        legacy = await scoring.stores.aggregates.legacy_documents()
        if legacy:
            msg = (
                f"{legacy} count documents are in the form of an earlier version: "
                "run `sipas scoring migrate` once, then start scoring again"
            )
            raise LegacyCountsError(msg)
        await scoring.stores.aggregates.create_indexes()
        await scoring.stores.aggregates.of_days().create_indexes()
        await scoring.stores.funnel.create_indexes()
        await scoring.stores.publications.create_indexes()

    async def start_index_loop(_: ServiceRuntime) -> None:
        scoring.index_task = asyncio.create_task(scoring.index_publisher.run(), name="index")

    async def stop_index_loop(_: ServiceRuntime) -> None:
        if scoring.index_task is not None:
            await cancel_all([scoring.index_task])

    runtime.on_startup(setup)
    runtime.on_startup(start_index_loop)
    runtime.on_shutdown(stop_index_loop)


def create_app(settings: Settings) -> FastAPI:
    """The scoring ASGI app with its consumers and index loop registered."""
    scoring = ScoringService(settings)
    register_consumers(scoring)
    register_lifecycle(scoring)
    app = scoring.runtime.create_app(
        routers=[
            indices.router,
            publications.router,
            publications.reports_router,
            public.public_router,
        ],
        permissions=PERMISSIONS,
        description=(
            "Chỉ số hài lòng (SIPAS) theo đơn vị, có khoảng tin cậy, xếp hạng, phễu khảo sát "
            "và công bố. / Satisfaction indices per unit with confidence intervals, ranks, "
            "the survey funnel and publication. Errors are RFC 9457 problem details."
        ),
    )
    service_of.attach(app, scoring)
    return app
