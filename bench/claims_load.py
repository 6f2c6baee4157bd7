"""Benchmark: how long a new owner of sampling's dossiers takes to read the claims (#22).

    uv run python bench/claims_load.py [--dossiers 50000]

A take-over (``DecisionState.load``) reads every claim of the deciding campaigns in one
snapshot: two per dossier (its applicant in the unit, and itself). This fills a fresh
SecantusDB (synced commits) with the claims of ``--dossiers`` dossiers over 17 units and
times that read, and the read a partition's owner would make of only its units' applicant
claims (4 of 17 units, by ``_id`` prefix), each in a transaction as the load does.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from pathlib import Path

from anchor import load
from pymongo import AsyncMongoClient

from sipas_runtime.embedded import EmbeddedMongo
from sipas_sampling.store.collections import APPLICANTS

UNITS = 17


async def timed(client: AsyncMongoClient, query: dict) -> tuple[int, float]:
    started = time.monotonic()
    async with client.start_session() as session, await session.start_transaction():
        found = [d async for d in client["claims"][APPLICANTS].find(query, session=session)]
    return len(found), time.monotonic() - started


async def main(dossiers: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="claims-load-"))
    mongo = EmbeddedMongo(work / "mongo", sync_on_commit=True)
    client: AsyncMongoClient = AsyncMongoClient(mongo.start(), tz_aware=True)
    try:
        docs = []
        for i in range(dossiers):
            docs.append({"_id": f"camp|u{i % UNITS}|p{i}", "dossier_id": f"d{i}"})
            docs.append({"_id": f"camp|dossier|d{i}", "dossier_id": f"d{i}"})
        for start in range(0, len(docs), 5000):
            await client["claims"][APPLICANTS].insert_many(docs[start : start + 5000])
        print(f"load average {load():.2f}")
        every = {"$or": [{"_id": {"$regex": f"^{re.escape('camp')}\\|"}}]}
        count, seconds = await timed(client, every)
        print(f"every claim of the campaign (as a take-over reads): {count:,} in {seconds:.2f} s")
        mine = {"$or": [{"_id": {"$regex": f"^camp\\|u{u}\\|"}} for u in (0, 4, 8, 12)]}
        count, seconds = await timed(client, mine)
        print(
            f"one partition's applicant claims (4 of {UNITS} units): {count:,} in {seconds:.2f} s"
        )
    finally:
        await client.close()
        mongo.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=50_000)
    asyncio.run(main(parser.parse_args().dossiers))
