"""Guards of the pages people post to: rate limits per client, cross-site posts refused.

- Rate limits per client address (moving window, in memory: each instance limits on its
  own, so behind N instances the effective limit is N times the setting).
- ``cross_site``: a state-changing request another site made (Fetch Metadata, else Origin).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter


class RateLimits:
    """Moving-window limits per (page, client address)."""

    def __init__(self, limits: dict[str, str]) -> None:
        self._items: dict[str, RateLimitItem] = {page: parse(text) for page, text in limits.items()}
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def allow(self, page: str, who: str) -> bool:
        """Count one hit; False when the client is over the page's limit."""
        return await self._limiter.hit(self._items[page], page, who)

    def retry_after(self, page: str) -> int:
        """Seconds a refused client should wait (the window length)."""
        return int(self._items[page].get_expiry())


def cross_site(request: Request, public_url: str) -> bool:
    """Whether a state-changing request comes from another site.

    Browsers that send Fetch Metadata are trusted on it: only ``same-origin`` (or ``none``,
    a user-initiated request) passes. Without it, an ``Origin`` naming another host is
    refused. ``Origin: null`` is not proof of anything: Chromium sends it for every form
    post from a page with ``Referrer-Policy: no-referrer`` (ours); such a request still
    needs its cookie and CSRF token, which no other site has.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in {"same-origin", "none"}
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return False
    allowed = {request.headers.get("host", ""), urlsplit(public_url).netloc}
    return urlsplit(origin).netloc not in allowed


def client_address(request: Request) -> str:
    """The client's address as uvicorn saw it (run uvicorn with proxy headers behind a proxy)."""
    return request.client.host if request.client else "unknown"
