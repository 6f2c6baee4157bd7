"""Outbound channel adapters shared by sampling (invitations) and alerts (notifications).

Every adapter implements :class:`Channel`: ``send(message) -> Delivery``. A delivery is
``sent`` (accepted by the provider; not yet *delivered*), ``retryable`` (try again later,
e.g. a 5xx or a timeout), ``permanent`` (this recipient cannot be reached this way: fall
back to the next channel) or ``unknown`` (the outcome is ambiguous: do not blindly resend,
query the provider first). :func:`send_with_retry` retries only ``retryable`` outcomes,
with exponential backoff from tenacity.
"""

from sipas_runtime.channels.base import (
    Channel,
    ChannelError,
    Delivery,
    DeliveryStatus,
    OutboundMessage,
    send_with_retry,
)
from sipas_runtime.channels.email import SmtpChannel, SmtpSettings
from sipas_runtime.channels.webhook import WebhookChannel, sign_body, verify_signature

__all__ = [
    "Channel",
    "ChannelError",
    "Delivery",
    "DeliveryStatus",
    "OutboundMessage",
    "SmtpChannel",
    "SmtpSettings",
    "WebhookChannel",
    "send_with_retry",
    "sign_body",
    "verify_signature",
]
