"""What the public may see: published figures only, from scoring's public API.

The console never asks scoring for live figures on a public page: only
``/v1/public/publications`` (what is published, with each snapshot's SHA-256),
``/v1/public/indices`` (a published table), ``/v1/public/open-data/...`` and the published
report and workbook. A draft or an approved figure cannot reach these pages.

A publication's snapshot never changes, so its table is kept in memory by publication id
(a bounded number of them). The list of what is published is asked for on each page: its
digests make the pages' ETags, so a cache revalidates cheaply and a new publication shows
at once.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from sipas_console.clients import ServiceClient

Json = dict[str, Any]
KEEP = 64


class Published:
    """Published publications and their tables (cached by publication id)."""

    def __init__(self, scoring: ServiceClient, *, keep: int = KEEP) -> None:
        self._scoring = scoring
        self._tables: OrderedDict[str, Json] = OrderedDict()
        self._keep = keep

    async def publications(self) -> list[Json]:
        """Every currently published publication, newest data first."""
        records = await self._scoring.get_json("/v1/public/publications")
        return sorted(records, key=lambda r: (r["campaign_id"], r["period"]))

    async def table(self, record: Json) -> Json:
        """The published table of a publication (its snapshot's, frozen)."""
        cached = self._tables.get(record["id"])
        if cached is not None:
            self._tables.move_to_end(record["id"])
            return cached
        params = {"campaign": record["campaign_id"], "period": record["period"]}
        table: Json = await self._scoring.get_json("/v1/public/indices", params=params)
        if table["publication"]["id"] == record["id"]:  # not superseded meanwhile
            self._tables[record["id"]] = table
            while len(self._tables) > self._keep:
                self._tables.popitem(last=False)
        return table

    async def tables(self, records: Iterable[Json]) -> list[Json]:
        """The tables of several publications, in the same order."""
        return [await self.table(record) for record in records]

    async def dictionary(self) -> Json:
        """What each open-data column means, and the licence."""
        document: Json = await self._scoring.get_json("/v1/public/open-data/dictionary")
        return document


def etag(records: Iterable[Json], *parts: str) -> str:
    """A strong validator of a public page: the digests it shows, its language and version."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(f"{record['id']}:{record['digest']};".encode())
    for part in parts:
        digest.update(f"|{part}".encode())
    return f'"{digest.hexdigest()[:32]}"'
