"""Alerts' domain metrics (``sipas_alerts_*``), on the service's registry.

Labels are bounded: rule ids, unit codes (a province has hundreds, not millions), SLA
kinds, agencies, channels and outcomes. Times are *working* time (office hours), the
clock the SLAs use. Counters of the JetStream path are incremented inside the consumer's
transaction; the rare transaction retry after a database failover can count a case twice
here, never in the case store or the KPI API, which count from the database.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

HOUR = 3600.0
WORKING_TIME_BUCKETS = tuple(
    h * HOUR for h in (0.25, 0.5, 1, 2, 4, 8, 16, 24, 40, 80, 160)
)  # 15 min ... 20 working days (8 h days)


class AlertsMetrics:
    """Counters, histograms and gauges of alerts, cases, SLAs and notifications."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.alerts = Counter(
            "sipas_alerts_alerts_raised",
            "Alerts raised (rule hits), by rule and unit",
            ["rule", "unit"],
            registry=registry,
        )
        self.opened = Counter(
            "sipas_alerts_cases_opened",
            "Cases opened, by rule and unit",
            ["rule", "unit"],
            registry=registry,
        )
        self.opened_without_contact = Counter(
            "sipas_alerts_cases_opened_without_contact",
            "Cases opened for a unit with no notification contact (nobody was told), by unit",
            ["unit"],
            registry=registry,
        )
        self.closed = Counter(
            "sipas_alerts_cases_closed",
            "Cases that left the active states, by rule, unit and outcome",
            ["rule", "unit", "outcome"],
            registry=registry,
        )
        self.time_to_acknowledge = Histogram(
            "sipas_alerts_time_to_acknowledge_seconds",
            "Working time from a case opening to its acknowledgement",
            ["rule"],
            buckets=WORKING_TIME_BUCKETS,
            registry=registry,
        )
        self.time_to_resolve = Histogram(
            "sipas_alerts_time_to_resolve_seconds",
            "Working time from a case opening to its resolution",
            ["rule"],
            buckets=WORKING_TIME_BUCKETS,
            registry=registry,
        )
        self.breaches = Counter(
            "sipas_alerts_sla_breaches",
            "Missed deadlines (each escalates the case), by SLA kind and unit",
            ["kind", "unit"],
            registry=registry,
        )
        self.escalations = Counter(
            "sipas_alerts_escalations",
            "Escalations to a supervising agency",
            ["agency"],
            registry=registry,
        )
        self.notifications = Counter(
            "sipas_alerts_notifications",
            "Notification attempts by channel and outcome",
            ["channel", "status"],
            registry=registry,
        )
        for channel in ("email", "webhook"):  # exist at 0, so increase() sees the first one
            for status in ("sent", "retrying", "failed", "skipped"):
                self.notifications.labels(channel, status)
        self.active_cases = Gauge(
            "sipas_alerts_active_cases",
            "Cases open, acknowledged or in progress, by state (refreshed by the SLA sweep)",
            ["state"],
            registry=registry,
        )
        self.overdue_cases = Gauge(
            "sipas_alerts_overdue_cases",
            "Active cases past a deadline (refreshed by the SLA sweep)",
            registry=registry,
        )
