"""The one front door: a FastAPI dependency that authenticates and authorises every route.

Each service declares a :class:`RouteTable`: for every route (method and path template)
either :data:`PUBLIC` or ``allow(permission, unit=...)``. :func:`authorize` (built on
``fastapi.security.HTTPBearer``) runs before every route of the app: it finds the route's
rule, authenticates the bearer credential (a signed token or a machine key) against the key
directory, checks the permission and, when the rule names a ``unit`` parameter, that the
caller's scope covers that unit. A route that is not in the table is refused (and the app
refuses to start with one, see :meth:`RouteTable.check_app`). Routes that need the caller
take ``caller: Caller``. The docs table and the permission-matrix test read the same tables.

Answers: 401 (no or refused credential, ``WWW-Authenticate: Bearer``) and 403 (missing
permission or unit outside the caller's scope), as problem details.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sipas_contracts.units import UnitHierarchy
from sipas_runtime.audit import AuditLog
from sipas_runtime.i18n import Catalogue, _, choose_language
from sipas_runtime.identity.directory import Directory
from sipas_runtime.identity.principal import Principal, province_day
from sipas_runtime.identity.tokens import InvalidCredentialError
from sipas_runtime.problems import ProblemError

Route = tuple[str, str]


@dataclass(frozen=True)
class Rule:
    """Who may call a route: anyone (no permissions) or holders of any of ``permissions``."""

    permissions: frozenset[str]
    unit: str | None = None
    """Path or query parameter naming a unit the caller's scope must cover."""
    people_only: bool = False
    """Only people (a person's own pages), never a machine key."""

    @property
    def public(self) -> bool:
        """Whether the route needs no credential."""
        return not self.permissions

    def admits(self, caller: Principal) -> bool:
        """Whether ``caller`` is of the right kind and holds one of the permissions."""
        if self.people_only and caller.kind != "person":
            return False
        return not self.permissions.isdisjoint(caller.permissions)


PUBLIC = Rule(frozenset())


def allow(
    permission: str, *alternatives: str, unit: str | None = None, people_only: bool = False
) -> Rule:
    """Holders of ``permission`` or an alternative; with ``unit``, for units in their scope."""
    return Rule(frozenset({permission, *alternatives}), unit, people_only)


class RouteTable:
    """A service's routes and who may call each: the source of docs and matrix tests."""

    def __init__(self, service: str, rules: Mapping[Route, Rule]) -> None:
        self.service = service
        self.rules = {(method.upper(), path): rule for (method, path), rule in rules.items()}

    def __iter__(self) -> Iterator[tuple[Route, Rule]]:
        return iter(sorted(self.rules.items()))

    def merged(self, rules: Mapping[Route, Rule]) -> RouteTable:
        """The table with more routes (two rules for one route are refused)."""
        clash = set(self.rules) & {(m.upper(), p) for m, p in rules}
        if clash:
            msg = f"{self.service}: routes declared twice: {sorted(clash)}"
            raise ValueError(msg)
        return RouteTable(self.service, {**self.rules, **rules})

    def rule(self, method: str, path: str) -> Rule | None:
        """The rule of a route (HEAD follows GET)."""
        method = "GET" if method.upper() == "HEAD" else method.upper()
        return self.rules.get((method, path))

    def check_app(self, app: FastAPI) -> None:
        """Raise unless every route of ``app`` has exactly one rule and every rule a route."""
        routes = {
            (method, path)
            for path, route in route_paths(app).values()
            for method in route.methods or ()
            if method != "HEAD"
        }
        missing, stale = sorted(routes - set(self.rules)), sorted(set(self.rules) - routes)
        if missing or stale:
            msg = f"{self.service}: routes without a rule {missing}; rules without a route {stale}"
            raise ValueError(msg)


def route_paths(app: FastAPI) -> dict[int, tuple[str, APIRoute]]:
    """Every API route of ``app`` by identity, with its full path template.

    A route of a router included in another router keeps only its own router's prefix in
    ``route.path`` (FastAPI resolves the outer prefixes when matching), so the full template
    comes from the app's effective route contexts.
    """
    found: dict[int, tuple[str, APIRoute]] = {}
    for route in app.routes:
        if isinstance(route, APIRoute):
            found[id(route)] = (route.path, route)
        for context in getattr(route, "effective_route_contexts", list)():
            original = context.original_route
            if isinstance(original, APIRoute):
                found[id(original)] = (str(context.path), original)
    return found


