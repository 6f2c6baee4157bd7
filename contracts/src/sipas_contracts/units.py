"""The administrative unit hierarchy, versioned in time, with a succession map.

Units (province, department, district, commune, service centre...) and their parent links
carry ``valid_from`` / ``valid_to`` (``valid_to`` exclusive, ``None`` = still valid), so a
roll-up can be computed for any date: the district level ended on 2025-07-01, yet 2020
figures still roll up through the old districts. ``successions`` map a closed unit to the
unit(s) that took over its work (``share`` < 1 when it was split), so that year-on-year
comparison survives mergers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sipas_contracts.ids import UnitCode

UnitKind = Literal[
    "province",
    "department",
    "district",
    "commune",
    "ward",
    "town",
    "service_centre",
    "service_point",
]
_SHARE_TOLERANCE = 1e-9


class UnitHierarchyError(ValueError):
    """Raised when a hierarchy file is invalid or a unit cannot be resolved."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Interval(_Frozen):
    """A half-open validity interval [valid_from, valid_to)."""

    valid_from: date
    valid_to: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Interval:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            msg = f"valid_to {self.valid_to} must be after valid_from {self.valid_from}"
            raise ValueError(msg)
        return self

    def covers(self, on: date) -> bool:
        """Whether ``on`` falls inside the interval."""
        return self.valid_from <= on and (self.valid_to is None or on < self.valid_to)

    def overlaps(self, other: Interval) -> bool:
        """Whether two intervals share at least one day."""
        self_end = self.valid_to or date.max
        other_end = other.valid_to or date.max
        return self.valid_from < other_end and other.valid_from < self_end


class Unit(Interval):
    """An administrative unit that can be rated or used for roll-ups."""

    code: UnitCode
    name_vi: str = Field(min_length=1)
    name_en: str | None = None
    kind: UnitKind
    agency_codes: tuple[str, ...] = Field(
        default=(), description="Mã định danh (e.g. 000.22.31.H56) used in MaHoSo prefixes"
    )
    aliases: tuple[str, ...] = Field(
        default=(), description="Names source systems use for it (DonViXuLy)"
    )


class ParentLink(Interval):
    """``child`` sits under ``parent`` during the interval."""

    child: UnitCode
    parent: UnitCode


class Succession(_Frozen):
    """From ``effective``, ``successor`` carries on (a ``share`` of) ``predecessor``'s work."""

    predecessor: UnitCode
    successor: UnitCode
    effective: date
    share: float = Field(default=1.0, gt=0, le=1)


def _normalise_name(name: str) -> str:
    return " ".join(name.casefold().split())


