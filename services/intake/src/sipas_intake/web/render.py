"""HTML rendering (Jinja2, autoescaped) with the pages' security headers."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from sipas_contracts.units import UnitHierarchy, UnitHierarchyError
from sipas_intake.web.i18n import Lang, translate
from sipas_runtime.pages import SECURITY_HEADERS


class Renderer:
    """Renders the templates of ``sipas_intake.web``."""

    def __init__(self, hierarchy: UnitHierarchy) -> None:
        self._hierarchy = hierarchy
        self._env = Environment(
            loader=PackageLoader("sipas_intake.web", "templates"),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def unit_name(self, code: str, lang: Lang) -> str:
        """A unit's name for respondents (its code if the hierarchy lost it)."""
        try:
            unit = self._hierarchy.get(code)
        except UnitHierarchyError:
            return code
        return (unit.name_en if lang == "en" else None) or unit.name_vi

    def page(
        self,
        template: str,
        *,
        lang: Lang,
        status: int = 200,
        switch_url: str | None = None,
        headers: Mapping[str, str] | None = None,
        **context: object,
    ) -> HTMLResponse:
        """A rendered page with security headers."""
        html = self._env.get_template(template).render(
            lang=lang,
            t=lambda key: translate(key, lang),
            switch_url=switch_url,
            other_lang="vi" if lang == "en" else "en",
            **context,
        )
        return HTMLResponse(
            html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})}
        )

    def message(
        self,
        key: str,
        *,
        lang: Lang,
        status: int,
        headers: Mapping[str, str] | None = None,
        refresh: str | None = None,
        link: tuple[str, str] | None = None,
    ) -> HTMLResponse:
        """A page with one message (``<key>_title`` / ``<key>_body``)."""
        return self.page(
            "message.html",
            lang=lang,
            status=status,
            headers=headers,
            key=key,
            refresh=refresh,
            link=link,
        )
