"""What an HTTP transport failure means for a send (shared by the HTTP gateway adapters)."""

from __future__ import annotations

import httpx

from sipas_runtime.channels.base import Delivery, DeliveryStatus


def http_failure(exc: httpx.HTTPError) -> Delivery:
    """A timeout is ``unknown`` (the gateway may have sent it); other errors are retryable."""
    if isinstance(exc, httpx.TimeoutException):
        return Delivery(DeliveryStatus.UNKNOWN, detail=f"timeout: {exc}"[:200])
    return Delivery(DeliveryStatus.RETRYABLE, detail=f"{type(exc).__name__}: {exc}"[:200])
