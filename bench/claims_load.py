"""Benchmark: how long a new owner of sampling's dossiers takes to read the claims (#22).

    uv run python bench/claims_load.py [--dossiers 50000] [--runs 3] [--keep]

A take-over (``DecisionState.load``) reads every claim of the deciding campaigns in one
snapshot: two per dossier (its applicant in the unit, and itself). This fills a fresh
SecantusDB (synced commits) with the claims of ``--dossiers`` dossiers over 17 units and
times that read, and the read a partition's owner would make of only its units' applicant
claims (4 of 17 units, by ``_id`` prefix), each in a transaction as the load does.

The raw anchor, measured in the same run on the same server: a plain ``find`` of every
document of a collection holding the same documents (same ids, same size), no filter, no
transaction, no sampling code. Each read is printed as documents/s beside it, with the ratio.
``--runs N`` repeats on a fresh server and prints min / median / max; the JSON goes to
``bench/results/claims-load-*.json``.
"""

from __future__ import annotations

import argparse
import re
import time
from functools import partial
from pathlib import Path
from typing import Any

from anchor import Repeated, Report, load, repeat
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_runtime.embedded import EmbeddedMongo
from sipas_sampling.store.collections import APPLICANTS

UNITS = 17
RAW = "raw_documents"


async def timed(
    client: AsyncMongoClient, collection: str, query: dict, *, in_transaction: bool = True
) -> dict[str, float]:
    """Documents found, seconds and documents/s of one read (in a transaction as a load)."""
    started = time.monotonic()
    if in_transaction:
        async with client.start_session() as session, await session.start_transaction():
            found = await _all(client, collection, query, session)
    else:
        found = await _all(client, collection, query, None)
    seconds = time.monotonic() - started
    return {"documents": found, "seconds": round(seconds, 3), "per_s": round(found / seconds)}


async def _all(
    client: AsyncMongoClient, collection: str, query: dict, session: AsyncClientSession | None
) -> int:
    return len([d async for d in client["claims"][collection].find(query, session=session)])


async def once(dossiers: int, workdir: Path) -> dict[str, Any]:
    mongo = EmbeddedMongo(workdir / "mongo", sync_on_commit=True)
    client: AsyncMongoClient = AsyncMongoClient(mongo.start(), tz_aware=True)
    try:
        docs = []
        for i in range(dossiers):
            docs.append({"_id": f"camp|u{i % UNITS}|p{i}", "dossier_id": f"d{i}"})
            docs.append({"_id": f"camp|dossier|d{i}", "dossier_id": f"d{i}"})
        for collection in (APPLICANTS, RAW):
            for start in range(0, len(docs), 5000):
                await client["claims"][collection].insert_many(docs[start : start + 5000])
        before = load()
        raw = await timed(client, RAW, {}, in_transaction=False)
        every = {"$or": [{"_id": {"$regex": f"^{re.escape('camp')}\\|"}}]}
        take_over = await timed(client, APPLICANTS, every)
        mine = {"$or": [{"_id": {"$regex": f"^camp\\|u{u}\\|"}} for u in (0, 4, 8, 12)]}
        partition = await timed(client, APPLICANTS, mine)
        return {
            "dossiers": dossiers,
            "anchor": {**raw, "load_before": before},
            "take_over": {**take_over, "ratio": round(take_over["per_s"] / raw["per_s"], 3)},
            "partition": {**partition, "ratio": round(partition["per_s"] / raw["per_s"], 3)},
            "load_after": load(),
        }
    finally:
        await client.close()
        mongo.stop()


def show(result: dict[str, Any]) -> None:
    raw = result["anchor"]
    report = Report(
        f"claims of {result['dossiers']:,} dossiers (load {raw['load_before']:.2f} → "
        f"{result['load_after']:.2f}); raw anchor: a plain find of {raw['documents']:,} "
        f"documents in {raw['seconds']:.2f} s"
    )
    for key, measure in (
        ("take_over", "every claim of the campaign (as a take-over reads)"),
        ("partition", f"one partition's applicant claims (4 of {UNITS} units)"),
    ):
        read = result[key]
        report.add(
            f"{measure}: {read['documents']:,} in {read['seconds']:.2f} s",
            read["per_s"],
            raw["per_s"],
            unit="docs/s",
        )
    report.show()


def flat(result: dict[str, Any]) -> dict[str, Any]:
    return {
        f"{section}.{k}": v
        for section, values in result.items()
        if isinstance(values, dict)
        for k, v in values.items()
    } | {"load_after": result["load_after"]}


KEYS = (
    "take_over.seconds",
    "take_over.per_s",
    "take_over.ratio",
    "partition.seconds",
    "partition.per_s",
    "partition.ratio",
    "anchor.seconds",
    "anchor.per_s",
    "anchor.load_before",
    "load_after",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=1, help="repeat, each on a fresh server")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (the store)")
    args = parser.parse_args()
    repeat(
        Repeated("claims-load", partial(once, args.dossiers), show, flat, KEYS),
        args.runs,
        keep=args.keep,
    )


if __name__ == "__main__":
    main()
