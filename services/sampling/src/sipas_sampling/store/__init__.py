"""Sampling's Mongo adapters (the only package that knows Mongo).

Stores, protocols, fakes and contract suites: docs/stores.md. The collections and their
indexes: :mod:`~sipas_sampling.store.collections`.
"""

from __future__ import annotations

from sipas_runtime.mongo import Database
from sipas_sampling.store.answers import MongoWaitingAnswers, WaitingAnswers
from sipas_sampling.store.campaigns import CampaignStore, MongoCampaignStore
from sipas_sampling.store.collections import COLLECTIONS, prepare
from sipas_sampling.store.contacts import ContactStore, MongoContactStore
from sipas_sampling.store.decisions import DecisionStore, MongoDecisionStore
from sipas_sampling.store.dev_outbox import DevOutbox, MongoDevOutbox
from sipas_sampling.store.invitations import InvitationStore, MongoInvitationStore
from sipas_sampling.store.population import MongoPopulationStore, PopulationStore
from sipas_sampling.store.progress import MongoProgressStore, ProgressStore
from sipas_sampling.store.zalo_tokens import MongoZaloTokenStore, ZaloTokenStore

__all__ = ["COLLECTIONS", "Stores", "prepare"]


class Stores:
    """Every sampling store on one database, built once by the service's wiring."""

    def __init__(self, db: Database) -> None:
        self.campaigns: CampaignStore = MongoCampaignStore(db)
        self.decisions: DecisionStore = MongoDecisionStore(db)
        self.contacts: ContactStore = MongoContactStore(db)
        self.invitations: InvitationStore = MongoInvitationStore(db)
        self.waiting_answers: WaitingAnswers = MongoWaitingAnswers(db)
        self.population: PopulationStore = MongoPopulationStore(db)
        self.dev_outbox: DevOutbox = MongoDevOutbox(db)
        """What the development outbox "sent"."""
        self.progress: ProgressStore = MongoProgressStore(db)
        self.zalo_tokens: ZaloTokenStore = MongoZaloTokenStore(db)
