"""A hall screen's key: accepted only on the live pages' GETs, only for a unit's index reader."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request

from sipas_console.people.screens import COOKIE, identify_screen, screen_key
from sipas_runtime.identity.directory import Directory
from sipas_runtime.identity.keys import new_key

NOW = datetime(2026, 12, 7, 3, tzinfo=UTC)


def directory_with(roles: tuple[str, ...], units: tuple[str, ...]) -> tuple[Directory, str]:
    key, record = new_key(name="Màn hình", roles=roles, units=units, created_by="t", now=NOW)
    directory = Directory()
    directory.apply(f"key.{record.id}", record.model_dump_json().encode(), 1)
    return directory, key


def request_to(path: str, key: str, method: str = "GET") -> Request:
    cookie = f"{COOKIE}={key}".encode()
    scope = {"type": "http", "method": method, "path": path, "headers": [(b"cookie", cookie)],
             "query_string": b"", "scheme": "http", "server": ("t", 80)}  # fmt: skip
    return Request(scope)


def test_a_units_reader_key_opens_the_units_live_pages_and_is_passed_on_to_scoring() -> None:
    directory, key = directory_with(("reader",), ("ht-nx-xuan-lien",))
    request = request_to("/live/board/ht-nx-xuan-lien", key)

    screen = identify_screen(request, directory)

    assert screen is not None
    assert screen.units == frozenset({"ht-nx-xuan-lien"})
    assert request.state.token == key


def test_the_screen_cookie_opens_nothing_outside_the_live_pages_and_posts_nothing() -> None:
    directory, key = directory_with(("reader",), ("ht-nx-xuan-lien",))

    assert identify_screen(request_to("/campaigns", key), directory) is None
    assert identify_screen(request_to("/live/screen", key, "POST"), directory) is None


def test_refuses_keys_without_a_unit_or_without_indices_and_malformed_keys() -> None:
    no_unit, key_without_unit = directory_with(("reader",), ())
    feed, feed_key = directory_with(("tthc-feed",), ("ht-nx-xuan-lien",))

    assert screen_key(no_unit, key_without_unit, now=NOW) is None
    assert screen_key(feed, feed_key, now=NOW) is None
    assert screen_key(feed, "not-a-key", now=NOW) is None
