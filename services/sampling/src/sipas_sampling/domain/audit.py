"""Substitutions from the reserve, their tamper-evident log, and re-running a draw.

A refused or unreachable person on the official list is replaced by the first unused
person of the reserve list of the same stratum; when that reserve is exhausted and the
campaign transfers between kinds, by the other kind's reserve of the same unit. Every
substitution is an entry of a hash chain (each entry's hash covers the previous one), so
an edited or deleted entry is detected. :func:`verify_export` re-runs a whole draw from
its published seed and population snapshot and checks the lists byte for byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from sipas_contracts.events import ApplicantKind
from sipas_sampling.domain.batch import (
    canonical,
    digest,
    lists_bytes,
    lists_document,
    normalise,
    run_draw,
)
from sipas_sampling.domain.campaign import Campaign

GENESIS = "0" * 64
SUBSTITUTION_REASONS = ("refused", "unreachable", "ineligible")
ANNOUNCED = "announced"
"""A stored entry's flag: its events reached the stream (set after the entry was written)."""
UNCHAINED = frozenset({"hash", "previous", ANNOUNCED})
"""Fields of a stored entry that its hash does not cover: the chain's own links, and whether
its events were published yet (what happened is chained, not the news of it)."""


def next_substitute(
    strata: Mapping[str, Mapping[str, Sequence[str]]],
    kind: ApplicantKind,
    used: set[str],
    *,
    transfer: bool,
) -> tuple[str, ApplicantKind] | None:
    """The first unused reserve of ``kind`` (then of the other kind if ``transfer``)."""
    kinds: list[ApplicantKind] = [kind]
    if transfer:
        kinds.append("organisation" if kind == "individual" else "individual")
    for candidate_kind in kinds:
        for dossier in strata.get(candidate_kind, {}).get("reserve", []):
            if dossier not in used:
                return dossier, candidate_kind
    return None


def entry_hash(previous: str, entry: Mapping[str, Any]) -> str:
    """Hash of a substitution-log entry chained to the previous entry's hash."""
    body = {k: v for k, v in entry.items() if k not in UNCHAINED}
    return hashlib.sha256(previous.encode() + canonical(body)).hexdigest()


def next_entry(
    log: Sequence[Mapping[str, Any]],
    invitation: Mapping[str, Any],
    found: tuple[str, str],
    reason: str,
    at: datetime,
) -> dict[str, Any]:
    """The log entry replacing ``invitation``'s member by ``found``, chained to the last one."""
    entry: dict[str, Any] = {
        "seq": len(log) + 1,
        "at": at.isoformat(),
        "unit": invitation["unit"],
        "kind": invitation["kind"],
        "replaced": invitation["dossier_id"],
        "substitute": found[0],
        "substitute_kind": found[1],
        "reason": reason,
    }
    entry["previous"] = log[-1]["hash"] if log else GENESIS
    entry["hash"] = entry_hash(entry["previous"], entry)
    return entry


def chain(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Entries with ``previous`` and ``hash`` filled in, in order."""
    out: list[dict[str, Any]] = []
    previous = GENESIS
    for entry in entries:
        item = {**entry, "previous": previous}
        item["hash"] = entry_hash(previous, item)
        previous = item["hash"]
        out.append(item)
    return out


@dataclass
class Verification:
    """The outcome of re-running a draw; ``ok`` only when no problem was found."""

    problems: list[str] = field(default_factory=list)
    population_digest: str = ""
    lists_digest: str = ""
    official: int = 0
    reserve: int = 0
    substitutions: int = 0

    @property
    def ok(self) -> bool:
        """Whether the draw and its log check out."""
        return not self.problems


def _first_difference(expected: object, actual: object, path: str = "document") -> str:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            if expected.get(key) != actual.get(key):
                return _first_difference(expected.get(key), actual.get(key), f"{path}.{key}")
    if isinstance(expected, list) and isinstance(actual, list):
        for i, (a, b) in enumerate(zip(expected, actual, strict=False)):
            if a != b:
                return f"{path}[{i}]: expected {a!r}, found {b!r}"
        return f"{path}: expected {len(expected)} entries, found {len(actual)}"
    return f"{path}: expected {expected!r}, found {actual!r}"


def _check_substitutions(
    lists: Mapping[str, Any],
    entries: Sequence[Mapping[str, Any]],
    transfer: bool,
    report: Verification,
) -> None:
    previous = GENESIS
    used: dict[str, set[str]] = {}
    for index, entry in enumerate(entries):
        where = f"substitution {index + 1}"
        if entry.get("previous") != previous or entry.get("hash") != entry_hash(previous, entry):
            report.problems.append(
                f"{where}: hash chain broken (entry edited, removed or reordered)"
            )
            return
        previous = str(entry["hash"])
        unit, kind = str(entry.get("unit")), entry.get("kind")
        strata = lists.get(unit, {})
        taken = used.setdefault(unit, {d for s in strata.values() for d in s.get("official", [])})
        if entry.get("reason") not in SUBSTITUTION_REASONS:
            report.problems.append(f"{where}: unknown reason {entry.get('reason')!r}")
        expected = (
            next_substitute(strata, kind, taken, transfer=transfer)
            if kind in ("individual", "organisation")
            else None
        )
        if expected is None or expected[0] != entry.get("substitute"):
            report.problems.append(
                f"{where}: {entry.get('substitute')!r} is not the next reserve in order "
                f"(expected {expected[0] if expected else None!r})"
            )
        taken.add(str(entry.get("substitute")))
    report.substitutions = len(entries)


def verify_export(export: Mapping[str, Any]) -> Verification:
    """Re-run the draw described by ``export`` and compare it with its lists and log."""
    report = Verification()
    try:
        campaign = Campaign.model_validate(export["campaign"])
        population = normalise(export["population"])
        published = export["lists"]
    except (KeyError, TypeError, ValidationError) as exc:
        report.problems.append(f"export is incomplete or invalid: {exc}")
        return report
    result = run_draw(
        campaign.seed, population, campaign.allocation, campaign.sample_size, campaign.reserve
    )
    expected = lists_document(campaign.id, campaign.seed, population, result)
    report.population_digest = digest(population)
    report.lists_digest = hashlib.sha256(lists_bytes(published)).hexdigest()
    report.official = sum(len(s["official"]) for u in result.lists.values() for s in u.values())
    report.reserve = sum(len(s["reserve"]) for u in result.lists.values() for s in u.values())
    if published.get("population_digest") != report.population_digest:
        report.problems.append(
            "population snapshot does not match the digest recorded with the lists"
        )
    if lists_bytes(expected) != lists_bytes(published):
        report.problems.append(_first_difference(expected, published, "lists"))
    transfer = bool(
        campaign.allocation
        and campaign.allocation.fixed_per_unit
        and campaign.allocation.fixed_per_unit.transfer
    )
    _check_substitutions(
        published.get("lists", {}), export.get("substitutions", []), transfer, report
    )
    return report
