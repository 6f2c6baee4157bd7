"""The applied-sequence set of sequence-mode consumers."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

from sipas_contracts import subjects
from sipas_contracts.events import ResponseRecorded
from sipas_contracts.streams import RESPONSES, ConsumerSpec
from sipas_contracts.testing import response
from sipas_runtime.mongo import ensure_collections
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.sequences import AppliedSequences
from sipas_runtime.service import ServiceRuntime
from sipas_runtime.settings import ServiceSettings


@given(st.lists(st.lists(st.integers(min_value=1, max_value=60), max_size=8), max_size=12))
def test_the_set_holds_exactly_what_was_added_in_any_order(batches):
    applied, model = AppliedSequences(), set()

    for batch in batches:
        applied.add(batch)
        model.update(batch)
        applied = AppliedSequences.from_document(applied.document())  # stored and read back

    assert {s for s in range(1, 70) if s in applied} == model
    assert applied.highest == max(model, default=0)
    expected_missing = [s for s in range(1, applied.highest + 1) if s not in model]
    assert [s for a, b in applied.missing(applied.highest) for s in range(a, b + 1)] == (
        expected_missing
    )


def test_in_order_processing_stores_the_same_document_as_a_plain_watermark():
    applied = AppliedSequences()

    applied.add([1, 2, 3])
    applied.add([4, 5])

    assert applied.document() == {"seq": 5, "ranges": [], "max": 5}


def test_a_late_redelivery_below_the_highest_sequence_is_still_fresh():
    applied = AppliedSequences()
    applied.add([1, 2, 3])
    applied.add([7, 8])  # 4-6 failed before commit and await redelivery

    assert 5 not in applied
    assert 8 in applied
    assert applied.missing(8) == [(4, 6)]
    applied.add([4, 5, 6])
    assert applied.document() == {"seq": 8, "ranges": [], "max": 8}


def test_a_legacy_watermark_document_means_everything_up_to_it():
    applied = AppliedSequences.from_document({"_id": "c", "seq": 41})

    assert 41 in applied
    assert 1 in applied
    assert 42 not in applied


class OrderSettings(ServiceSettings):
    service_name: ClassVar[str] = "order"


@pytest.mark.nats
@pytest.mark.mongo
async def test_a_batch_redelivered_after_later_ones_committed_is_not_lost(
    nats_url, mongo_url, db_name, nc
):
    settings = OrderSettings(
        nats_url=nats_url, mongo_url=mongo_url, database=db_name, batch_timeout=0.01, batch_size=3
    )
    runtime = ServiceRuntime(settings, title="order")
    spec = ConsumerSpec(
        durable="order-responses",
        stream=RESPONSES.name,
        filter_subjects=(subjects.RESPONSES_RECORDED,),
        owner="order",
        ack_wait=timedelta(seconds=1),
    )

    async def handler(batch: Any, session: Any) -> list[Any]:
        for delivery in batch.fresh:
            await runtime.db["effects"].insert_one({"seq": delivery.seq}, session=session)
        return []

    consumer = runtime.consume(
        spec, decode=ResponseRecorded.model_validate_json, handler=handler, dedup="sequence"
    )
    original, calls = consumer.process, {"n": 0}

    async def first_batch_dies_before_commit(messages: list[Any], **options: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("died before committing")  # redelivered after later batches
        await original(messages, **options)

    consumer.process = first_batch_dies_before_commit  # type: ignore[method-assign]

    async def setup(rt: ServiceRuntime) -> None:
        await ensure_collections(rt.db, ["effects"])

    runtime.on_startup(setup)
    js = nc.jetstream()
    await runtime.start()
    try:
        for _ in range(12):
            event = response()
            await js.publish(subjects.for_event(event), encode(event), headers=event_headers(event))
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(20), wait=wait_fixed(0.1), reraise=True
        ):
            with attempt:
                assert await runtime.db["effects"].count_documents({}) == 12
        await asyncio.sleep(1.5)  # any further redelivery must not add a second effect
        assert sorted([d["seq"] async for d in runtime.db["effects"].find({})]) == list(
            range(1, 13)
        )
    finally:
        await runtime.stop()
