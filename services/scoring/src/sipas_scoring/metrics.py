"""Scoring's domain metrics (``sipas_scoring_*``), registered on the runtime's registry.

Labels are bounded: campaign ids and unit codes (a province has a few hundred units),
period kinds, reasons and actions; never respondents, tokens or dossiers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sipas_contracts.events import IndexUpdated
from sipas_contracts.units import UnitHierarchy
from sipas_runtime.metrics import LATENCY_BUCKETS
from sipas_scoring.domain.periods import CAMPAIGN
from sipas_scoring.domain.rollups import tier_of
from sipas_scoring.index_events import period_kind


class ScoringMetrics:
    """Index publication, the published values themselves, and publication workflow."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.index_updates = Counter(
            "sipas_scoring_index_updates",
            "index-updated events published, by period kind (campaign, year, quarter, month)",
            ["period_kind"],
            registry=registry,
        )
        self.index_lag = Histogram(
            "sipas_scoring_index_lag_seconds",
            "From a unit's latest counted response (occurred_at) to its index-updated",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.tick_duration = Histogram(
            "sipas_scoring_index_tick_seconds",
            "Time to compute and publish one round of index updates",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.index_errors = Counter(
            "sipas_scoring_index_errors",
            "Campaigns whose index could not be computed (e.g. mixed instruments)",
            ["reason"],
            registry=registry,
        )
        self.sipas = Gauge(
            "sipas_scoring_sipas_percent",
            "Latest whole-campaign SIPAS of a unit, every unit with a value "
            "(see sipas_scoring_sipas_sufficient for whether it may be ranked)",
            ["campaign", "unit"],
            registry=registry,
        )
        self.sufficient = Gauge(
            "sipas_scoring_sipas_sufficient",
            "1 when a unit's whole-campaign SIPAS has the respondents it needs to be ranked",
            ["campaign", "unit"],
            registry=registry,
        )
        self.unit_info = Gauge(
            "sipas_scoring_unit_info",
            "Always 1: the name, tier and parent of each unit of the hierarchy, to show names "
            "by joining on unit (one series per unit, whatever the number of campaigns)",
            ["unit", "name", "tier", "parent"],
            registry=registry,
        )
        self.sipas_ci_low = Gauge(
            "sipas_scoring_sipas_ci_low_percent",
            "Lower bound of the 95% interval of a unit's whole-campaign SIPAS",
            ["campaign", "unit"],
            registry=registry,
        )
        self.sipas_ci_high = Gauge(
            "sipas_scoring_sipas_ci_high_percent",
            "Upper bound of the 95% interval of a unit's whole-campaign SIPAS",
            ["campaign", "unit"],
            registry=registry,
        )
        self.responses = Gauge(
            "sipas_scoring_responses",
            "Responses counted in a unit's whole-campaign index",
            ["campaign", "unit"],
            registry=registry,
        )
        self.publications = Counter(
            "sipas_scoring_publication_transitions",
            "Publication workflow steps, by action (draft, approve, publish, withdraw)",
            ["action"],
            registry=registry,
        )

    def name_units(self, hierarchy: UnitHierarchy, today: date) -> None:
        """One ``sipas_scoring_unit_info`` series per unit: its name, tier and parent today."""
        for code, unit in hierarchy.units.items():
            parent = hierarchy.parent(code, today) if hierarchy.is_active(code, today) else None
            self.unit_info.labels(code, unit.name_vi, tier_of(hierarchy, code), parent or "").set(1)

    def observe_published(self, events: Iterable[IndexUpdated], now: datetime) -> None:
        """Count published index events; the whole-campaign figures become gauges."""
        for event in events:
            self.index_updates.labels(period_kind(event.period)).inc()
            if event.period != CAMPAIGN:
                continue
            if not event.rollup:
                self.index_lag.observe(max(0.0, (now - event.occurred_at).total_seconds()))
            labels = (event.campaign_id, event.unit)
            self.responses.labels(*labels).set(event.responses)
            self.sufficient.labels(*labels).set(int(event.sipas.sufficient))
            if event.sipas.value is not None:
                self.sipas.labels(*labels).set(event.sipas.value)
                if event.sipas.ci_low is not None and event.sipas.ci_high is not None:
                    self.sipas_ci_low.labels(*labels).set(event.sipas.ci_low)
                    self.sipas_ci_high.labels(*labels).set(event.sipas.ci_high)
