"""The default invitation wording, from the message catalogue.

English msgids, Vietnamese translations in ``locale/vi``; a campaign's
``templates.language`` picks the language, its own templates replace the wording.
"""

from __future__ import annotations

from functools import cache

from sipas_runtime.i18n import Catalogue, Lang, _
from sipas_sampling.domain.messages import Wording

# Placeholders are str.format fields filled by ``render``: {unit}, {dossier}, {link},
# {officer_clause} (the officer sentence below, or nothing) and {officer}.
TEXT = _(
    "{unit} invites you to rate your satisfaction with the handling of dossier "
    "{dossier}{officer_clause}. Anonymous survey, about 3 minutes: {link}"
)
# Translators: an SMS; diacritics are stripped when it is sent, keep it short.
SMS = _("{unit} invites you to rate dossier {dossier}: {link}")
SUBJECT = _("Please rate our service — {unit}")
# Translators: appended to the dossier number in the invitation text.
OFFICER = _(", handled by {officer}")
# Translators: put before the text and the subject of a reminder.
REMINDER = _("Reminder: ")


@cache
def wording(lang: Lang) -> Wording:
    """The default texts in ``lang``."""
    catalogue = Catalogue.of("sipas_sampling")
    text, sms, subject, officer, reminder = (
        catalogue.gettext(lang, m) for m in (TEXT, SMS, SUBJECT, OFFICER, REMINDER)
    )
    return Wording(text=text, sms=sms, subject=subject, officer=officer, reminder=reminder)
