"""Campaign templates: a plan written for one day, instantiated for another.

A campaign document with ``as_of`` is a template: its dates were written for that day
(seed 002: the draw on 2020-09-01, results delivered 2020-01-02 to 2020-08-31, fieldwork
until 2020-10-31). Instantiated for a day D, every date moves by ``D - as_of`` and
``{year}`` in the id, the names and the seed becomes D's year, so the same plan runs
this year on a fresh machine: the window ends the day before D, the draw happens on D,
fieldwork still has its two months. Instantiated for its own ``as_of`` it is the plan as
written. A document without ``as_of`` has fixed dates and is returned unchanged.
"""

from __future__ import annotations

from datetime import date
from typing import Any

DATES: tuple[tuple[str, ...], ...] = (("window", "start"), ("window", "end"), ("fieldwork_end",))
TEXTS = ("id", "name_vi", "name_en", "seed")


class TemplateDateError(ValueError):
    """Raised when a template's ``as_of`` or one of its dates is not a date."""


def _as_date(value: object, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        msg = f"{field}: {value!r} is not a date (YYYY-MM-DD)"
        raise TemplateDateError(msg) from exc


def _moved(document: dict[str, Any], path: tuple[str, ...], days: int) -> None:
    parent: Any = document
    for key in path[:-1]:
        parent = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(parent, dict) or parent.get(path[-1]) is None:
        return
    written = _as_date(parent[path[-1]], ".".join(path))
    parent[path[-1]] = date.fromordinal(written.toordinal() + days).isoformat()


def is_template(document: object) -> bool:
    """Whether a campaign document is a template (has ``as_of``)."""
    return isinstance(document, dict) and document.get("as_of") is not None


def instantiate(document: dict[str, Any], day: date | None = None) -> dict[str, Any]:
    """The document with its dates moved to ``day`` (a copy; non-templates unchanged).

    Without ``day``, the template as written (only ``{year}`` and ``{as_of}`` filled in).
    """
    if not is_template(document):
        return document
    written = _as_date(document["as_of"], "as_of")
    day = day or written
    days = day.toordinal() - written.toordinal()
    out: dict[str, Any] = {
        key: dict(value) if isinstance(value, dict) else value for key, value in document.items()
    }
    for path in DATES:
        _moved(out, path, days)
    for key in TEXTS:
        if isinstance(out.get(key), str):
            out[key] = out[key].replace("{year}", str(day.year)).replace("{as_of}", day.isoformat())
    out["as_of"] = day.isoformat()
    return out
