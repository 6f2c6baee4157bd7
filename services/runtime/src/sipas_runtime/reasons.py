"""Why a value was refused, in the caller's language, from pydantic's error types.

Pydantic explains a refused value in English (``String should have at most 64
characters``). A commune official calling the API, or an integrator in Hà Tĩnh, reads the
reason in Vietnamese by default: each common error type has an English msgid here (with
``%(name)s`` placeholders filled from the error's context) that the runtime catalogue
translates. Unknown types fall back to pydantic's own sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sipas_runtime.i18n import Catalogue, Lang, _

LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})
WHOLE_BODY = _("request body")

REASONS: Mapping[str, str] = {
    "missing": _("Required."),
    "extra_forbidden": _("Not a known field."),
    "string_type": _("Must be text."),
    "string_too_short": _("At least %(min_length)s characters."),
    "string_too_long": _("At most %(max_length)s characters."),
    "string_pattern_mismatch": _("Not in the expected form."),
    "int_type": _("Must be a whole number."),
    "int_parsing": _("Must be a whole number."),
    "int_from_float": _("Must be a whole number."),
    "float_type": _("Must be a number."),
    "float_parsing": _("Must be a number."),
    "bool_type": _("Must be true or false."),
    "bool_parsing": _("Must be true or false."),
    "greater_than": _("Must be greater than %(gt)s."),
    "greater_than_equal": _("Must be at least %(ge)s."),
    "less_than": _("Must be less than %(lt)s."),
    "less_than_equal": _("Must be at most %(le)s."),
    "too_short": _("At least %(min_length)s items."),
    "too_long": _("At most %(max_length)s items."),
    "list_type": _("Must be a list."),
    "dict_type": _("Must be an object."),
    "model_type": _("Must be an object."),
    "model_attributes_type": _("Must be an object."),
    "literal_error": _("Must be one of: %(expected)s."),
    "enum": _("Must be one of: %(expected)s."),
    "date_parsing": _("Must be a date (YYYY-MM-DD)."),
    "date_from_datetime_parsing": _("Must be a date (YYYY-MM-DD)."),
    "date_type": _("Must be a date (YYYY-MM-DD)."),
    "datetime_parsing": _("Must be a date and time (ISO 8601, with its time zone)."),
    "datetime_from_date_parsing": _("Must be a date and time (ISO 8601, with its time zone)."),
    "datetime_type": _("Must be a date and time (ISO 8601, with its time zone)."),
    "timezone_aware": _("Must say its time zone (e.g. +07:00)."),
    "json_invalid": _("Not valid JSON."),
    "json_type": _("Not valid JSON."),
    "uuid_parsing": _("Must be a UUID."),
    "url_parsing": _("Must be a web address."),
    "value_error": _("Not accepted: %(error)s"),
}


def field_name(location: tuple[Any, ...] | list[Any]) -> str:
    """The field a location names, without FastAPI's ``body``/``query`` prefix."""
    parts = [str(p) for p in location]
    if parts and parts[0] in LOCATIONS:
        parts = parts[1:]
    return ".".join(parts)


def reason(error: Mapping[str, Any], catalogue: Catalogue, lang: Lang) -> str:
    """Why the value was refused, in ``lang`` (pydantic's sentence for unknown types)."""
    fallback = str(error.get("msg", "invalid"))
    message = REASONS.get(str(error.get("type", "")))
    if message is None:
        return fallback
    context = {key: _shown(value) for key, value in (error.get("ctx") or {}).items()}
    if "%(" in message and not context:
        return fallback
    try:
        return catalogue.gettext(lang, message, **context)
    except (KeyError, ValueError, TypeError):  # a placeholder the error's context lacks
        return fallback


def _shown(value: object) -> object:
    return str(value).removeprefix("Value error, ") if isinstance(value, Exception) else value
