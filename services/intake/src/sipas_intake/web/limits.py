"""Smaller body limits for the public form paths than for operator uploads."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from sipas_runtime.http import BodyLimitMiddleware


class PathBodyLimits:
    """Applies the runtime's body limit with a per-path-prefix maximum."""

    def __init__(self, app: ASGIApp, *, limits: dict[str, int]) -> None:
        self.app = app
        self._limited = [
            (prefix, BodyLimitMiddleware(app, max_bytes=size)) for prefix, size in limits.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        path = str(scope.get("path", ""))
        for prefix, limited in self._limited:
            if path == prefix or path.startswith(prefix + "/"):
                await limited(scope, receive, send)
                return
        await self.app(scope, receive, send)
