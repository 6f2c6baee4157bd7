"""The counter tablet as an installable web app: manifest, service worker, thanks and offline.

The manifest opens ``/k`` full screen; the service worker (scope ``/k``) keeps the pages'
stylesheets, script and an offline notice on the device, so a dropped connection shows a
clear page that returns to the form by itself instead of the browser's error page. These
routes are registered before ``/k/{key}`` (pairing), which would otherwise take them.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request, Response

from sipas_intake.api import service_of
from sipas_intake.web.render import MESSAGES
from sipas_runtime.i18n import Lang, _, choose_language
from sipas_runtime.pages import app_manifest, service_worker

router = APIRouter(include_in_schema=False)
AGAIN = _("New rating")
OFFLINE = (
    _("Waiting for the network"),
    _("This tablet has lost its connection. The rating screen comes back by itself."),
)
OFFLINE_RETRY_SECONDS = 5
APP_NAME = _("Rating at the counter")


def kiosk_message(
    request: Request,
    key: str,
    lang: Lang,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A large kiosk page with one message that returns to a blank form by itself."""
    intake = service_of(request)
    title, body = OFFLINE if key == "offline" else MESSAGES[key]
    seconds = {
        "kiosk_thanks": intake.settings.kiosk_thanks_seconds,
        "offline": OFFLINE_RETRY_SECONDS,
    }.get(key, max(1, int(intake.settings.kiosk_interval_seconds)))
    return intake.renderer.page(
        "kiosk_message.html",
        lang=lang,
        status=status,
        headers=headers,
        title=intake.renderer.text(lang, title),
        body=intake.renderer.text(lang, body),
        again=intake.renderer.text(lang, AGAIN),
        seconds=seconds,
        happy=key == "kiosk_thanks",
    )


@router.get("/k/done")
async def kiosk_thanks(request: Request) -> Response:
    """Thanks, then back to a blank form by itself (kiosk.js), or by its button."""
    lang = choose_language(request.query_params.get("lang"))
    return kiosk_message(request, "kiosk_thanks", lang)


@router.get("/k/offline")
async def kiosk_offline(request: Request) -> Response:
    """What the service worker shows when the network is gone (cached at install)."""
    lang = choose_language(request.query_params.get("lang"))
    return kiosk_message(request, "offline", lang)


@router.get("/k/manifest.webmanifest")
async def manifest(request: Request) -> Response:
    """The web app manifest: ``/k`` full screen, the app's name in Vietnamese."""
    text = service_of(request).renderer.text
    return app_manifest(
        name=f"SIPAS — {text('vi', APP_NAME)}",
        short_name=text("vi", APP_NAME),
        scope="/k",
        display="fullscreen",
        icons="/static/kiosk-icon",
        orientation="any",
    )


@router.get("/k/sw.js")
async def sw() -> Response:
    """The kiosk's service worker, allowed to control ``/k`` (its own folder would be /k/)."""
    return service_worker("sipas_intake.web", "kiosk-sw.js", "/k")
