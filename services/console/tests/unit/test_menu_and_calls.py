"""Pure parts of the console: the navigation and what a service call carries."""

from __future__ import annotations

import pytest

from sipas_console.clients import Caller
from sipas_console.web import areas, menu_of
from sipas_console.web.menu import Menu, MenuItem


def test_menu_shows_public_entries_to_everyone_and_the_rest_by_permission():
    menu = Menu(
        [
            MenuItem(20, "Cases", "/cases", permission="cases.read"),
            MenuItem(0, "Home", "/"),
            MenuItem(90, "Keys", "/keys", permission="keys.manage"),
        ]
    )

    anonymous = menu.visible(frozenset())
    handler = menu.visible(frozenset({"cases.read"}))

    assert [i.path for i in anonymous] == ["/"]
    assert [i.path for i in handler] == ["/", "/cases"]


def test_two_entries_for_one_path_are_refused():
    with pytest.raises(ValueError, match="/cases"):
        Menu([MenuItem(1, "Cases", "/cases"), MenuItem(2, "Inbox", "/cases")])


def test_an_area_is_current_on_its_pages_but_home_only_on_itself():
    cases, home = MenuItem(1, "Cases", "/cases"), MenuItem(0, "Home", "/")

    assert cases.is_current("/cases/0193-x")
    assert not cases.is_current("/casework")
    assert home.is_current("/")
    assert not home.is_current("/cases")


def test_areas_are_discovered_from_the_web_package():
    found = areas()

    assert "home" in [area.name for area in found]
    assert "page" not in [area.name for area in found]  # helpers have no router
    assert menu_of(found).items[0].path == "/"


def test_a_call_carries_the_persons_token_and_language():
    assert Caller(token="abc", lang="en").headers() == {
        "Authorization": "Bearer abc",
        "Accept-Language": "en",
    }
    assert Caller().headers() == {"Accept-Language": "vi"}
