"""Scoring's domain metrics (``sipas_scoring_*``), registered on the runtime's registry.

Labels are bounded: campaign ids and unit codes (a province has a few hundred units),
period kinds, reasons and actions; never respondents, tokens or dossiers.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sipas_runtime.metrics import LATENCY_BUCKETS


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
            "Latest whole-campaign SIPAS of a unit (sufficient figures only)",
            ["campaign", "unit"],
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
