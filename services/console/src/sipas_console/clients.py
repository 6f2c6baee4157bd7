"""The console's HTTP clients to the four services: the only way the console reaches them.

A screen calls a service with the signed-in person's token and language, e.g.::

    cases = await console.clients.alerts.get_json("/v1/cases", as_=caller)

``caller`` (a :class:`Caller`) carries the bearer token and the language, so the service
checks the person's own permissions and unit scope and answers problem details in the
person's language. An error answer raises :class:`ServiceCallError` (with the service's
problem document); a service that cannot be reached raises
:class:`ServiceUnavailableError`. The console turns both into pages (see ``web.errors``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from sipas_runtime.i18n import DEFAULT_LANG, Lang

log = structlog.get_logger(__name__)
HTTP_ERROR = 400
UNAVAILABLE = 503


@dataclass(frozen=True)
class Caller:
    """Who calls a service on whose behalf, and in which language the answers should be."""

    token: str | None = None
    lang: Lang = DEFAULT_LANG

    def headers(self) -> dict[str, str]:
        """``Authorization`` (when signed in) and ``Accept-Language`` headers."""
        headers: dict[str, str] = {"Accept-Language": self.lang}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers


ANONYMOUS = Caller()


class ServiceCallError(Exception):
    """Raised when a service answers a call with an error status (its problem document kept)."""

    def __init__(self, service: str, status: int, problem: Mapping[str, Any]) -> None:
        self.service = service
        self.status = status
        self.problem = dict(problem)
        self.detail = str(problem.get("detail") or problem.get("title") or status)
        super().__init__(f"{service} answered {status}: {self.detail}")


class ServiceUnavailableError(ServiceCallError):
    """Raised when a service cannot be reached or does not answer in time."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(service, UNAVAILABLE, {"detail": reason})


class ServiceClient:
    """Calls to one service's API."""

    def __init__(self, name: str, http: httpx.AsyncClient) -> None:
        self.name = name
        self.http = http

    async def send(
        self,
        method: str,
        path: str,
        *,
        as_: Caller = ANONYMOUS,
        params: Mapping[str, Any] | None = None,
        json: object = None,
        content: bytes | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - one slow call's own limit
    ) -> httpx.Response:
        """The service's answer to ``method path`` (raises on an error status).

        ``timeout`` replaces the console's call timeout for a call known to be slow (a PDF).
        """
        try:
            answer = await self.http.request(
                method,
                path,
                headers=as_.headers(),
                params=params,
                json=json,
                content=content,
                files=files,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except httpx.TransportError as exc:
            log.warning("service_unreachable", service=self.name, error=type(exc).__name__)
            raise ServiceUnavailableError(self.name, type(exc).__name__) from exc
        if answer.status_code >= HTTP_ERROR:
            raise ServiceCallError(self.name, answer.status_code, _problem_of(answer))
        return answer

    async def get_json(
        self, path: str, *, as_: Caller = ANONYMOUS, params: Mapping[str, Any] | None = None
    ) -> Any:  # noqa: ANN401 - the service's JSON document
        """The JSON document at ``path``."""
        return (await self.send("GET", path, as_=as_, params=params)).json()

    async def post_json(self, path: str, body: object = None, *, as_: Caller = ANONYMOUS) -> Any:  # noqa: ANN401 - the service's JSON document
        """POST ``body`` as JSON; the JSON answer (None when the answer is empty)."""
        answer = await self.send("POST", path, as_=as_, json=body)
        return answer.json() if answer.content else None

    async def ready(self) -> bool:
        """Whether the service answers its readiness probe."""
        try:
            await self.send("GET", "/readyz")
        except ServiceCallError:
            return False
        return True


def _problem_of(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {"status": answer.status_code}
    return body if isinstance(body, dict) else {"status": answer.status_code}


class ServiceClients:
    """One client per service, sharing one connection pool, open while the console runs."""

    def __init__(self, urls: Mapping[str, str], *, timeout: float) -> None:
        self._urls = dict(urls)
        self._timeout = timeout
        self._http: dict[str, httpx.AsyncClient] = {}

    async def open(self) -> None:
        """Open the connection pools (at start-up)."""
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=20)
        for name, url in self._urls.items():
            self._http[name] = httpx.AsyncClient(base_url=url, timeout=self._timeout, limits=limits)

    async def close(self) -> None:
        """Close the connection pools (at shutdown)."""
        for http in self._http.values():
            await http.aclose()
        self._http.clear()

    def __getitem__(self, name: str) -> ServiceClient:
        return ServiceClient(name, self._http[name])

    @property
    def names(self) -> tuple[str, ...]:
        """The services the console calls."""
        return tuple(self._urls)

    @property
    def intake(self) -> ServiceClient:
        """Intake: dossiers, responses, paper forms, kiosks."""
        return self["intake"]

    @property
    def sampling(self) -> ServiceClient:
        """Sampling: campaigns, draws, lists, invitations."""
        return self["sampling"]

    @property
    def scoring(self) -> ServiceClient:
        """Scoring: indices, funnel, exports, publication."""
        return self["scoring"]

    @property
    def alerts(self) -> ServiceClient:
        """Alerts: cases, KPIs, alerts."""
        return self["alerts"]
