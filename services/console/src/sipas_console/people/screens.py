"""Screens in a hall: a one-stop centre's live board shown without anybody's session.

A screen is a machine, so it holds a machine key (made on the keys screen, role ``reader``,
scoped to its unit), never a person's session: whoever sets the screen up pastes the key
once (``/live/screen``), and the console keeps it in an ``HttpOnly`` cookie that only the
live pages receive (``Path=/live``, ``SameSite=Strict``). Every request checks the key
against the identity directory like any bearer key, so revoking it on the keys screen
blanks the board at its next refresh. The key is only read on ``GET`` requests: a screen
has nothing to post.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request, Response

from sipas_runtime.identity import Principal
from sipas_runtime.identity.directory import Directory
from sipas_runtime.identity.keys import looks_like_key
from sipas_runtime.identity.roles import INDICES_READ
from sipas_runtime.identity.tokens import InvalidCredentialError

COOKIE = "sipas_screen"
PATH = "/live"
LIFETIME_SECONDS = 400 * 24 * 3600  # browsers cap cookies near 400 days; the key expires first


def screen_key(directory: Directory, key: str, *, now: datetime) -> Principal | None:
    """The machine a key speaks for, if it is a valid key that may read indices."""
    if not looks_like_key(key):
        return None
    try:
        principal = directory.authenticate(key, now=now)
    except InvalidCredentialError:
        return None
    if principal.kind != "machine" or not principal.may(INDICES_READ) or not principal.units:
        return None
    return principal


def identify_screen(request: Request, directory: Directory) -> Principal | None:
    """The screen behind a live page's ``GET`` (None: no screen cookie, or a refused key)."""
    key = request.cookies.get(COOKIE)
    if request.method != "GET" or not key or not request.url.path.startswith(PATH + "/"):
        return None
    principal = screen_key(directory, key, now=datetime.now(UTC))
    if principal is not None:
        request.state.token = key  # what the console calls scoring with for this screen
        request.state.permissions = principal.permissions
    return principal


def keep_screen_key(response: Response, key: str, *, secure: bool) -> None:
    """Remember ``key`` in this browser for the live pages."""
    response.set_cookie(
        COOKIE, key, max_age=LIFETIME_SECONDS, httponly=True, secure=secure,
        samesite="strict", path=PATH,
    )  # fmt: skip
