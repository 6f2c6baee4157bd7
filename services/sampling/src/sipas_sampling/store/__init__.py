"""Sampling's Mongo adapters (the only package that knows Mongo).

Each store is a ``Protocol`` (what the service asks of it) beside its ``Mongo…``
implementation; :class:`Stores` builds every one once, on the service's database. The
collections and their indexes: :mod:`~sipas_sampling.store.collections`.
"""

from __future__ import annotations

from sipas_runtime.mongo import Database
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
        """Campaigns, their vault keys, draws and substitutions."""
        self.decisions: DecisionStore = MongoDecisionStore(db)
        """Quotas, counts, contacts, opt-outs and the decision log."""
        self.contacts: ContactStore = MongoContactStore(db)
        """Invitation times per applicant and opt-outs per contact."""
        self.invitations: InvitationStore = MongoInvitationStore(db)
        """Invitations: their state, delivery attempts and leases."""
        self.population: PopulationStore = MongoPopulationStore(db)
        """The dossiers each batch campaign saw."""
        self.dev_outbox: DevOutbox = MongoDevOutbox(db)
        """What the development outbox "sent"."""
        self.progress: ProgressStore = MongoProgressStore(db)
        """The counts behind a campaign's progress."""
        self.zalo_tokens: ZaloTokenStore = MongoZaloTokenStore(db)
        """The Zalo OA's access and refresh tokens."""
