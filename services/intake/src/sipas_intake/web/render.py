"""Intake's pages through the runtime kit: shared layout and components, one catalogue.

Templates live in ``sipas_intake/web/templates`` and extend ``intake.html`` (the kit's
``layout.html`` with the survey's header and footer). Text is English in the sources and
Vietnamese in ``sipas_intake/locale``; Vietnamese is the default language.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.responses import HTMLResponse

from sipas_contracts.units import UnitHierarchy, UnitHierarchyError
from sipas_runtime.i18n import Catalogue, Lang, _
from sipas_runtime.pages import Pages

MESSAGES: Mapping[str, tuple[str, str]] = {
    "thanks": (
        _("Thank you!"),
        _(
            "Your answers have been recorded. They help the administration serve people "
            "and organisations better."
        ),
    ),
    "used": (
        _("These answers have already been sent"),
        _(
            "Each link can be used once and your answers were already recorded. There is "
            "nothing more to do. Thank you."
        ),
    ),
    "expired": (
        _("This link has expired"),
        _("The time to answer this survey has ended. Thank you for your interest."),
    ),
    "closed": (
        _("This survey is closed for you"),
        _(
            "Another person was invited in your place, so this link no longer takes "
            "answers. Thank you for your time."
        ),
    ),
    "unknown": (
        _("This link is not valid"),
        _("Please check the link in your message and copy it in full."),
    ),
    "nocookie": (
        _("The survey could not be opened"),
        _(
            "Please open the link in your message again. If it still fails, allow this "
            "site's cookies in your browser."
        ),
    ),
    "forbidden": (
        _("Request refused"),
        _("Answers must be sent from the survey page itself. Please open the link again."),
    ),
    "slow": (
        _("Please try again in a few minutes"),
        _("Too many requests came from this network address."),
    ),
    "busy": (
        _("Your answers could not be saved"),
        _("The survey was being changed in another window. Please go back and try again."),
    ),
    "kiosk_thanks": (
        _("Thank you!"),
        _("Your rating has been recorded. The screen resets in a few seconds."),
    ),
    "kiosk_too_soon": (
        _("Please wait a moment"),
        _("A rating was just sent from this device. Please try again in a few seconds."),
    ),
    "kiosk_unknown": (
        _("Device not registered"),
        _("This device is not registered or was revoked. Please tell the counter staff."),
    ),
}


def switch_url(path: str, lang: Lang) -> str:
    """The same page in the other language (``path`` may carry a query already)."""
    other = "en" if lang == "vi" else "vi"
    return f"{path}{'&' if '?' in path else '?'}lang={other}"


class Renderer:
    """Renders intake's templates in a language, with the kit's security headers."""

    def __init__(self, hierarchy: UnitHierarchy, catalogue: Catalogue) -> None:
        self._hierarchy = hierarchy
        self.catalogue = catalogue
        self.pages = Pages("sipas_intake.web", catalogue)

    def text(self, lang: Lang, message: str, **params: object) -> str:
        """A catalogue message in ``lang``."""
        return self.catalogue.gettext(lang, message, **params)

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
        headers: Mapping[str, str] | None = None,
        variables: Mapping[str, object] | None = None,
        **context: object,
    ) -> HTMLResponse:
        """A rendered page with the security headers (``variables`` add to ``context``)."""
        values = {"switch_url": None, **(variables or {}), **context}
        return self.pages.response(template, lang=lang, status=status, headers=headers, **values)

    def message(
        self,
        key: str,
        *,
        lang: Lang,
        status: int,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """A page with one message of :data:`MESSAGES`."""
        title, body = MESSAGES[key]
        return self.page(
            "message.html",
            lang=lang,
            status=status,
            headers=headers,
            key=key,
            title=self.text(lang, title),
            body=self.text(lang, body),
        )
