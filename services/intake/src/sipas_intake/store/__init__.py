"""Intake's Mongo adapters (the only package that knows Mongo).

Stores, protocols, fakes and contract suites: docs/stores.md. The collections and their
indexes: :mod:`~sipas_intake.store.collections`.
"""

from __future__ import annotations

from sipas_intake.store.collections import COLLECTIONS, prepare_database
from sipas_intake.store.drafts import DraftStore, MongoDraftStore
from sipas_intake.store.fieldwork import FieldworkLedger, MongoFieldworkLedger
from sipas_intake.store.kiosks import KioskStore, MongoKioskStore
from sipas_intake.store.ledger import DossierLedger, MongoDossierLedger
from sipas_intake.store.outbox import MongoOutbox, Outbox
from sipas_intake.store.paper import MongoPaperLedger, PaperLedger
from sipas_intake.store.tokens import MongoTokenStore, TokenStore
from sipas_runtime.mongo import Database

__all__ = ["COLLECTIONS", "Stores", "prepare_database"]


class Stores:
    """Every intake store on one database, built once by the service's wiring."""

    def __init__(self, db: Database) -> None:
        self.tokens: TokenStore = MongoTokenStore(db)
        self.ledger: DossierLedger = MongoDossierLedger(db)
        self.outbox: Outbox = MongoOutbox(db)
        self.drafts: DraftStore = MongoDraftStore(db)
        self.fieldwork: FieldworkLedger = MongoFieldworkLedger(db)
        self.kiosks: KioskStore = MongoKioskStore(db)
        self.paper: PaperLedger = MongoPaperLedger(db)
