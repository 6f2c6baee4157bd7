"""A stop is bounded: a task or step that will not finish is logged with its stack, and the
stop goes on; a stop that is itself cancelled is not swallowed."""

from __future__ import annotations

import asyncio
import time

import pytest
from structlog.testing import capture_logs

from sipas_runtime.stopping import bounded, cancel_all


async def _stubborn() -> None:
    """Ignores the first cancellation (as a retry loop catching too much would)."""
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        await asyncio.sleep(3600)


async def test_a_task_that_ignores_its_cancellation_is_reported_with_its_stack() -> None:
    quick = asyncio.create_task(asyncio.sleep(3600), name="quick")
    stuck = asyncio.create_task(_stubborn(), name="stuck")
    await asyncio.sleep(0)
    started = time.monotonic()
    with capture_logs() as logs:
        assert await cancel_all([quick, stuck], seconds=0.2) == 1
    assert time.monotonic() - started < 2
    assert quick.cancelled()
    (entry,) = [e for e in logs if e["event"] == "task_did_not_stop"]
    assert entry["task"] == "stuck"
    assert "_stubborn" in entry["stack"]
    stuck.cancel()  # its second cancellation ends it
    with pytest.raises(asyncio.CancelledError):
        await stuck


async def test_a_failed_task_is_consumed_and_not_reported() -> None:
    async def fails() -> None:
        raise RuntimeError

    task = asyncio.create_task(fails())
    await asyncio.sleep(0)
    with capture_logs() as logs:
        assert await cancel_all([task], seconds=0.2) == 0
    assert logs == []


async def test_a_hung_step_times_out_and_a_failing_step_is_logged() -> None:
    with capture_logs() as logs:
        assert not await bounded("hung", asyncio.sleep(3600), seconds=0.1)
        assert not await bounded("fails", _fails())
        assert await bounded("fine", asyncio.sleep(0))
    assert [(e["event"], e["step"]) for e in logs] == [
        ("stop_step_timed_out", "hung"),
        ("stop_step_failed", "fails"),
    ]


async def _fails() -> None:
    raise RuntimeError


async def test_cancelling_the_stop_itself_propagates() -> None:
    stopping = asyncio.create_task(bounded("slow", asyncio.sleep(3600), seconds=60))
    await asyncio.sleep(0.01)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
