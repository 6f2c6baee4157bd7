"""The console's screens: one module per area, discovered at start-up.

To add a screen area, write ``sipas_console/web/<area>.py`` exposing

- ``router``: a FastAPI ``APIRouter`` with the area's pages (HTML, rendered with
  :func:`sipas_console.web.page.render` from templates in ``templates/<area>/``), and
- ``MENU`` (optional): a list of :class:`~sipas_console.web.menu.MenuItem` for the navigation.

Nothing else needs editing: every module of this package with a ``router`` is included, in
alphabetical order of module name (routes of different areas must not overlap). See
docs/console.md for a worked example.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from fastapi import APIRouter

from sipas_console.web.menu import Menu, MenuItem


@dataclass(frozen=True)
class Area:
    """One screen area: its routes and its navigation entries."""

    name: str
    router: APIRouter
    menu: tuple[MenuItem, ...]


def areas() -> list[Area]:
    """Every area module of this package (modules without a ``router`` are helpers)."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found.append(Area(info.name, router, tuple(getattr(module, "MENU", ()))))
    return found


def menu_of(found: list[Area]) -> Menu:
    """The navigation of the given areas."""
    return Menu(item for area in found for item in area.menu)
