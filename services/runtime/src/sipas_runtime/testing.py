"""Helpers for tests that watch an asynchronous system settle."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

SERVICE_UNAVAILABLE = 503


async def eventually(
    check: Callable[[], Any | Awaitable[Any]], seconds: float = 15.0, interval: float = 0.05
) -> Any:  # noqa: ANN401 - whatever the check returns
    """Call ``check`` (sync or async) until it returns something truthy; return that value.

    An exception (including a failed ``assert`` inside ``check``) counts as "not yet"; after
    ``seconds`` the last one is raised, or an ``AssertionError`` naming the last falsy value.
    """
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(seconds), wait=wait_fixed(interval), reraise=True
    ):
        with attempt:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            assert result, f"still {result!r} after {seconds} s"
            return result
    raise AssertionError("unreachable: tenacity re-raises the last failure")


async def post_dossier(
    http: httpx.AsyncClient,
    url: str,
    record: dict[str, Any],
    headers: dict[str, str],
    seconds: float = 30.0,
) -> httpx.Response:
    """POST a dossier to intake's webhook as a TTHC system does: a 503 is retried.

    Intake answers 503 (nothing accepted, ``Retry-After``) when JetStream does not store
    the record in time, which a loaded machine can cause right after start.
    """
    deadline = time.monotonic() + seconds
    while True:
        answer = await http.post(url, json=record, headers=headers)
        if answer.status_code != SERVICE_UNAVAILABLE or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(1)
