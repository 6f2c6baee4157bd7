"""A form profile of an instrument, laid out for people: sections, groups, items, options.

Used by the survey and kiosk pages and by ``GET /v1/forms/...`` (tablet apps and the
paper template use the same layout). Items keep the profile's order; consecutive items
of one element (or one multi-item question) form a group with a heading.
"""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel

from sipas_contracts.instrument import Catalogue, Item, load_catalogue
from sipas_runtime.i18n import Catalogue as Messages
from sipas_runtime.i18n import Lang, _

NOT_APPLICABLE_LABEL = _("Not applicable / no answer")
SECTION_TITLES = {
    "perception": _("Your experience"),
    "satisfaction": _("Satisfaction"),
    "expectation": _("What you expect"),
}


def _message(text: str, lang: Lang) -> str:
    return Messages.of("sipas_intake").gettext(lang, text)


class Option(BaseModel):
    """One answer an item offers."""

    code: str
    label: str


class QuestionItem(BaseModel):
    """One answerable item."""

    id: str
    text: str
    options: list[Option]

    def choices(self) -> list[tuple[str, str]]:
        """The options as (code, label) pairs, as the page components take them."""
        return [(o.code, o.label) for o in self.options]

    def five_levels(self) -> bool:
        """Whether the answers are the five levels 1-5 (shown as faces on the counter tablet)."""
        return [o.code for o in self.options if o.code != "na"] == ["1", "2", "3", "4", "5"]


class Group(BaseModel):
    """Items under one heading (an element or a question); ``heading`` None for singles."""

    heading: str | None
    items: list[QuestionItem]


class Section(BaseModel):
    """Perception, satisfaction or expectation part of the form."""

    id: str
    title: str
    groups: list[Group]


class Questionnaire(BaseModel):
    """A whole form in one language."""

    instrument_id: str
    profile: str
    title: str
    lang: Lang
    comment: bool
    sections: list[Section]

    def item_ids(self) -> list[str]:
        """Every item, in order."""
        return [i.id for s in self.sections for g in s.groups for i in g.items]


def _text(obj: Item | object, lang: Lang) -> str:
    return str(getattr(obj, lang, None) or getattr(obj, "vi", ""))


def _item(catalogue: Catalogue, item: Item, lang: Lang) -> QuestionItem:
    scale = catalogue.scales[item.scale]
    options = [Option(code=str(c), label=scale.label(c, lang)) for c in sorted(scale.values)]
    options.append(Option(code="na", label=_message(NOT_APPLICABLE_LABEL, lang)))
    return QuestionItem(id=item.id, text=_text(item, lang), options=options)


def _heading(catalogue: Catalogue, item: Item, lang: Lang) -> tuple[str, str | None]:
    if item.element is not None:
        return item.element, _text(catalogue.elements[item.element], lang)
    question = next(q for q in catalogue.questions if q.id == item.question)
    if len(question.items) > 1:
        return question.id, _text(question, lang)
    return item.id, None


@cache
def for_instrument(instrument_id: str, profile: str, lang: Lang = "vi") -> Questionnaire:
    """The questionnaire of a shipped instrument, built once per (profile, language)."""
    return build(load_catalogue(instrument_id), profile, lang)


def build(catalogue: Catalogue, profile: str, lang: Lang = "vi") -> Questionnaire:
    """The questionnaire of ``profile`` (raises KeyError naming the known profiles)."""
    form = catalogue.form(profile)
    sections: list[Section] = []
    last_group = ""
    for item_id in form.items:
        item = catalogue.items[item_id]
        if not sections or sections[-1].id != item.section:
            sections.append(
                Section(
                    id=item.section,
                    title=_message(SECTION_TITLES[item.section], lang),
                    groups=[],
                )
            )
            last_group = ""
        key, heading = _heading(catalogue, item, lang)
        if key != last_group:
            sections[-1].groups.append(Group(heading=heading, items=[]))
            last_group = key
        sections[-1].groups[-1].items.append(_item(catalogue, item, lang))
    title = form.en if lang == "en" else form.vi
    return Questionnaire(
        instrument_id=catalogue.id,
        profile=profile,
        title=title,
        lang=lang,
        comment=form.comment,
        sections=sections,
    )