class UnitHierarchy(_Frozen):
    """A province's units, links and successions, validated as a whole."""

    province: UnitCode
    units: dict[str, Unit]
    links: tuple[ParentLink, ...] = ()
    successions: tuple[Succession, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> UnitHierarchy:
        if self.province not in self.units:
            msg = f"province {self.province!r} is not among the units"
            raise ValueError(msg)
        for key, unit in self.units.items():
            if key != unit.code:
                msg = f"unit key {key!r} differs from its code {unit.code!r}"
                raise ValueError(msg)
        self._check_links()
        self._check_successions()
        self._check_acyclic()
        return self

    def _check_links(self) -> None:
        for link in self.links:
            for code in (link.child, link.parent):
                if code not in self.units:
                    msg = f"link {link.child}->{link.parent}: unknown unit {code!r}"
                    raise ValueError(msg)
        by_child: dict[str, list[ParentLink]] = {}
        for link in self.links:
            for other in by_child.get(link.child, []):
                if other.overlaps(link):
                    msg = f"unit {link.child!r} has two parents at once"
                    raise ValueError(f"{msg} ({other.parent}, {link.parent})")
            by_child.setdefault(link.child, []).append(link)

    def _check_successions(self) -> None:
        shares: dict[str, float] = {}
        for succession in self.successions:
            for code in (succession.predecessor, succession.successor):
                if code not in self.units:
                    msg = f"succession: unknown unit {code!r}"
                    raise ValueError(msg)
            shares[succession.predecessor] = (
                shares.get(succession.predecessor, 0) + succession.share
            )
        over = {code: s for code, s in shares.items() if s > 1 + _SHARE_TOLERANCE}
        if over:
            msg = f"succession shares exceed 1 for {sorted(over)}"
            raise ValueError(msg)

    def _check_acyclic(self) -> None:
        for link in self.links:
            seen = {link.child}
            current: str | None = link.parent
            while current is not None:
                if current in seen:
                    msg = f"parent links form a cycle through {current!r}"
                    raise ValueError(msg)
                seen.add(current)
                current = next((lk.parent for lk in self.links if lk.child == current), None)

    def get(self, code: str) -> Unit:
        """The unit with ``code``."""
        try:
            return self.units[code]
        except KeyError:
            msg = f"unknown unit {code!r}"
            raise UnitHierarchyError(msg) from None

    def is_active(self, code: str, on: date) -> bool:
        """Whether ``code`` exists and is valid on ``on``."""
        unit = self.units.get(code)
        return unit is not None and unit.covers(on)

    def parent(self, code: str, on: date) -> str | None:
        """The parent of ``code`` on ``on`` (None at the top)."""
        return next((lk.parent for lk in self.links if lk.child == code and lk.covers(on)), None)

    def ancestors(self, code: str, on: date) -> list[str]:
        """Parent, grandparent, ... of ``code`` on ``on``, nearest first."""
        chain: list[str] = []
        current = self.parent(code, on)
        while current is not None:
            chain.append(current)
            current = self.parent(current, on)
        return chain

    def children(self, code: str, on: date) -> list[str]:
        """Direct children of ``code`` on ``on``."""
        return sorted(lk.child for lk in self.links if lk.parent == code and lk.covers(on))

    def leaves(self, code: str, on: date) -> list[str]:
        """Units with no children under ``code`` (itself if it has none) on ``on``."""
        kids = self.children(code, on)
        if not kids:
            return [code]
        return sorted(leaf for kid in kids for leaf in self.leaves(kid, on))

    def resolve(self, reference: str, on: date) -> str:
        """Find the unit a source system means by a code, agency code or name, on ``on``."""
        wanted = _normalise_name(reference)
        for unit in self._active(on):
            if reference == unit.code or reference in unit.agency_codes:
                return unit.code
            if wanted in (_normalise_name(n) for n in (unit.name_vi, *unit.aliases)):
                return unit.code
        msg = f"no unit valid on {on.isoformat()} matches {reference!r}"
        raise UnitHierarchyError(msg)

    def _active(self, on: date) -> Iterator[Unit]:
        return (u for u in self.units.values() if u.covers(on))

    def successors(self, code: str, on: date) -> dict[str, float]:
        """Units that carry ``code``'s work on ``on``, with shares (itself if still active)."""
        if self.is_active(code, on):
            return {code: 1.0}
        result: dict[str, float] = {}
        for succession in self.successions:
            if succession.predecessor == code and succession.effective <= on:
                for successor, share in self.successors(succession.successor, on).items():
                    result[successor] = result.get(successor, 0.0) + succession.share * share
        return result


def parse_hierarchy(document: dict[str, object], *, origin: str = "<document>") -> UnitHierarchy:
    """Validate a parsed YAML document into a :class:`UnitHierarchy`."""
    try:
        raw = dict(document)
        units = raw.get("units", [])
        if isinstance(units, list):
            raw["units"] = {u["code"]: u for u in units if isinstance(u, dict) and "code" in u}
        return UnitHierarchy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        msg = f"{origin}: invalid unit hierarchy: {problems}"
        raise UnitHierarchyError(msg) from exc


def load_hierarchy_file(path: Path) -> UnitHierarchy:
    """Load a province's unit hierarchy from a YAML file."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        msg = f"{path}: cannot read unit hierarchy: {exc}"
        raise UnitHierarchyError(msg) from exc
    return parse_hierarchy(document, origin=str(path))


@cache
def load_sample_hierarchy(name: str = "ha-tinh-nghi-xuan") -> UnitHierarchy:
    """Load a hierarchy shipped with the package (default: seed 002's 17 communes)."""
    resource = resources.files("sipas_contracts") / "provinces" / f"{name}.yaml"
    if not resource.is_file():
        msg = f"no shipped unit hierarchy named {name!r}"
        raise UnitHierarchyError(msg)
    return parse_hierarchy(yaml.safe_load(resource.read_text(encoding="utf-8")), origin=name)
