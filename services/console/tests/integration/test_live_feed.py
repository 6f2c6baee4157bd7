"""The live feed on a real nats-server: events reach the pages that want them, nothing else."""

from __future__ import annotations

import asyncio
import json

import pytest

from sipas_console.live import CASE_UPDATED, INDEX_UPDATED, LiveFeed, update_of
from sipas_contracts import subjects

pytestmark = [pytest.mark.nats]


def case_updated(unit: str, state: str = "open") -> bytes:
    return json.dumps(
        {
            "event_type": "case.updated",
            "case_id": "01a24e87-e296-7d67-8215-7e120737083d",
            "unit": unit,
            "rule": "low_rating",
            "state": state,
            "severity": "critical",
            "escalated": False,
            "campaign_id": "c2026",
            "summary_vi": "Ý kiến: “gọi 0912345678”",
        }
    ).encode()


async def test_updates_reach_only_the_listeners_that_want_them(nc):
    feed = LiveFeed()
    await feed.start(nc)
    try:
        async with (
            feed.listen(lambda u: u.unit == "ht-nx-co-dam") as co_dam,
            feed.listen(lambda u: u.unit == "ht-nx-xuan-an") as xuan_an,
        ):
            await nc.publish(
                subjects.CASES_UPDATED.replace(">", "ht-nx-co-dam"), case_updated("ht-nx-co-dam")
            )
            update = await asyncio.wait_for(co_dam.get(), timeout=5)

            assert update.kind == CASE_UPDATED
            assert update.data["state"] == "open"
            assert "0912345678" not in update.as_sse()  # free text never travels to pages
            assert xuan_an.empty()
        assert feed.listeners == 0
    finally:
        await feed.stop()


async def test_a_slow_page_keeps_only_the_latest_updates(nc):
    feed = LiveFeed(queue_size=2)
    async with feed.listen(lambda _: True) as queue:
        for state in ("open", "acknowledged", "in_progress"):
            update = update_of(CASE_UPDATED, case_updated("ht-nx-co-dam", state))
            assert update is not None
            feed.publish(update)

        states = [queue.get_nowait().data["state"], queue.get_nowait().data["state"]]

    assert states == ["acknowledged", "in_progress"]


def test_bytes_that_are_not_an_event_are_ignored():
    assert update_of(INDEX_UPDATED, b"not json") is None
    assert update_of(INDEX_UPDATED, b'{"no": "unit"}') is None
    assert update_of(INDEX_UPDATED, b'["a list"]') is None
