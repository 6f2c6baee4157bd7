"""Server-rendered pages: Jinja2 templates translated through the catalogue, safe headers.

Every service that shows pages (the survey form, the console, the public results, the
report) renders them the same way: its own ``templates/`` folder first, then the kit's
(``layout.html`` and the component macros in ``components.html``, GOV.UK Design System
patterns: error summary linking to the fields, labels tied to inputs, ≥ 44 px targets).
Autoescaping is always on and undefined names fail loudly. Responses carry a strict
Content-Security-Policy (no inline script or style, nothing from elsewhere).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

from fastapi import Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape

from sipas_runtime.i18n import LANGUAGES, Catalogue, Lang

SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; manifest-src 'self'; worker-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
"""Headers of every HTML page (a page may relax ``Cache-Control`` when it is public)."""


class Pages:
    """The templates of one package (plus the kit's), one environment per language."""

    def __init__(
        self,
        package: str,
        catalogue: Catalogue,
        *,
        templates: str = "templates",
        globals_: Mapping[str, Any] | None = None,
    ) -> None:
        self.catalogue = catalogue
        loader = ChoiceLoader(
            [PackageLoader(package, templates), PackageLoader("sipas_runtime", "templates")]
        )
        self._environments: dict[Lang, Environment] = {}
        for lang in LANGUAGES:
            env = Environment(
                loader=loader,
                autoescape=select_autoescape(default=True, default_for_string=True),
                undefined=StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                extensions=["jinja2.ext.i18n"],
            )
            env.install_gettext_translations(  # type: ignore[attr-defined]  # added by the i18n extension
                catalogue.translations(lang), newstyle=True
            )
            env.globals.update({"lang": lang, **(globals_ or {})})
            self._environments[lang] = env

    def environment(self, lang: Lang) -> Environment:
        """The Jinja2 environment that renders in ``lang``."""
        return self._environments[lang]

    def render(self, template: str, *, lang: Lang, **context: object) -> str:
        """``template`` rendered in ``lang``."""
        return self._environments[lang].get_template(template).render(**context)

    def response(
        self,
        template: str,
        *,
        lang: Lang,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **context: object,
    ) -> HTMLResponse:
        """An HTML response with the security headers (``headers`` add or override)."""
        html = self.render(template, lang=lang, **context)
        return HTMLResponse(
            html,
            status_code=status,
            headers={**SECURITY_HEADERS, "Content-Language": lang, **(headers or {})},
        )


def static_files(package: str) -> StaticFiles:
    """The static files of ``package`` (its ``static/`` folder) over the kit's (``sipas.css``)."""
    return StaticFiles(packages=[(package, "static"), ("sipas_runtime", "static")])


WORKER_POLICY = "default-src 'self'; base-uri 'none'; frame-ancestors 'none'"
"""A service worker's policy: it fetches and caches this origin's pages and files, nothing else."""
APP_HEADERS = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}


def app_manifest(
    *, name: str, short_name: str, scope: str, display: str, icons: str, **extra: str
) -> JSONResponse:
    """An installable web app's manifest: ``scope`` in its own window, Vietnamese first.

    ``icons`` is the path prefix of its 192 and 512 px PNG icons (``/static/kiosk-icon``).
    """
    body = {
        "name": name,
        "short_name": short_name,
        "lang": "vi",
        "start_url": scope,
        "scope": scope,
        "display": display,
        **extra,
        "background_color": "#ffffff",
        "theme_color": "#8b0000",
        "icons": [
            {"src": f"{icons}-{n}.png", "sizes": f"{n}x{n}", "type": "image/png"}
            for n in (192, 512)
        ],
    }
    return JSONResponse(body, media_type="application/manifest+json", headers=APP_HEADERS)


def service_worker(package: str, script: str, scope: str) -> Response:
    """A service worker from ``package``'s ``static/`` folder, allowed to control ``scope``.

    Served from ``<scope>/sw.js`` (its own folder would be ``<scope>/``), never cached
    stale: browsers check it for updates on every visit. Its policy lets it fetch from this
    origin only (the policy of a non-HTML answer, which runs nothing, would stop it caching).
    """
    body = (resources.files(package) / "static" / script).read_bytes()
    headers = {
        "Content-Security-Policy": WORKER_POLICY,
        "Service-Worker-Allowed": scope,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)
