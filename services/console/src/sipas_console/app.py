"""Wiring of the console: the only module that constructs things."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from fastapi import FastAPI, Request

from sipas_console.clients import ServiceClients
from sipas_console.live import LiveFeed
from sipas_console.people.accounts import AccountStore, Person
from sipas_console.people.attempts import AttemptStore
from sipas_console.people.desk import Desk
from sipas_console.people.screens import identify_screen
from sipas_console.people.sessions import SessionStore
from sipas_console.people.signin import hash_password
from sipas_console.people.signing import SigningKeys
from sipas_console.people.sso import Provider
from sipas_console.settings import Settings
from sipas_console.web import areas, menu_of, permissions_of
from sipas_console.web.errors import install_error_pages
from sipas_console.web.forms import check_csrf
from sipas_console.web.page import service_of
from sipas_runtime.guards import RateLimits
from sipas_runtime.i18n import Catalogue
from sipas_runtime.identity import Principal
from sipas_runtime.mongo import ensure_collections
from sipas_runtime.pages import Pages, static_files
from sipas_runtime.service import ServiceRuntime

PACKAGE = "sipas_console"
DEV_SUPERVISOR = "dev-supervisor"
SIGNING_CHECK_SECONDS = 60.0
log = structlog.get_logger(__name__)


class NoSupervisorError(RuntimeError):
    """Raised at start in production when no active supervisor can sign in."""


class ConsoleService:
    """The console's collaborators, shared by its screens."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime = ServiceRuntime(settings, title="SIPAS Live — console")
        self.catalogue = Catalogue.of(PACKAGE)
        self.pages = Pages(PACKAGE, self.catalogue)
        self.clients = ServiceClients(settings.service_urls(), timeout=settings.service_timeout)
        self.limits = RateLimits({"sign-in": settings.signin_rate})
        self.areas = areas()
        self.menu = menu_of(self.areas)
        self.hierarchy = settings.load_hierarchy()
        self.live = LiveFeed()
        self._desk: Desk | None = None
        self._attempts: AttemptStore | None = None
        self.sso = (
            Provider(
                settings.oidc_issuer,
                settings.oidc_client_id,
                settings.oidc_client_secret.get_secret_value()
                if settings.oidc_client_secret
                else "",
                settings.public_url.rstrip("/") + "/sign-in/sso/callback",
            )
            if settings.single_sign_on
            else None
        )
        self.runtime.on_startup(self._start)
        self.runtime.on_shutdown(self._stop)
        self.runtime.every(SIGNING_CHECK_SECONDS, self._refresh_signing)

    @property
    def desk(self) -> Desk:
        """People, sessions and signing keys (once started)."""
        if self._desk is None:
            db = self.runtime.db
            rotation = timedelta(days=self.settings.key_rotation_days)
            self._desk = Desk(
                AccountStore(db),
                SessionStore(db),
                SigningKeys(db, rotate_after=rotation),
                self.runtime.audit,
            )
        return self._desk

    @property
    def desk_attempts(self) -> AttemptStore:
        """Single sign-on attempts on their way to the provider and back (once started)."""
        if self._attempts is None:
            self._attempts = AttemptStore(self.runtime.db)
        return self._attempts

    async def identify(self, request: Request) -> Principal | None:
        """The identity gate's fallback: the session's person (CSRF-checked), else a screen."""
        principal = await self.desk.identify(request)
        if principal is not None or getattr(request.state, "pending", None) is not None:
            await check_csrf(request)  # a session's forms; the sign-in form checks its own
            return principal
        return identify_screen(request, self.runtime.directory)  # a hall's screen, GET only

    async def _start(self, runtime: ServiceRuntime) -> None:
        await ensure_collections(runtime.db, ["people", "sessions", "signing_keys", "sso_attempts"])
        for store in (
            self.desk.accounts,
            self.desk.sessions,
            self.desk.signing,
            self.desk_attempts,
        ):
            await store.create_indexes()
        await self._refresh_signing()
        await self.clients.open()
        await self.live.start(runtime.broker.connection)
        if self.settings.dev_supervisor_password is not None:
            await self._dev_supervisor(self.settings.dev_supervisor_password.get_secret_value())
        if self.settings.env == "production" and not await self.desk.accounts.count_active(
            "supervisor"
        ):
            msg = "no active supervisor can sign in: run `sipas console bootstrap` first"
            raise NoSupervisorError(msg)

    async def _stop(self, _: ServiceRuntime) -> None:
        await self.live.stop()
        await self.clients.close()

    async def _refresh_signing(self) -> None:
        kv = self.runtime.identity_bucket
        if kv is not None:
            await self.desk.signing.refresh(kv, now=datetime.now(UTC))

    async def _dev_supervisor(self, password: str) -> None:
        """Development: the 'dev-supervisor' account exists with the stack's password."""
        accounts = self.desk.accounts
        if await accounts.get(DEV_SUPERVISOR) is None:
            now = datetime.now(UTC)
            person = Person(
                id=DEV_SUPERVISOR,
                username=DEV_SUPERVISOR,
                name="Sở Nội vụ (phát triển)",
                roles=("supervisor",),
                units=(self.runtime.settings.load_hierarchy().province,),
                created_at=now,
                updated_at=now,
            )
            await accounts.add(person)
            await self.runtime.audit.record("person_created", actor="sipas", target=person.id)
        await accounts.change(DEV_SUPERVISOR, password=hash_password(password), active=True)


def create_app(settings: Settings) -> FastAPI:
    """The console's ASGI app: every screen area, its static files and error pages."""
    console = ConsoleService(settings)
    app = console.runtime.create_app(
        routers=[area.router for area in console.areas],
        permissions=permissions_of(console.areas),
        description="Bảng điều khiển SIPAS Live / SIPAS Live console (HTML pages).",
        sessions=console.identify,
    )
    app.mount("/static", static_files(PACKAGE), name="static")
    install_error_pages(app)
    service_of.attach(app, console)
    return app
