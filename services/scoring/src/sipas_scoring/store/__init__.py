"""Scoring's Mongo adapters: counts per slice, the funnel, profiles and plans, publications.

Stores, protocols, fakes and contract suites: docs/stores.md. Each module
names its collections: ``aggregates`` (:mod:`~sipas_scoring.store.aggregates`),
``funnel_dossiers`` and ``funnel_invitations`` (:mod:`~sipas_scoring.store.funnel`),
``profiles`` and ``plans`` (:mod:`~sipas_scoring.store.profiles`), ``publications``
(:mod:`~sipas_scoring.store.publications`).
"""

from __future__ import annotations

from sipas_runtime.mongo import Database
from sipas_scoring.domain.profile import ProfileSettings
from sipas_scoring.store.aggregates import AGGREGATES, AggregateStore, MongoAggregateStore
from sipas_scoring.store.funnel import DOSSIERS, INVITATIONS, FunnelStore, MongoFunnelStore
from sipas_scoring.store.profiles import PLANS, PROFILES, MongoProfileStore, ProfileStore
from sipas_scoring.store.publications import PUBLICATIONS, MongoPublicationStore, PublicationStore

COLLECTIONS = (AGGREGATES, DOSSIERS, INVITATIONS, PROFILES, PLANS, PUBLICATIONS)

__all__ = ["COLLECTIONS", "Stores"]


class Stores:
    """Every scoring store on one database, built once by the service's wiring."""

    def __init__(self, db: Database, profile_defaults: ProfileSettings) -> None:
        self.aggregates: AggregateStore = MongoAggregateStore(db)
        self.funnel: FunnelStore = MongoFunnelStore(db)
        self.profiles: ProfileStore = MongoProfileStore(db, profile_defaults)
        self.publications: PublicationStore = MongoPublicationStore(db)
