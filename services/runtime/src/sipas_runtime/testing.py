"""Helpers for tests that watch an asynchronous system settle."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from tenacity import AsyncRetrying, stop_after_delay, wait_fixed


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
