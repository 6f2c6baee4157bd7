"""Outbound channel adapters shared by sampling (invitations) and alerts (notifications).

E-mail (SMTP), signed webhooks, SMS brandname (eSMS, SpeedSMS) and Zalo ZNS.

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
    ReportError,
    send_with_retry,
)
from sipas_runtime.channels.email import SmtpChannel, SmtpFields, SmtpSettings, smtp_channel
from sipas_runtime.channels.phone import PhoneError, msisdn, national
from sipas_runtime.channels.sms import (
    DeliveryReport,
    EsmsChannel,
    EsmsSettings,
    SpeedSmsChannel,
    SpeedSmsSettings,
    parse_esms_report,
    to_gsm7,
)
from sipas_runtime.channels.webhook import WebhookChannel, sign_body, verify_signature
from sipas_runtime.channels.zalo import (
    MemoryTokenStore,
    TokenPair,
    TokenStore,
    ZaloSettings,
    ZaloZnsChannel,
    parse_zalo_event,
)

__all__ = [
    "Channel",
    "ChannelError",
    "Delivery",
    "DeliveryReport",
    "DeliveryStatus",
    "EsmsChannel",
    "EsmsSettings",
    "MemoryTokenStore",
    "OutboundMessage",
    "PhoneError",
    "ReportError",
    "SmtpChannel",
    "SmtpFields",
    "SmtpSettings",
    "SpeedSmsChannel",
    "SpeedSmsSettings",
    "TokenPair",
    "TokenStore",
    "WebhookChannel",
    "ZaloSettings",
    "ZaloZnsChannel",
    "msisdn",
    "national",
    "parse_esms_report",
    "parse_zalo_event",
    "send_with_retry",
    "sign_body",
    "smtp_channel",
    "to_gsm7",
    "verify_signature",
]
