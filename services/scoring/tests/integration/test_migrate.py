"""Counts stored by an earlier version (JSON text slices) are migrated by a command, once.

Scoring refuses to start on them (it would count on top of documents it cannot read);
``sipas scoring migrate`` turns each into natural slice documents holding the same counts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from sipas_scoring import cli
from sipas_scoring.app import LegacyCountsError, create_app
from sipas_scoring.domain.counting import fold
from sipas_scoring.domain.tally import SliceKey, Tally
from sipas_scoring.store.aggregates import AGGREGATES, MongoAggregateStore, to_document
from sipas_scoring.testing import synthetic_responses

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
UNITS = ["ht-nx-co-dam", "ht-nx-xuan-an"]


def legacy_document(slices: Mapping[SliceKey, Tally]) -> dict[str, object]:
    """One unit's month as earlier versions stored it: a JSON text per kind and mode."""
    first = next(iter(slices))
    texts = {
        f"{key.applicant_kind}|{key.collection_mode}": json.dumps({
            "responses": int(tally.responses),
            "counts": {item: dict(levels) for item, levels in tally.counts.items()},
            "coverage": dict(tally.coverage),
            "first_at": tally.first_at.isoformat() if tally.first_at else None,
            "last_at": tally.last_at.isoformat() if tally.last_at else None,
            "seq": tally.last_seq,
        })
        for key, tally in slices.items()
    }  # fmt: skip
    return {
        "_id": f"{first.campaign_id}|{first.bucket}|{first.unit}|{first.instrument_id}",
        "campaign_id": first.campaign_id, "bucket": first.bucket, "unit": first.unit,
        "instrument_id": first.instrument_id,
        "responses": sum(t.responses for t in slices.values()),
        "commit": 7, "rev": "9f2c", "slices": texts,
    }  # fmt: skip


def by_document(tallies: Mapping[SliceKey, Tally]) -> list[dict[SliceKey, Tally]]:
    grouped: dict[tuple[str, str, str], dict[SliceKey, Tally]] = {}
    for key, tally in tallies.items():
        grouped.setdefault((key.campaign_id, key.bucket, key.unit), {})[key] = tally
    return list(grouped.values())


async def test_scoring_refuses_old_counts_until_the_migrate_command_converts_them(settings, mongo):
    events = list(synthetic_responses(80, units=UNITS, campaign_id="c-legacy"))
    expected = fold(enumerate(events, start=1), timedelta(hours=7))
    db = mongo[settings.database_name]
    await db[AGGREGATES].insert_many([legacy_document(s) for s in by_document(expected)])
    await db["publisher_state"].insert_one({"_id": "commits", "n": 7})
    runtime = create_app(settings).state.service.runtime
    try:
        with pytest.raises(LegacyCountsError, match="sipas scoring migrate"):
            await runtime.start()
    finally:
        await runtime.stop()
    env = {"SIPAS_MONGO_URL": settings.mongo_url, "SIPAS_SCORING_DATABASE": settings.database_name,
           "COLUMNS": "200"}  # fmt: skip

    outcome = await asyncio.to_thread(CliRunner().invoke, cli.app, ["migrate"], env=env)

    assert outcome.exit_code == 0, outcome.output
    rows = dict(line.strip("│ ").split("│") for line in outcome.output.splitlines()
                if line.count("│") == 3)  # fmt: skip
    assert {k.strip(): int(v) for k, v in rows.items()} == {
        "documents_converted": len(by_document(expected)),
        "slices_written": len(expected),
        "marks_dropped": 1,
    }
    store = MongoAggregateStore(db)
    assert await store.legacy_documents() == 0
    stored = await store.tallies()
    assert [to_document(k, stored[k]) for k in sorted(stored)] == [
        to_document(k, expected[k]) for k in sorted(expected)
    ]
