"""Sends queued notifications through the shared channel kit (e-mail, signed webhooks).

The dispatcher claims due notifications with a lease, sends each with
``send_with_retry`` (a few quick retries), and reschedules transient failures with a
growing delay before giving up. A webhook whose outcome is unknown (timeout) is sent again
later with the same ``Idempotency-Key``, so the receiver can drop the duplicate; missing
an escalation is worse than a duplicate. A channel that is not configured marks its
notifications ``skipped`` (and logs it), so operators see the gap instead of a queue
that never drains.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import structlog

from sipas_alerts.metrics import AlertsMetrics
from sipas_alerts.store.notifications import Attempt, Notification, NotificationQueue
from sipas_runtime.channels import Channel, DeliveryStatus, OutboundMessage, send_with_retry

log = structlog.get_logger(__name__)
LEASE = timedelta(minutes=2)
MAX_BACKOFF = timedelta(hours=1)


class Dispatcher:
    """Drains the notification queue."""

    def __init__(
        self,
        *,
        queue: NotificationQueue,
        channels: Mapping[str, Channel],
        clock: Callable[[], datetime],
        metrics: AlertsMetrics,
        owner: str,
        max_attempts: int = 8,
        quick_retries: int = 3,
    ) -> None:
        self._queue = queue
        self._channels = channels
        self._clock = clock
        self._metrics = metrics
        self._owner = owner
        self._max_attempts = max_attempts
        self._quick_retries = quick_retries

    async def run_once(self, limit: int = 50) -> int:
        """Send what is due now; the number of notifications handled."""
        notes = await self._queue.claim(
            now=self._clock(), owner=self._owner, lease=LEASE, limit=limit
        )
        for note in notes:
            await self._send(note)
        return len(notes)

    async def _send(self, note: Notification) -> None:
        queue = self._queue
        channel = self._channels.get(note.channel)
        if channel is None:
            log.warning("notification_skipped", channel=note.channel, reason="not configured")
            await queue.settle(note, Attempt("skipped", self._clock(), "channel not configured"))
            self._metrics.notifications.labels(note.channel, "skipped").inc()
            return
        message = OutboundMessage(
            recipient=note.recipient,
            text=note.text,
            key=note.key,
            subject=note.subject,
            params=note.params,
        )
        delivery = await send_with_retry(
            channel, message, attempts=self._quick_retries, initial_wait=0.2, max_wait=2.0
        )
        now = self._clock()
        if delivery.ok:
            await queue.settle(note, Attempt("sent", now))
            self._metrics.notifications.labels(note.channel, "sent").inc()
            return
        again = delivery.status in {DeliveryStatus.RETRYABLE, DeliveryStatus.UNKNOWN}
        if again and note.attempts + 1 < self._max_attempts:
            wait = min(MAX_BACKOFF, timedelta(seconds=30 * 2**note.attempts))
            await queue.settle(note, Attempt("pending", now, delivery.detail, retry_at=now + wait))
            self._metrics.notifications.labels(note.channel, "retrying").inc()
            return
        log.warning("notification_failed", channel=note.channel, code=delivery.code, kind=note.kind)
        await queue.settle(note, Attempt("failed", now, delivery.detail or str(delivery.code)))
        self._metrics.notifications.labels(note.channel, "failed").inc()
