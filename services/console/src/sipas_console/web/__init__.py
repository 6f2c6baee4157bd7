"""The console's screens: one module per area, discovered at start-up.

To add a screen area, write ``sipas_console/web/<area>.py`` exposing

- ``router``: a FastAPI ``APIRouter`` with the area's pages (HTML, rendered with
  :func:`sipas_console.web.page.render` from templates in ``templates/<area>/``),
- ``PERMISSIONS``: who may open each of its routes, ``{("GET", "/cases"): allow(...)}``
  (the identity gate enforces it; a route without a rule stops the console from starting),
- ``MENU`` (optional): a list of :class:`~sipas_console.web.menu.MenuItem` for the navigation.

Nothing else needs editing: every module of this package with a ``router`` is included, in
alphabetical order of module name (routes of different areas must not overlap). See
docs/console.md for a worked example.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import APIRouter

from sipas_console.web.menu import Menu, MenuItem
from sipas_runtime.identity import RouteTable, Rule
from sipas_runtime.identity.gate import Route


@dataclass(frozen=True)
class Area:
    """One screen area: its routes and its navigation entries."""

    name: str
    router: APIRouter
    menu: tuple[MenuItem, ...]
    permissions: Mapping[Route, Rule]


def areas() -> list[Area]:
    """Every area module of this package (modules without a ``router`` are helpers)."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            menu = tuple(getattr(module, "MENU", ()))
            found.append(Area(info.name, router, menu, getattr(module, "PERMISSIONS", {})))
    return found


def menu_of(found: list[Area]) -> Menu:
    """The navigation of the given areas."""
    return Menu(item for area in found for item in area.menu)


def permissions_of(found: list[Area]) -> RouteTable:
    """The console's route table: every area's rules together."""
    table = RouteTable("console", {})
    for area in found:
        table = table.merged(area.permissions)
    return table


def route_table() -> RouteTable:
    """The console's route table (for the generated docs)."""
    return permissions_of(areas())
