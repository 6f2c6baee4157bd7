"""Intake's Mongo adapters (the only package that knows Mongo).

Each store is a ``Protocol`` (what the service asks of it) beside its ``Mongo…``
implementation; :class:`Stores` builds every one once, on the service's database. The
collections and their indexes: :mod:`~sipas_intake.store.collections`.
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
        """Survey tokens and invitation claims."""
        self.ledger: DossierLedger = MongoDossierLedger(db)
        """The dossier ledger."""
        self.outbox: Outbox = MongoOutbox(db)
        """Response events waiting for JetStream."""
        self.drafts: DraftStore = MongoDraftStore(db)
        """Survey answers entered so far (sealed for the token's holder)."""
        self.fieldwork: FieldworkLedger = MongoFieldworkLedger(db)
        """Counts of answers per unit and mode (interviews, online, paper)."""
        self.kiosks: KioskStore = MongoKioskStore(db)
        """Counter tablets."""
        self.paper: PaperLedger = MongoPaperLedger(db)
        """Imported paper forms."""
