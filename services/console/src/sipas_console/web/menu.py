"""The console's navigation: one entry per screen area, shown to whoever may use it.

An area module (``web/<area>.py``) declares ``MENU = [MenuItem(...)]`` beside its ``router``;
the console collects both (see ``web/__init__``). Labels and descriptions are English
msgids marked with ``_()`` and translated when the page is rendered.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class MenuItem:
    """A link in the main navigation (and a card on the home page)."""

    order: int
    label: str
    path: str
    description: str = ""
    permission: str | None = None
    """Permission needed to see the entry; None: everyone, signed in or not."""

    def visible_to(self, permissions: Collection[str]) -> bool:
        """Whether someone holding ``permissions`` may use the area."""
        return self.permission is None or self.permission in permissions

    def is_current(self, path: str) -> bool:
        """Whether ``path`` is this area's page or one below it."""
        if self.path == "/":
            return path == "/"
        return path == self.path or path.startswith(self.path.rstrip("/") + "/")


class Menu:
    """Every area's entries, in their declared order."""

    def __init__(self, items: Iterable[MenuItem]) -> None:
        self.items = tuple(sorted(items))
        paths = [item.path for item in self.items]
        duplicated = {p for p in paths if paths.count(p) > 1}
        if duplicated:
            msg = f"two menu entries lead to {sorted(duplicated)}"
            raise ValueError(msg)

    def visible(self, permissions: Collection[str]) -> tuple[MenuItem, ...]:
        """The entries someone holding ``permissions`` sees."""
        return tuple(item for item in self.items if item.visible_to(permissions))
