"""A batch of index events judged in memory equals the events judged one by one.

The reference is the consumer as it was before issue #22: for each event, read the unit's
periods from the store, skip a version no newer than the stored one, evaluate, store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sipas_alerts.domain.alerts import Hit
from sipas_alerts.domain.index_rules import Figure
from sipas_alerts.domain.policy import Policy
from sipas_alerts.rulebook import RuleBook
from sipas_contracts.events import IndexFigure, IndexUpdated
from sipas_contracts.ids import uuid7

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
RULES = RuleBook(Policy.model_validate({"campaigns": {"c2027": {"previous_campaign": "c2026"}}}))
Stored = dict[tuple[str, str, str], Figure]


def index(
    value: float | None,
    *,
    campaign: str = "c2027",
    unit: str = "u1",
    period: str = "campaign",
    version: int = 1,
    ci: float = 3.0,
    sufficient: bool = True,
    at: int = 0,
) -> IndexUpdated:
    return IndexUpdated(
        event_id=uuid7(),
        occurred_at=AT + timedelta(seconds=at),
        producer="scoring",
        campaign_id=campaign,
        unit=unit,
        period=period,
        instrument_id="sipas-1001-2023",
        version=version,
        responses=120,
        sipas=IndexFigure(
            value=value,
            ci_low=None if value is None else value - ci,
            ci_high=None if value is None else value + ci,
            n=120 if sufficient else 5,
            sufficient=sufficient,
        ),
    )


def periods_of(stored: Stored, campaign: str, unit: str) -> dict[str, Figure]:
    """What the per-event consumer read from the store for one (campaign, unit)."""
    return {p: f for (c, u, p), f in stored.items() if (c, u) == (campaign, unit)}


def one_by_one(events: list[IndexUpdated], stored: Stored) -> tuple[list[Hit], Stored]:
    """The per-event consumer: a read and a write per event."""
    stored = dict(stored)
    hits: list[Hit] = []
    for event in events:
        current = Figure.of(event)
        known = periods_of(stored, event.campaign_id, event.unit)
        if event.period in known and known[event.period].version >= current.version:
            continue
        other = RULES.policy.rules_for(event.campaign_id).previous_campaign
        asks = other is not None and event.period == "campaign"
        last = periods_of(stored, other, event.unit).get("campaign") if asks else None
        hits += RULES.on_figure(
            current, known, source_event_id=event.event_id, occurred_at=event.occurred_at,
            previous_campaign=last,
        )  # fmt: skip
        stored[event.campaign_id, event.unit, event.period] = current
    return hits, stored


def in_one_batch(events: list[IndexUpdated], stored: Stored) -> tuple[list[Hit], Stored]:
    """The batch consumer: one read of the units the batch needs, the kept figures after."""
    units = RULES.figure_units(events)
    known: dict[tuple[str, str], dict[str, Figure]] = {}
    for (campaign, unit, period), figure in stored.items():
        if (campaign, unit) in units:
            known.setdefault((campaign, unit), {})[period] = figure
    hits, kept = RULES.on_figures(events, known)
    after = dict(stored)
    for figure in kept:
        after[figure.campaign_id, figure.unit, figure.period] = figure
    return hits, after


def stored_of(events: list[IndexUpdated]) -> Stored:
    return {(e.campaign_id, e.unit, e.period): Figure.of(e) for e in events}


def test_a_batch_sees_what_its_earlier_events_kept():
    stored = stored_of(
        [
            index(92.0, campaign="c2026"),
            index(90.0, campaign="c2026", unit="u2"),
            index(90.0, period="2026-10", version=4),
        ]
    )
    events = [
        index(97.0, campaign="c2026", version=2),  # the previous campaign's figure moves
        index(80.0, period="2026-11", version=5, at=1),  # drop versus 2026-10: alert
        index(79.0, period="2026-11", version=6, at=2),  # still dropped: no repeat
        index(95.0, period="2026-11", version=3, at=3),  # older, late: changes nothing
        index(85.0, version=7, at=4),  # versus the previous campaign's 97 (not 92): a drop
        index(60.0, version=8, at=5),  # now below the threshold too
        index(61.0, version=2, at=6),  # older, late: no second below alert
        index(80.0, unit="u2", at=7),  # versus u2's stored previous campaign (90): a drop
    ]

    hits, after = in_one_batch(events, stored)

    assert [(h.rule, h.window, h.details["value"]) for h in hits] == [
        ("index_drop", "c2027:2026-11", 80.0),
        ("index_drop", "c2027:campaign", 85.0),
        ("index_below_threshold", "c2027:campaign", 60.0),
        ("index_drop", "c2027:campaign", 80.0),
    ]
    assert hits[1].details["previous_value"] == 97.0
    assert after[("c2027", "u1", "2026-11")].version == 6
    assert after[("c2027", "u1", "campaign")].version == 8
    assert after[("c2026", "u1", "campaign")].version == 2
    assert (hits, after) == one_by_one(events, stored)


event_fields = st.fixed_dictionaries(
    {
        "value": st.sampled_from([None, 60.0, 68.0, 72.0, 80.0, 88.0, 95.0]),
        "campaign": st.sampled_from(["c2026", "c2027"]),
        "unit": st.sampled_from(["u1", "u2"]),
        "period": st.sampled_from(["campaign", "2026-10", "2026-11"]),
        "version": st.integers(1, 6),
        "ci": st.sampled_from([1.0, 3.0, 9.0]),
        "sufficient": st.booleans(),
    }
)


@settings(max_examples=150, deadline=None)
@given(
    before=st.lists(event_fields, max_size=8),
    batch=st.lists(event_fields, min_size=1, max_size=14),
)
def test_a_batch_judged_in_memory_equals_the_events_judged_one_by_one(before, batch):
    stored = stored_of([index(**fields) for fields in before])
    events = [index(**fields, at=i) for i, fields in enumerate(batch)]

    assert in_one_batch(events, stored) == one_by_one(events, stored)
