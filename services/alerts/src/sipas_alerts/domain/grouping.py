"""Where new alerts go: one case per (unit, rule, window); a closed case gets a follow-up.

Hits whose group has an active case (open, acknowledged, in progress) join it. Otherwise a
new case opens: the group's first, or a follow-up of a case that was resolved, closed or
dismissed (a new complaint after the unit answered the last one is a new matter, and is
linked to it through ``follows``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sipas_alerts.domain.alerts import Hit
from sipas_alerts.domain.calendar import WorkingCalendar
from sipas_alerts.domain.cases import Case, attach, open_case
from sipas_alerts.domain.policy import SlaPolicy


@dataclass(frozen=True)
class GroupState:
    """How many cases a group has had, and its latest case (if any)."""

    seq: int = 0
    current: Case | None = None


@dataclass
class Placement:
    """The outcome of placing hits: new cases, grown cases, and each hit's case id."""

    opened: list[Case] = field(default_factory=list)
    attached: list[tuple[Case, Case]] = field(default_factory=list)
    placed: list[tuple[Hit, str]] = field(default_factory=list)


def by_group(hits: Iterable[Hit]) -> dict[str, list[Hit]]:
    """Hits by group key, in arrival order."""
    groups: dict[str, list[Hit]] = {}
    for hit in hits:
        groups.setdefault(hit.group_key, []).append(hit)
    return groups


def place(
    groups: Mapping[str, Sequence[Hit]],
    states: Mapping[str, GroupState],
    *,
    now: datetime,
    sla: SlaPolicy,
    calendar: WorkingCalendar,
) -> Placement:
    """Attach each group's hits to its active case, or open a new case for them."""
    result = Placement()
    for key, hits in groups.items():
        state = states.get(key, GroupState())
        case = state.current
        if case is not None and case.active:
            target = attach(case, hits)
            result.attached.append((case, target))
        else:
            target = open_case(
                hits,
                seq=state.seq + 1,
                now=now,
                sla=sla,
                calendar=calendar,
                follows=case.case_id if case else None,
            )
            result.opened.append(target)
        result.placed.extend((hit, str(target.case_id)) for hit in hits)
    return result
