"""Intake's collections and their indexes.

Collections: ``tokens`` (survey token hashes from invitation-sent), ``claims`` (one
response per invitation), ``outbox`` (response events until JetStream has them),
``dossiers`` (the ledger of revisions), ``kiosks`` and ``kiosk_nonces`` (counter tablets),
``paper_forms`` (imported paper forms), ``drafts`` (survey answers entered so far, sealed
for the token's holder). None holds a contact or a token in clear.
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from sipas_runtime.mongo import Document, ensure_collections

TOKENS = "tokens"
CLAIMS = "claims"
OUTBOX = "outbox"
DOSSIERS = "dossiers"
KIOSKS = "kiosks"
KIOSK_NONCES = "kiosk_nonces"
PAPER_FORMS = "paper_forms"
DRAFTS = "drafts"
COLLECTIONS = (TOKENS, CLAIMS, OUTBOX, DOSSIERS, KIOSKS, KIOSK_NONCES, PAPER_FORMS, DRAFTS)
NONCE_TTL_SECONDS = 2 * 24 * 3600


async def prepare_database(db: AsyncDatabase[Document]) -> None:
    """Create the collections (transactions need them) and their indexes."""
    await ensure_collections(db, COLLECTIONS)
    await db[TOKENS].create_index([("invitation_id", ASCENDING), ("expires_at", DESCENDING)])
    await db[OUTBOX].create_index([("published", ASCENDING), ("created_at", ASCENDING)])
    await db[KIOSKS].create_index("device_id", unique=True)
    await db[KIOSK_NONCES].create_index("at", expireAfterSeconds=NONCE_TTL_SECONDS)
    await db[DRAFTS].create_index("expires_at", expireAfterSeconds=0)
