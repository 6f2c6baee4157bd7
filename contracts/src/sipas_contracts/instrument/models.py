"""The questionnaire as data: scales, questions, items, elements and aspects.

A :class:`Catalogue` is loaded from a versioned YAML file (see ``catalogues/``) and
validated once. Every answerable unit is an :class:`Item` with one scale; grids and
multi-selects are expanded into one item per row/option so that every answer in a
``ResponseRecorded`` event is simply ``item_id -> code``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Section = Literal["perception", "satisfaction", "expectation"]
SipasRule = Literal["mean_of_aspects", "mean_of_elements"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Scale(_Frozen):
    """Answer codes with Vietnamese (and English) labels; ``positive`` codes count as favourable."""

    id: str
    values: dict[int, str] = Field(min_length=2)
    en: dict[int, str] = Field(default_factory=dict)
    positive: tuple[int, ...] = ()
    ordinal: bool = False

    @model_validator(mode="after")
    def _positive_codes_exist(self) -> Scale:
        unknown = [code for code in self.positive if code not in self.values]
        if unknown:
            msg = f"scale {self.id}: positive codes {unknown} are not among its values"
            raise ValueError(msg)
        if self.en and set(self.en) != set(self.values):
            msg = f"scale {self.id}: English labels must cover exactly the same codes"
            raise ValueError(msg)
        return self

    def label(self, code: int, lang: str = "vi") -> str:
        """The label of ``code`` in ``lang`` (falls back to Vietnamese)."""
        if lang == "en" and code in self.en:
            return self.en[code]
        return self.values[code]


class Item(_Frozen):
    """One answerable question (or one row of a grid / option of a multi-select)."""

    id: str
    vi: str
    en: str
    scale: str
    section: Section
    question: str = Field(description="Id of the question the item belongs to")
    element: str | None = None
    aspect: str | None = None
    positive: tuple[int, ...] = Field(description="Favourable codes (item override or scale's)")
    evidence: str | None = None


class Question(_Frozen):
    """A question as shown to respondents: a prompt and one or more items on one scale."""

    id: str
    vi: str
    en: str
    section: Section
    scale: str
    kind: Literal["single", "grid", "multi"]
    items: tuple[str, ...]
    extension: bool = Field(default=False, description="SIPAS Live addition, not official")


class Element(_Frozen):
    """A satisfaction element (yếu tố) or policy content: the mean of its item indices."""

    id: str
    vi: str
    en: str
    aspect: str
    items: tuple[str, ...]


class Aspect(_Frozen):
    """A satisfaction aspect (khía cạnh): the mean of its element indices."""

    id: str
    vi: str
    en: str
    elements: tuple[str, ...]


class FormProfile(_Frozen):
    """Which items one kind of questionnaire shows (e.g. the unit-level TTHC-user survey)."""

    id: str
    vi: str
    en: str
    items: tuple[str, ...] = Field(min_length=1, description="Item ids, in the order asked")
    comment: bool = Field(default=True, description="Whether the form asks for a comment")


class Catalogue(_Frozen):
    """A complete, validated instrument version."""

    id: str
    revision: int = Field(ge=1)
    title_vi: str
    title_en: str
    legal_basis: str
    confidence: str
    sipas_rule: SipasRule
    satisfaction_scale: str
    scales: dict[str, Scale]
    questions: tuple[Question, ...]
    items: dict[str, Item]
    elements: dict[str, Element]
    aspects: dict[str, Aspect]
    forms: dict[str, FormProfile] = Field(
        default_factory=dict, description="Form profiles by id (default: tthc_user)"
    )

    @model_validator(mode="after")
    def _references_resolve(self) -> Catalogue:
        for item in self.items.values():
            if item.scale not in self.scales:
                msg = f"item {item.id}: unknown scale {item.scale!r}"
                raise ValueError(msg)
        for element in self.elements.values():
            missing = [i for i in element.items if i not in self.items]
            if missing:
                msg = f"element {element.id}: unknown items {missing}"
                raise ValueError(msg)
        for form in self.forms.values():
            missing = [i for i in form.items if i not in self.items]
            if missing:
                msg = f"form {form.id}: unknown items {missing}"
                raise ValueError(msg)
        return self

    def form(self, profile: str = "tthc_user") -> FormProfile:
        """The form profile ``profile`` (raises KeyError naming the known ones)."""
        try:
            return self.forms[profile]
        except KeyError:
            known = ", ".join(sorted(self.forms)) or "none"
            msg = f"instrument {self.id} has no form profile {profile!r}; known: {known}"
            raise KeyError(msg) from None

    def satisfaction_items(self) -> tuple[str, ...]:
        """Ids of every satisfaction item, in questionnaire order."""
        return tuple(i.id for i in self.items.values() if i.section == "satisfaction")

    def scale_of(self, item_id: str) -> Scale:
        """The scale an item is answered on."""
        return self.scales[self.items[item_id].scale]

    def answer_errors(self, answers: Mapping[str, int | str]) -> list[str]:
        """Human-readable problems with ``answers`` (unknown items, codes off the scale)."""
        errors: list[str] = []
        for item_id, code in answers.items():
            item = self.items.get(item_id)
            if item is None:
                errors.append(f"answers.{item_id}: not an item of {self.id}")
            elif code != "na" and code not in self.scales[item.scale].values:
                allowed = ", ".join(str(c) for c in self.scales[item.scale].values)
                errors.append(f"answers.{item_id}: {code!r} is not one of {allowed} or 'na'")
        return errors
