"""One catalogue of messages for every user-facing text: gettext catalogs read with Babel.

Source strings (``msgid``) are English; each package that shows text ships the Vietnamese
translations in ``<package>/locale/vi/LC_MESSAGES/messages.po``. Vietnamese is the default
language, English is available (``?lang=en``, the ``lang`` cookie, ``Accept-Language``).
A :class:`Catalogue` merges the ``.po`` files of several packages (the runtime kit's own
first, so every service shares the wording of common errors), compiled in memory when it is
built: nothing generated is committed. ``sipas i18n extract`` updates the ``.po`` files from
the sources and templates, ``sipas i18n check`` (run by ``make lint``) fails when a message
has no Vietnamese translation or a translation lost a placeholder.

In Python code, mark text with :func:`_` (it returns the text unchanged, so the message is
found by extraction and translated where it is shown) and translate with
``catalogue.gettext(lang, message, **params)``; templates use ``{% trans %}`` and ``_()``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from gettext import GNUTranslations, NullTranslations
from importlib.resources import files
from pathlib import Path
from typing import Literal

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

Lang = Literal["vi", "en"]
LANGUAGES: tuple[Lang, ...] = ("vi", "en")
DEFAULT_LANG: Lang = "vi"
TRANSLATED: tuple[Lang, ...] = ("vi",)
"""Languages with a catalogue; English is the source language of every message."""
RUNTIME_PACKAGE = "sipas_runtime"
DOMAIN = "messages"
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w+)\}")


def _(message: str) -> str:
    """Mark ``message`` for the catalogue; it is translated where it is shown."""
    return message


def po_path(package_dir: Path, lang: Lang = "vi") -> Path:
    """Where a package keeps its translations for ``lang``."""
    return package_dir / "locale" / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def _read_catalog(package: str, lang: Lang) -> Catalog | None:
    resource = files(package).joinpath("locale", lang, "LC_MESSAGES", f"{DOMAIN}.po")
    if not resource.is_file():
        return None
    with resource.open("rb") as handle:
        return read_po(handle, locale=lang, domain=DOMAIN)


def _compile(catalogs: Iterable[Catalog], lang: Lang) -> NullTranslations:
    merged = Catalog(locale=lang, domain=DOMAIN)
    for catalog in catalogs:
        for message in catalog:
            if message.id and message.string and not message.fuzzy:
                merged[message.id] = message
    buffer = io.BytesIO()
    write_mo(buffer, merged)
    buffer.seek(0)
    return GNUTranslations(buffer)


@dataclass(frozen=True)
class Catalogue:
    """The translations of one or more packages (later packages win on the same message)."""

    packages: tuple[str, ...]

    @classmethod
    def of(cls, *packages: str) -> Catalogue:
        """The runtime kit's messages plus those of ``packages``."""
        ordered = (RUNTIME_PACKAGE, *(p for p in packages if p != RUNTIME_PACKAGE))
        return _catalogue(ordered)

    def translations(self, lang: Lang) -> NullTranslations:
        """Gettext translations for ``lang`` (identity for English)."""
        return _translations(self.packages, lang)

    def gettext(self, lang: Lang, message: str, **params: object) -> str:
        """``message`` in ``lang``, with ``%(name)s`` placeholders filled from ``params``."""
        text = self.translations(lang).gettext(message)
        return text % params if params else text

    def ngettext(self, lang: Lang, singular: str, plural: str, n: int, **params: object) -> str:
        """The singular or plural form for ``n`` in ``lang`` (``%(num)d`` is ``n``)."""
        text = self.translations(lang).ngettext(singular, plural, n)
        return text % {"num": n, **params}


@cache
def _catalogue(packages: tuple[str, ...]) -> Catalogue:
    return Catalogue(packages)


@cache
def _translations(packages: tuple[str, ...], lang: Lang) -> NullTranslations:
    if lang not in TRANSLATED:
        return NullTranslations()
    catalogs = [c for c in (_read_catalog(p, lang) for p in packages) if c is not None]
    return _compile(catalogs, lang)


