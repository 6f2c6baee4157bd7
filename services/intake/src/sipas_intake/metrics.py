"""Intake's domain metrics (``sipas_intake_*``), registered on the runtime's registry.

Labels are bounded: entry point (nats, http, import), outcome, reason code, collection
mode, channel — never a dossier id, a token, a unit name typed by a source, or a person.
"""

from __future__ import annotations

import collections

from prometheus_client import CollectorRegistry, Counter, Gauge

ENTRIES = ("nats", "http", "import")
DOSSIER_OUTCOMES = (
    "accepted", "corrected", "duplicate", "stale", "replayed", "not_completed", "rejected"
)  # fmt: skip
CONTACT_CHANNELS = ("sms", "zalo", "email", "none")
COLLECTION_MODES = ("online", "kiosk", "face_to_face", "phone", "paper")
Tally = collections.Counter[tuple[Counter, tuple[str, ...]]]
"""Counts per (counter, labels), added to the counters at once (``IntakeMetrics.add``)."""


class IntakeMetrics:
    """Counters operators watch in Grafana."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._children: dict[tuple[int, tuple[str, ...]], Counter] = {}
        self.dossiers = Counter(
            "sipas_intake_dossiers",
            "Dossier records by entry point and outcome "
            "(accepted, corrected, duplicate, stale, replayed, not_completed, rejected)",
            ["entry", "outcome"],
            registry=registry,
        )
        self.accepted_by_unit = Counter(
            "sipas_intake_accepted_dossiers",
            "Dossiers accepted (first report or correction) by rated unit: the funnel's top",
            ["unit"],
            registry=registry,
        )
        self.rejections = Counter(
            "sipas_intake_dossier_rejections",
            "Rejected dossier records by entry point and reason code",
            ["entry", "reason"],
            registry=registry,
        )
        self.contact_channels = Counter(
            "sipas_intake_contact_channels",
            "Usable contact channels found on accepted dossiers ('none' when there is none)",
            ["channel"],
            registry=registry,
        )
        self.contact_warnings = Counter(
            "sipas_intake_contact_warnings",
            "Unusable contact parts on accepted dossiers (landline, bad e-mail...)",
            ["field"],
            registry=registry,
        )
        self.responses = Counter(
            "sipas_intake_responses",
            "Responses by collection mode and outcome "
            "(recorded, invalid, token_used, token_expired, token_unknown, too_soon, duplicate)",
            ["mode", "outcome"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "sipas_intake_rate_limited",
            "Requests refused by the rate limiter, by page",
            ["page"],
            registry=registry,
        )
        self.outbox_pending = Gauge(
            "sipas_intake_outbox_pending_events",
            "Response events committed but not yet confirmed on JetStream",
            registry=registry,
        )
        self.declare()

    def declare(self) -> None:
        """Create the bounded label sets at 0, so rules see a series before its first event."""
        for entry in ENTRIES:
            for outcome in DOSSIER_OUTCOMES:
                self.dossiers.labels(entry, outcome)
        for channel in CONTACT_CHANNELS:
            self.contact_channels.labels(channel)
        for mode in COLLECTION_MODES:
            self.responses.labels(mode, "recorded")

    def count(self, counter: Counter, *labels: str, amount: int = 1) -> None:
        """Increment ``counter``'s child for ``labels`` (children are looked up once)."""
        key = (id(counter), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(*labels)
        child.inc(amount)

    def add(self, tally: Tally) -> None:
        """Increment every ``(counter, labels)`` of ``tally`` by its count (once per batch)."""
        for (counter, labels), amount in tally.items():
            self.count(counter, *labels, amount=amount)

    def entry(self, source: str) -> str:
        """The bounded entry-point label of a raw source token."""
        return source if source in ENTRIES else "nats"
