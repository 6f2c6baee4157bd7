"""Wiring of the console: the only module that constructs things."""

from __future__ import annotations

from fastapi import FastAPI

from sipas_console.clients import ServiceClients
from sipas_console.live import LiveFeed
from sipas_console.settings import Settings
from sipas_console.web import areas, menu_of
from sipas_console.web.errors import install_error_pages
from sipas_runtime.i18n import Catalogue
from sipas_runtime.pages import Pages, static_files
from sipas_runtime.service import ServiceRuntime

PACKAGE = "sipas_console"


class ConsoleService:
    """The console's collaborators, shared by its screens."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime = ServiceRuntime(settings, title="SIPAS Live — console")
        self.catalogue = Catalogue.of(PACKAGE)
        self.pages = Pages(PACKAGE, self.catalogue)
        self.clients = ServiceClients(settings.service_urls(), timeout=settings.service_timeout)
        self.areas = areas()
        self.menu = menu_of(self.areas)
        self.hierarchy = settings.load_hierarchy()
        self.live = LiveFeed()

        async def open_clients(runtime: ServiceRuntime) -> None:
            await self.clients.open()
            await self.live.start(runtime.broker.connection)

        async def close_clients(_: ServiceRuntime) -> None:
            await self.live.stop()
            await self.clients.close()

        self.runtime.on_startup(open_clients)
        self.runtime.on_shutdown(close_clients)


def create_app(settings: Settings) -> FastAPI:
    """The console's ASGI app: every screen area, its static files and error pages."""
    console = ConsoleService(settings)
    app = console.runtime.create_app(
        routers=[area.router for area in console.areas],
        description="Bảng điều khiển SIPAS Live / SIPAS Live console (HTML pages).",
    )
    app.mount("/static", static_files(PACKAGE), name="static")
    install_error_pages(app)
    app.state.console = console
    return app
