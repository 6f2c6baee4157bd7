"""Pure parts of the console: navigation, what a service call carries, claims to roles."""

from __future__ import annotations

import pytest

from sipas_console.clients import Caller
from sipas_console.people.sso import Grant, map_claims
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


def test_the_providers_groups_map_to_roles_and_units_together():
    groups = {
        "snv": {"roles": ["supervisor"], "units": ["ht"]},
        "ubnd-co-dam": {"roles": ["handler"], "units": ["ht-nx-co-dam"]},
    }

    both = map_claims({"groups": ["snv", "ubnd-co-dam", "x"]}, groups_claim="groups", groups=groups)
    one = map_claims({"roles": "ubnd-co-dam"}, groups_claim="roles", groups=groups)
    none = map_claims({"groups": ["x"], "other": ["snv"]}, groups_claim="groups", groups=groups)

    assert both == Grant(("handler", "supervisor"), ("ht", "ht-nx-co-dam"))
    assert one == Grant(("handler",), ("ht-nx-co-dam",))
    assert none == Grant((), ())