class Gate:
    """Authentication and authorisation of one app, against its directory and table."""

    def __init__(
        self,
        table: RouteTable,
        directory: Directory,
        hierarchy: UnitHierarchy,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        fallback: Callable[[Request], Awaitable[Principal | None]] | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.table = table
        self.directory = directory
        self.hierarchy = hierarchy
        self.clock = clock
        self.fallback = fallback
        """Where a caller without a bearer credential may come from (the console's session)."""
        self.paths: dict[int, str] = {}
        self.audit = audit
        self._keys_seen: dict[str, int] = {}  # key subject -> hour of its last audited use

    def learn_routes(self, app: FastAPI) -> None:
        """Check the table against ``app`` and remember each route's full path template."""
        self.table.check_app(app)
        self.paths = {key: path for key, (path, _route) in route_paths(app).items()}

    def today(self) -> date:
        """The province's date, for the unit hierarchy."""
        return province_day(self.clock())

    async def authenticate(self, request: Request, credential: str | None) -> Principal | None:
        """The caller, None when anonymous; 401 when a presented credential is refused."""
        if credential:
            try:
                caller = self.directory.authenticate(credential, now=self.clock())
            except InvalidCredentialError as exc:
                request.state.refusal = exc.reason
                raise unauthenticated(request, invalid=True) from exc
            if caller.credential == "key":
                await self._key_used(caller, request)
            return caller
        return await self.fallback(request) if self.fallback is not None else None

    async def _key_used(self, caller: Principal, request: Request) -> None:
        """Audit a machine key's first use in each hour (per instance)."""
        hour = int(self.clock().timestamp() // 3600)
        if self.audit is None or self._keys_seen.get(caller.subject) == hour:
            return
        self._keys_seen[caller.subject] = hour
        await self.audit.record(
            "key_used", actor=caller.subject, target=f"{request.method} {request.url.path}"
        )

    async def authorize(self, request: Request, credential: str | None) -> Principal | None:
        """Apply the route's rule to the request; the caller (None on a public route)."""
        path = self.paths.get(id(request.scope.get("route")))
        rule = self.table.rule(request.method, path) if path else None
        if rule is None:  # unreachable when the table was checked against the app
            raise forbidden(request, _("This route is not open to anyone."))
        caller = await self.authenticate(request, credential)
        if rule.public:
            return caller
        if caller is None:
            raise unauthenticated(request, invalid=False)
        if not rule.admits(caller):
            raise forbidden(request, _("Your roles do not allow this."))
        unit = _unit_of(request, rule.unit)
        if unit is not None and not caller.scope(self.hierarchy, self.today()).covers(unit):
            raise out_of_scope(request)
        return caller


def _unit_of(request: Request, parameter: str | None) -> str | None:
    if parameter is None:
        return None
    value = request.path_params.get(parameter) or request.query_params.get(parameter)
    return str(value) if value else None


def _say(request: Request, message: str) -> str:
    """``message`` in the caller's language (``Accept-Language``; Vietnamese by default)."""
    lang = choose_language(accept_language=request.headers.get("accept-language"))
    return Catalogue.of().gettext(lang, message)


def unauthenticated(request: Request, *, invalid: bool) -> ProblemError:
    """401: a credential is needed, or the one presented was refused."""
    challenge = 'Bearer realm="sipas"' + (', error="invalid_token"' if invalid else "")
    detail = (
        _("The bearer token or key is not valid (expired, revoked or unknown).")
        if invalid
        else _("Sign in: this needs a bearer token or key (Authorization: Bearer ...).")
    )
    return ProblemError(
        401,
        _say(request, detail),
        code="urn:sipas:problem:unauthenticated",
        headers={"WWW-Authenticate": challenge},
    )


def forbidden(
    request: Request, detail: str, *, code: str = "urn:sipas:problem:forbidden"
) -> ProblemError:
    """403: the caller is known but may not do this."""
    return ProblemError(403, _say(request, detail), code=code)


def out_of_scope(request: Request) -> ProblemError:
    """403: the request is about a unit outside the caller's units."""
    detail = _("This unit is outside your units.")
    return forbidden(request, detail, code="urn:sipas:problem:out-of-scope")


bearer = HTTPBearer(
    auto_error=False,
    description="A token the console issued, or a machine key (sipas_...).",
)


async def authorize(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Principal | None:
    """The app-wide dependency: the route's rule applied to the request (see module doc)."""
    gate: Gate = request.app.state.gate
    credential = credentials.credentials if credentials else None
    caller = await gate.authorize(request, credential)
    request.state.principal = caller
    if caller is not None and credential:
        request.state.credential = credential  # what a backend-for-frontend passes on
    return caller


def current_caller(
    request: Request, caller: Annotated[Principal | None, Depends(authorize)]
) -> Principal:
    """The authenticated caller (for routes whose rule needs a permission)."""
    if caller is None:
        raise unauthenticated(request, invalid=False)
    return caller


Caller = Annotated[Principal, Depends(current_caller)]
