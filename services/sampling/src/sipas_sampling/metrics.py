"""Sampling's domain metrics (``sipas_sampling_*``).

Labels are bounded: campaign ids, unit codes, channels, outcomes and reason codes; never
dossiers, tokens or people.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sipas_runtime.metrics import LATENCY_BUCKETS


class SamplingMetrics:
    """The funnel from eligible dossier to delivered invitation, per unit and channel."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.decisions = Counter(
            "sipas_sampling_decisions",
            "Dossier decisions per campaign, unit and outcome",
            ["campaign", "unit", "outcome"],
            registry=registry,
        )
        self.invitations = Counter(
            "sipas_sampling_invitations",
            "Invitations created (continuous, official, reserve)",
            ["campaign", "unit", "channel", "list"],
            registry=registry,
        )
        self.deliveries = Counter(
            "sipas_sampling_deliveries",
            "Send attempts by channel and outcome",
            ["channel", "status"],
            registry=registry,
        )
        self.send_seconds = Histogram(
            "sipas_sampling_send_duration_seconds",
            "Time to hand one message to a channel",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.channel_faults = Counter(
            "sipas_sampling_channel_faults",
            "Channel configuration/credit faults by provider code",
            ["channel", "code"],
            registry=registry,
        )
        self.settled = Counter(
            "sipas_sampling_invitations_settled",
            "Invitations answered, lapsed or undeliverable",
            ["campaign", "outcome"],
            registry=registry,
        )
        self.substitutions = Counter(
            "sipas_sampling_substitutions",
            "Official-list members replaced from the reserve",
            ["campaign", "reason"],
            registry=registry,
        )
        self.slots = Gauge(
            "sipas_sampling_quota_slots",
            "Quota, reserved and answered slots per unit",
            ["campaign", "unit", "state"],
            registry=registry,
        )

    def count_decisions(self, campaign: str, rows: Iterable[list[Any]]) -> None:
        """Count logged decision rows ``[dossier, unit, draw, rate, outcome]``."""
        for (unit, outcome), n in Tally((str(r[1]), str(r[4])) for r in rows).items():
            self.decisions.labels(campaign, unit, outcome).inc(n)
