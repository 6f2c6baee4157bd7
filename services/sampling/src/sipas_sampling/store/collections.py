"""Sampling's collections and their indexes.

Collections: ``campaigns`` (definitions, status, keys for the vault), ``quotas`` (one
document per campaign × unit: quota, reserved slots, answered, lapsed, released), ``quota_counts``
(eligible, reachable, invited per unit, one document per campaign × instance),
``applicants`` (one dossier per applicant per unit per campaign), ``contacts`` (invitation
times per applicant pseudonym, for the cap), ``optouts`` (keyed hashes), ``decisions``
(one document per batch and campaign: the audit log of every decision), ``population``
(batch campaigns), ``draws`` and ``substitutions`` (hash-chained), ``invitations`` (state,
delivery attempts, vault-encrypted contact and token), ``answers_waiting`` (answers to an
invitation not stored yet: decided from memory, it is stored with the next checkpoint),
``outbox`` (dev) and ``zalo_tokens``.
"""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from sipas_runtime.mongo import Document, ensure_collections

CAMPAIGNS = "campaigns"
CAMPAIGN_KEYS = "campaign_keys"
QUOTAS = "quotas"
QUOTA_COUNTS = "quota_counts"
APPLICANTS = "applicants"
CONTACTS = "contacts"
OPTOUTS = "optouts"
DECISIONS = "decisions"
POPULATION = "population"
DRAWS = "draws"
SUBSTITUTIONS = "substitutions"
INVITATIONS = "invitations"
OUTBOX = "outbox"
ZALO_TOKENS = "zalo_tokens"
ANSWERS_WAITING = "answers_waiting"
COLLECTIONS = (
    CAMPAIGNS, CAMPAIGN_KEYS, QUOTAS, QUOTA_COUNTS, APPLICANTS, CONTACTS, OPTOUTS, DECISIONS,
    POPULATION, DRAWS, SUBSTITUTIONS, INVITATIONS, OUTBOX, ZALO_TOKENS, ANSWERS_WAITING,
)  # fmt: skip


async def prepare(db: AsyncDatabase[Document]) -> None:
    """Create collections and indexes (idempotent; safe with several instances)."""
    await ensure_collections(db, COLLECTIONS)
    await db[OUTBOX].create_index("created_at")
    # The development outbox holds recipients and live survey links: gone after a day.
    await db[OUTBOX].create_index("expires_at", expireAfterSeconds=0)
    # An answer whose invitation never came (not one of ours) is dropped after a while.
    await db[ANSWERS_WAITING].create_index("expires_at", expireAfterSeconds=0)
    await db[INVITATIONS].create_index([("state", ASCENDING), ("next_attempt_at", ASCENDING)])
    await db[INVITATIONS].create_index([("campaign", ASCENDING), ("dossier_id", ASCENDING)])
    await db[INVITATIONS].create_index([("campaign", ASCENDING), ("expires_at", ASCENDING)])
    await db[POPULATION].create_index([("campaign", ASCENDING), ("eligible", ASCENDING)])
    await db[DECISIONS].create_index([("campaign", ASCENDING), ("at", ASCENDING)])
    await db[QUOTA_COUNTS].create_index("campaign")