def choose_language(
    query: str | None = None, cookie: str | None = None, accept_language: str | None = None
) -> Lang:
    """The language to answer in: an explicit choice, else the browser's, else Vietnamese.

    ``Accept-Language`` is read in preference order with its quality values, so
    ``en-US,en;q=0.9,vi;q=0.8`` is English and ``vi,en;q=0.5`` Vietnamese.
    """
    for explicit in (query, cookie):
        if explicit in LANGUAGES:
            return explicit
    for tag in _preferred(accept_language or ""):
        primary = tag.split("-", 1)[0]
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANG


def _preferred(header: str) -> list[str]:
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _sep, params = part.strip().lower().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag))
    return [tag for _q, _p, tag in sorted(ranked)]


# -- maintenance: extraction and completeness (sipas i18n extract | check) ---------------------

EXTRACT_METHODS = [
    ("**/tests/**", "ignore"),
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2"),
    ("**/templates/**.txt", "jinja2"),
]
EXTRACT_OPTIONS = {
    "**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"},
    "**/templates/**.txt": {"extensions": "jinja2.ext.i18n", "trimmed": "true"},
}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def extract(package_dir: Path) -> Catalog:
    """The messages marked in a package's sources and templates."""
    catalog = _new_catalog(None)
    found = extract_from_dir(
        str(package_dir),
        method_map=EXTRACT_METHODS,
        options_map=EXTRACT_OPTIONS,
        keywords=KEYWORDS,
        comment_tags=("Translators:",),
    )
    for filename, lineno, message, comments, context in found:
        path = (package_dir / filename).relative_to(package_dir.parent)
        catalog.add(message, None, [(str(path), lineno)], auto_comments=comments, context=context)
    return catalog


def update_po(package_dir: Path, lang: Lang = "vi") -> tuple[int, int]:
    """Merge newly marked messages into a package's ``.po``; (messages, untranslated)."""
    template = extract(package_dir)
    path = po_path(package_dir, lang)
    if path.is_file():
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=lang, domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
    else:
        catalog = _new_catalog(lang)
        for message in template:
            if message.id:
                catalog[message.id] = message
    if not len(catalog):
        return 0, 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100, sort_output=True, include_lineno=False)
    return len(catalog), sum(1 for m in catalog if m.id and not m.string)


def _new_catalog(lang: Lang | None) -> Catalog:
    # Fixed header values: re-running the extraction changes the file only when messages do.
    return Catalog(
        locale=lang,
        domain=DOMAIN,
        project="SIPAS Live",
        version="1",
        copyright_holder="SIPAS Live contributors",
        msgid_bugs_address="",
        creation_date=datetime(2026, 1, 1, tzinfo=UTC),
        revision_date=datetime(2026, 1, 1, tzinfo=UTC),
        last_translator="SIPAS Live contributors",
        language_team="Vietnamese",
        fuzzy=False,
    )


@dataclass(frozen=True)
class CatalogueProblem:
    """A message that is not ready to be shown in a language."""

    package: str
    message: str
    reason: str


def check(package_dir: Path, lang: Lang = "vi") -> Iterator[CatalogueProblem]:
    """Every marked message of a package has a translation that keeps its placeholders."""
    name = package_dir.name
    path = po_path(package_dir, lang)
    template = extract(package_dir)
    known: Mapping[object, object] = {}
    if path.is_file():
        with path.open("rb") as handle:
            known = {m.id: m for m in read_po(handle, locale=lang, domain=DOMAIN) if m.id}
    for message in template:
        if not message.id:
            continue
        entry = known.get(message.id)
        string = getattr(entry, "string", None)
        if entry is None or not string:
            yield CatalogueProblem(name, str(message.id), f"no {lang} translation")
            continue
        if getattr(entry, "fuzzy", False):
            yield CatalogueProblem(name, str(message.id), "translation marked fuzzy")
        ids = [str(text) for text in _texts(message.id)]
        strings = [str(text) for text in _texts(string)]
        wanted = {p for text in ids for p in _placeholders(text)}
        for text in strings:
            if _placeholders(text) != wanted:
                yield CatalogueProblem(name, str(message.id), "placeholders differ")


def _texts(value: object) -> tuple[object, ...]:
    """A message's forms: one text, or the singular and plural forms."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _placeholders(text: str) -> set[str]:
    return {a or b for a, b in _PLACEHOLDER.findall(text)}
