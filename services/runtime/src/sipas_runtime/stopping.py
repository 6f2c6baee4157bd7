"""Stopping within a bound: a service told to stop stops, and says what would not.

A stop that waits forever on one task (a cancelled task that never finishes, a shutdown hook
waiting on a peer that went away) leaves a process an orchestrator must kill and, in the test
suite, a run that hangs with nothing on screen. Every wait of a stop is bounded here; what did
not finish in time is logged with the stack where it waits, and the stop goes on.
A stop that is itself cancelled (Ctrl-C) is not swallowed: the cancellation propagates.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Iterable

import structlog

log = structlog.get_logger("sipas.runtime")

TASK_SECONDS = 10.0  # for cancelled tasks to finish
STEP_SECONDS = 15.0  # for one shutdown step (a hook, the broker, a client)


def stack_of(task: asyncio.Task[object]) -> str:
    """Where ``task`` is waiting, as ``traceback`` prints it."""
    out = io.StringIO()
    task.print_stack(file=out)
    return out.getvalue()


async def cancel_all(tasks: Iterable[asyncio.Task[None]], seconds: float = TASK_SECONDS) -> int:
    """Cancel ``tasks`` and wait up to ``seconds`` for them; return how many did not finish.

    Each that did not is logged (``task_did_not_stop``) with its stack. Exceptions the tasks
    ended with are consumed (they were logged where they happened).
    """
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    stuck: set[asyncio.Task[None]] = set()
    if any(not task.done() for task in tasks):
        _, stuck = await asyncio.wait(tasks, timeout=seconds)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()
    for task in stuck:
        log.error("task_did_not_stop", task=task.get_name(), seconds=seconds, stack=stack_of(task))
    return len(stuck)


async def bounded(step: str, awaitable: Awaitable[None], seconds: float = STEP_SECONDS) -> bool:
    """Await one shutdown step for at most ``seconds``; False (and logged) if it failed or hung."""
    timed_out = False
    try:
        async with asyncio.timeout(seconds):
            await awaitable
    except TimeoutError:
        timed_out = True
    except Exception:
        log.exception("stop_step_failed", step=step)
        return False
    if timed_out:
        log.error("stop_step_timed_out", step=step, seconds=seconds)
    return not timed_out
