"""A YAML field map: any JSON object or spreadsheet row → the canonical dossier record.

Provinces export dossier lists with their own column names ("Mã hồ sơ", "Ngày trả kết
quả"...). A field map names, for each canonical field, where its value comes from and how
to read it; docs/intake-formats.md documents the format. Errors name the *source* field
(the column the operator sees) and the canonical field it feeds.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sipas_intake.domain.dates import DateFormatError, parse_local_datetime, parse_offset
from sipas_intake.domain.dossiers import DossierRecord, NotCompleted, nest
from sipas_intake.domain.errors import (
    DossierRejectedError,
    Problem,
    problem,
    problems_from_validation,
    raise_if,
)

DATE_TARGETS = frozenset({"received_at", "due_at", "processed_at", "delivered_at"})
TARGETS = frozenset(
    {
        *DossierRecord.model_fields,
        "contact.phone",
        "contact.email",
        "contact.zalo_id",
        "contact.name",
        "contact.address",
    }
    - {"contact"}
)
REQUIRED = (
    "dossier_id",
    "procedure_code",
    "applicant_kind",
    "submission_channel",
    "received_at",
    "delivered_at",
)
RESERVED_NAMES = frozenset({"auto", "generic", "hoso", "prepared"})
_TOKENS = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
_TOKEN_RE = re.compile("|".join(_TOKENS))


def _key(text: object) -> str:
    return " ".join(unicodedata.normalize("NFC", str(text)).casefold().split())


def strptime_pattern(pattern: str) -> str:
    """``dd/MM/yyyy HH:mm`` (the notation operators know from Excel) → ``%d/%m/%Y %H:%M``."""
    return _TOKEN_RE.sub(lambda m: _TOKENS[m.group(0)], pattern.replace("%", "%%"))


class FieldRule(BaseModel):
    """Where one canonical field comes from, and how to read it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    source: tuple[str, ...] = Field(default=(), alias="from", description="First non-empty wins")
    constant: str | bool | None = None
    values: dict[str, str] | None = Field(default=None, description="Source value → canonical")
    date_format: str | None = Field(default=None, alias="format")
    default: str | None = None

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _has_a_source(self) -> Self:
        if bool(self.source) == (self.constant is not None):
            msg = "give either 'from' (source fields) or 'constant'"
            raise ValueError(msg)
        return self

    def label(self, target: str) -> str:
        """How errors name this field: the source column, with the canonical field."""
        return f"{self.source[0]} ({target})" if self.source else target


class FieldMap(BaseModel):
    """A named mapping from one source layout to the canonical record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    description: str = ""
    sources: tuple[str, ...] = Field(default=(), description="NATS raw sources using this map")
    timezone: str = Field(default="+07:00", description="Offset of times written without one")
    fields: dict[str, FieldRule]

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.name in RESERVED_NAMES:
            msg = f"name {self.name!r} is reserved"
            raise ValueError(msg)
        unknown = sorted(set(self.fields) - TARGETS)
        missing = [t for t in REQUIRED if t not in self.fields]
        if not {"unit", "agency_code"} & set(self.fields):
            missing.append("unit or agency_code")
        problems = [f"unknown target fields {unknown}"] if unknown else []
        problems += [f"missing target fields {missing}"] if missing else []
        status = self.fields.get("status")
        if status is not None and status.values is not None:
            wrong = set(status.values.values()) - {"result_delivered", "not_completed"}
            if wrong:
                problems.append(f"status values must be result_delivered or not_completed: {wrong}")
        parse_offset(self.timezone)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def recognises(self, raw: Mapping[str, Any]) -> bool:
        """Whether ``raw`` holds this map's dossier-number column (auto-detection)."""
        names = {_key(k) for k in raw}
        return any(_key(source) in names for source in self.fields["dossier_id"].source)

    @property
    def zone(self) -> dt.timezone:
        """The offset applied to times without one."""
        return parse_offset(self.timezone)

    def apply(self, raw: Mapping[str, Any]) -> DossierRecord | NotCompleted:
        """Map one source object; raises :class:`DossierRejectedError` naming source fields."""
        index = {_key(k): v for k, v in raw.items()}
        errors: list[Problem] = []
        document = {
            target: self._convert(target, rule, self._value(rule, raw, index), errors)
            for target, rule in self.fields.items()
        }
        status = document.pop("status", "result_delivered")
        dossier_id = str(document.get("dossier_id") or "")
        if status == "not_completed" and dossier_id:
            return NotCompleted(dossier_id, f"{self.fields['status'].label('status')} is not final")
        raise_if(errors, DossierRejectedError)
        try:
            return DossierRecord.model_validate(nest(document))
        except ValidationError as exc:
            rename = {t: r.label(t) for t, r in self.fields.items()}
            raise DossierRejectedError(problems_from_validation(exc, rename=rename)) from None

    @staticmethod
    def _value(rule: FieldRule, raw: Mapping[str, Any], index: dict[str, Any]) -> object:
        if rule.constant is not None:
            return rule.constant
        for name in rule.source:
            for value in (raw.get(name), index.get(_key(name)), _path(raw, name)):
                if value is not None and str(value).strip() != "":
                    return value
        return rule.default

    def _convert(
        self, target: str, rule: FieldRule, value: object, errors: list[Problem]
    ) -> object:
        if value is None or isinstance(value, bool):
            return value
        if rule.values is not None:
            mapped = {_key(k): v for k, v in rule.values.items()}.get(_key(value))
            if mapped is None:
                reason = f"value {str(value)[:40]!r} is not mapped; known: {sorted(rule.values)}"
                errors.append(problem(rule.label(target), reason, "unmapped_value"))
            return mapped
        if target in DATE_TARGETS:
            pattern = strptime_pattern(rule.date_format) if rule.date_format else None
            try:
                moment = parse_local_datetime(
                    value, zone=self.zone, pattern=pattern, label=rule.date_format
                )
            except DateFormatError as exc:
                errors.append(problem(rule.label(target), str(exc)))
                return None
            return moment.isoformat() if moment else None
        if isinstance(value, int | float):
            return _number(value)
        return str(value).strip()


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _path(raw: Mapping[str, Any], dotted: str) -> object:
    current: object = raw
    for part in dotted.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current
