"""What a new owner of the dossiers' durable reads of each unit and applicant (#22)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from sipas_runtime.mongo import Document
from sipas_sampling.deciding.book import HISTORY
from sipas_sampling.domain.continuous import RATE_COUNTERS
from sipas_sampling.registry import ActiveCampaign
from sipas_sampling.store.collections import CONTACTS, QUOTA_COUNTS, QUOTAS

Key = tuple[str, str]
Counters = dict[str, int]


@dataclass
class Loaded:
    """Each campaign × unit as the quota book loads it, and this durable's own counters."""

    units: dict[Key, dict[str, Any]] = field(default_factory=dict)
    own: dict[Key, Counters] = field(default_factory=dict)


async def load_units(
    db: AsyncDatabase[Document], ids: list[str], durable: str, session: AsyncClientSession
) -> Loaded:
    """Quotas and counters of the campaigns ``ids``; slots granted = reserved + released."""
    loaded = Loaded()
    totals: dict[Key, Counters] = {}
    async for doc in db[QUOTA_COUNTS].find({"campaign": {"$in": ids}}, session=session):
        campaign = doc["campaign"]
        units = doc.get("units") or {doc.get("unit", ""): doc}  # the older per-unit form
        for unit, counters in units.items():
            values = {name: int(counters.get(name, 0)) for name in RATE_COUNTERS}
            total = totals.setdefault((campaign, unit), dict.fromkeys(RATE_COUNTERS, 0))
            for name, value in values.items():
                total[name] += value
            if doc["_id"] == f"{campaign}|{durable}":
                loaded.own[campaign, unit] = values
    quotas = {
        (doc["campaign"], doc["unit"]): doc
        async for doc in db[QUOTAS].find({"campaign": {"$in": ids}}, session=session)
    }
    for key in totals.keys() | quotas.keys():
        counted = totals.get(key, dict.fromkeys(RATE_COUNTERS, 0))
        quota = quotas.get(key, {})
        granted = counted["invited"]
        if quota.get("quota") is not None:
            granted = quota.get("reserved", 0) + quota.get("released", 0)
        loaded.units[key] = {
            "campaign": key[0], "unit": key[1], **counted, "invited": granted,
            "quota": quota.get("quota"), "expected_total": quota.get("expected_total"),
            "answered": quota.get("answered", 0), "lapsed": quota.get("lapsed", 0),
            "released": quota.get("released", 0),
        }  # fmt: skip
    return loaded


async def load_history(
    db: AsyncDatabase[Document], deciding: Iterable[ActiveCampaign], session: AsyncClientSession
) -> dict[str, list[datetime]]:
    """Invitation times of the applicants the longest contact cap still counts."""
    caps = [cap.days for active in deciding if (cap := active.campaign.population.contact_cap)]
    if not caps:
        return {}
    since = datetime.now(UTC) - timedelta(days=max(caps) + 1)
    cursor = db[CONTACTS].find({"invited_at": {"$gt": since}}, session=session)
    return {doc["_id"]: list(doc["invited_at"])[-HISTORY:] async for doc in cursor}
