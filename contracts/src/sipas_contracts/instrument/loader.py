"""Load instrument catalogues from their YAML files into validated :class:`Catalogue` models."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sipas_contracts.instrument.models import (
    Aspect,
    Catalogue,
    Element,
    FormProfile,
    Item,
    Question,
    Scale,
    Section,
)


class CatalogueError(ValueError):
    """Raised when a catalogue file is missing or does not describe a valid instrument."""


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _RawItem(_Raw):
    id: str
    vi: str
    en: str
    evidence: str | None = None


class _RawQuestion(_Raw):
    id: str
    vi: str
    en: str
    scale: str
    kind: str | None = None
    extension: bool = False
    favourable: list[int] | None = None
    items: list[_RawItem] = Field(min_length=1)


class _RawElement(_Raw):
    id: str
    vi: str
    en: str
    items: list[_RawItem] = Field(min_length=1)


class _RawAspect(_Raw):
    id: str
    vi: str
    en: str
    elements: list[_RawElement] = Field(min_length=1)


class _RawSatisfaction(_Raw):
    scale: str
    aspects: list[_RawAspect] = Field(min_length=1)


class _RawScale(_Raw):
    values: dict[int, str]
    en: dict[int, str] = Field(default_factory=dict)
    positive: list[int] = Field(default_factory=list)
    ordinal: bool = False


class _RawForm(_Raw):
    vi: str
    en: str
    include: list[str] = Field(min_length=1)
    comment: bool = True


class _RawCatalogue(_Raw):
    id: str
    revision: int
    title_vi: str
    title_en: str
    legal_basis: str
    confidence: str
    sipas_rule: str
    scales: dict[str, _RawScale]
    perception: list[_RawQuestion] = Field(default_factory=list)
    satisfaction: _RawSatisfaction
    expectation: list[_RawQuestion] = Field(default_factory=list)
    forms: dict[str, _RawForm] = Field(default_factory=dict)


def _question(
    raw: _RawQuestion, section: Section, scales: dict[str, Scale]
) -> tuple[Question, list[Item]]:
    scale = scales.get(raw.scale)
    if scale is None:
        msg = f"question {raw.id}: unknown scale {raw.scale!r}"
        raise CatalogueError(msg)
    positive = tuple(raw.favourable) if raw.favourable is not None else scale.positive
    items = [
        Item(
            id=it.id,
            vi=it.vi,
            en=it.en,
            scale=raw.scale,
            section=section,
            question=raw.id,
            positive=positive,
            evidence=it.evidence,
        )
        for it in raw.items
    ]
    kind = raw.kind or ("single" if len(items) == 1 else "grid")
    question = Question(
        id=raw.id,
        vi=raw.vi,
        en=raw.en,
        section=section,
        scale=raw.scale,
        kind=kind,
        items=tuple(i.id for i in items),
        extension=raw.extension,
    )
    return question, items


def _build(raw: _RawCatalogue) -> Catalogue:
    scales = {
        sid: Scale(id=sid, **s.model_dump(exclude={"positive"}), positive=tuple(s.positive))
        for sid, s in raw.scales.items()
    }
    questions: list[Question] = []
    items: list[Item] = []
    for raw_q in raw.perception:
        q, its = _question(raw_q, "perception", scales)
        questions.append(q)
        items.extend(its)
    sat_scale = scales.get(raw.satisfaction.scale)
    if sat_scale is None:
        msg = f"satisfaction: unknown scale {raw.satisfaction.scale!r}"
        raise CatalogueError(msg)
    elements: dict[str, Element] = {}
    aspects: dict[str, Aspect] = {}
    for raw_a in raw.satisfaction.aspects:
        for raw_e in raw_a.elements:
            q, its = _question(
                _RawQuestion(
                    id=raw_e.id, vi=raw_e.vi, en=raw_e.en, scale=sat_scale.id, items=raw_e.items
                ),
                "satisfaction",
                scales,
            )
            its = [i.model_copy(update={"element": raw_e.id, "aspect": raw_a.id}) for i in its]
            questions.append(q.model_copy(update={"kind": "grid"}))
            items.extend(its)
            elements[raw_e.id] = Element(
                id=raw_e.id, vi=raw_e.vi, en=raw_e.en, aspect=raw_a.id, items=q.items
            )
        aspects[raw_a.id] = Aspect(
            id=raw_a.id, vi=raw_a.vi, en=raw_a.en, elements=tuple(e.id for e in raw_a.elements)
        )
    for raw_q in raw.expectation:
        q, its = _question(raw_q, "expectation", scales)
        questions.append(q.model_copy(update={"kind": "grid"}) if len(its) > 1 else q)
        items.extend(its)
    by_id: dict[str, Item] = {}
    for item in items:
        if item.id in by_id:
            msg = f"item id {item.id!r} is used twice"
            raise CatalogueError(msg)
        by_id[item.id] = item
    groups = _item_groups(questions, elements, aspects)
    forms = {fid: _form(fid, f, groups, by_id) for fid, f in raw.forms.items()}
    return Catalogue(
        id=raw.id,
        revision=raw.revision,
        title_vi=raw.title_vi,
        title_en=raw.title_en,
        legal_basis=raw.legal_basis,
        confidence=raw.confidence,
        sipas_rule=raw.sipas_rule,
        satisfaction_scale=sat_scale.id,
        scales=scales,
        questions=tuple(questions),
        items=by_id,
        elements=elements,
        aspects=aspects,
        forms=forms,
    )


def _item_groups(
    questions: list[Question], elements: dict[str, Element], aspects: dict[str, Aspect]
) -> dict[str, tuple[str, ...]]:
    """Item ids behind every id a form may include: aspect, element, question (or item)."""
    groups: dict[str, tuple[str, ...]] = {q.id: q.items for q in questions}
    groups.update({e.id: e.items for e in elements.values()})
    for aspect in aspects.values():
        groups[aspect.id] = tuple(i for e in aspect.elements for i in elements[e].items)
    return groups


def _form(
    form_id: str, raw: _RawForm, groups: dict[str, tuple[str, ...]], items: dict[str, Item]
) -> FormProfile:
    chosen: list[str] = []
    for reference in raw.include:
        expanded = groups.get(reference) or ((reference,) if reference in items else ())
        if not expanded:
            msg = f"form {form_id}: {reference!r} is not an aspect, element, question or item"
            raise CatalogueError(msg)
        for item_id in expanded:
            if item_id in chosen:
                msg = f"form {form_id}: item {item_id!r} is included twice"
                raise CatalogueError(msg)
            chosen.append(item_id)
    return FormProfile(id=form_id, vi=raw.vi, en=raw.en, items=tuple(chosen), comment=raw.comment)


def parse_catalogue(document: dict[str, Any], *, origin: str = "<document>") -> Catalogue:
    """Validate a parsed YAML document (``{"catalogue": {...}}``) into a :class:`Catalogue`."""
    try:
        raw = _RawCatalogue.model_validate(document.get("catalogue", document))
        return _build(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        msg = f"{origin}: invalid catalogue: {problems}"
        raise CatalogueError(msg) from exc


def load_catalogue_file(path: Path) -> Catalogue:
    """Load a catalogue from a YAML file on disk (e.g. a provincial overlay)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        msg = f"{path}: cannot read catalogue: {exc}"
        raise CatalogueError(msg) from exc
    return parse_catalogue(document, origin=str(path))


def available_catalogues() -> tuple[str, ...]:
    """Ids of the catalogues shipped with the contracts package."""
    folder = resources.files("sipas_contracts.instrument") / "catalogues"
    return tuple(
        sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))
    )


@cache
def load_catalogue(catalogue_id: str) -> Catalogue:
    """Load a shipped catalogue by id, e.g. ``sipas-1001-2023`` or ``sipas-2640-2017``."""
    if catalogue_id not in available_catalogues():
        known = ", ".join(available_catalogues())
        msg = f"unknown instrument {catalogue_id!r}; known: {known}"
        raise CatalogueError(msg)
    resource = resources.files("sipas_contracts.instrument") / "catalogues" / f"{catalogue_id}.yaml"
    document = yaml.safe_load(resource.read_text(encoding="utf-8"))
    return parse_catalogue(document, origin=f"{catalogue_id}.yaml")
