"""The channel interface, delivery outcomes and the retry policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from tenacity import AsyncRetrying, retry_if_result, stop_after_attempt, wait_exponential


class ChannelError(RuntimeError):
    """Raised when a channel is misconfigured (it cannot send anything until fixed)."""


class ReportError(ValueError):
    """Raised when a gateway's delivery report is malformed (``field`` names the culprit)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class DeliveryStatus(StrEnum):
    """What became of one send attempt."""

    SENT = "sent"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class OutboundMessage:
    """One message to one recipient; ``key`` de-duplicates at providers that support it."""

    recipient: str
    text: str
    key: str
    subject: str | None = None
    html: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """The outcome of a send: status, the provider's message id and code, and why."""

    status: DeliveryStatus
    provider_id: str | None = None
    code: str | None = None
    detail: str = ""
    retry_after: float | None = None
    """Seconds the provider asks us to wait (night-time block, daily quota), if any."""
    channel_fault: bool = False
    """The channel itself is failing (credentials, credit, template): pause it and alert."""

    @property
    def ok(self) -> bool:
        """Whether the provider accepted the message."""
        return self.status is DeliveryStatus.SENT


class Channel(Protocol):
    """An outbound channel (e-mail, SMS gateway, Zalo ZNS, webhook...)."""

    name: str

    async def send(self, message: OutboundMessage) -> Delivery:
        """Try once to hand ``message`` to the provider; never raises for recipient problems."""
        ...


async def send_with_retry(
    channel: Channel,
    message: OutboundMessage,
    *,
    attempts: int = 4,
    initial_wait: float = 0.5,
    max_wait: float = 30.0,
) -> Delivery:
    """Send, retrying only ``retryable`` outcomes with exponential backoff (last outcome wins)."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=initial_wait, max=max_wait),
        retry=retry_if_result(lambda d: d.status is DeliveryStatus.RETRYABLE),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
    )
    delivery: Delivery = await retrying(channel.send, message)
    return delivery
