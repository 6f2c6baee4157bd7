"""JSON webhooks (httpx) signed with HMAC-SHA256 so the receiver can verify the sender."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx

from sipas_runtime.channels.base import Delivery, DeliveryStatus, OutboundMessage

SIGNATURE_HEADER = "X-Sipas-Signature"
_RETRYABLE_STATUS = {408, 425, 429}
_SERVER_ERROR = 500


def sign_body(secret: bytes, timestamp: str, body: bytes) -> str:
    """``t=<unix>,sha256=<hex>`` over ``timestamp + "." + body``."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},sha256={digest}"


def verify_signature(secret: bytes, header: str, body: bytes, *, tolerance: float = 300) -> bool:
    """Check a signature header (and that it is recent) on the receiving side."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    timestamp, digest = parts.get("t", ""), parts.get("sha256", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign_body(secret, timestamp, body), f"t={timestamp},sha256={digest}")


class WebhookChannel:
    """POSTs ``{"key", "text", "subject", "params"}`` to the recipient URL."""

    name = "webhook"

    def __init__(
        self, *, secret: bytes, client: httpx.AsyncClient | None = None, timeout: float = 10
    ) -> None:
        self._secret = secret
        self._client = client or httpx.AsyncClient(timeout=timeout)

    async def send(self, message: OutboundMessage) -> Delivery:
        """POST the message to ``message.recipient`` (an http(s) URL)."""
        body = json.dumps(
            {
                "key": message.key,
                "subject": message.subject,
                "text": message.text,
                "params": dict(message.params),
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": message.key,
            SIGNATURE_HEADER: sign_body(self._secret, str(int(time.time())), body),
        }
        try:
            response = await self._client.post(message.recipient, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return Delivery(DeliveryStatus.UNKNOWN, detail=f"timeout: {exc}"[:200])
        except httpx.HTTPError as exc:
            return Delivery(DeliveryStatus.RETRYABLE, detail=f"{type(exc).__name__}: {exc}"[:200])
        code = str(response.status_code)
        if response.is_success:
            return Delivery(
                DeliveryStatus.SENT, provider_id=response.headers.get("X-Request-Id"), code=code
            )
        if response.status_code in _RETRYABLE_STATUS or response.status_code >= _SERVER_ERROR:
            return Delivery(DeliveryStatus.RETRYABLE, code=code, detail=response.text[:200])
        return Delivery(DeliveryStatus.PERMANENT, code=code, detail=response.text[:200])

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
