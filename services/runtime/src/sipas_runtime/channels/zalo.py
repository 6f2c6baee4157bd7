"""Zalo ZNS template messages (integration-formats §2.1-2.5) with OAuth v4 token refresh.

``POST {base}/message/template`` with the header ``access_token`` and
``{"phone": "84…", "template_id", "template_data", "tracking_id"}``. The message's
``params`` carry ``template_id`` and the template's parameters. Error codes map to:
sent; retryable (-100, -133 until morning); permanent, i.e. fall back to the next channel
(the person is not reachable on Zalo: -108 -110 -114 -118 -119 -139, or a malformed
request); permanent with ``channel_fault`` (configuration, credit, quota: -101…-105, -109,
-115, -117, -131, -137, -144, -147). An expired token (-124) is refreshed once and the
send retried. HTTP 5xx or an unreadable answer is ``unknown``: a resend could reach the
person twice and be charged twice.

The refresh token is single-use: :class:`ZaloTokens` refreshes under a lock and stores
the new pair with a compare-and-swap (:class:`TokenStore`), so two instances refreshing
at once cannot lose the pair; the loser (Zalo answers -14020) reloads the winner's pair.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol

import httpx
from tenacity import AsyncRetrying, retry_if_result, stop_after_delay, wait_fixed

from sipas_runtime.channels.base import ChannelError, Delivery, DeliveryStatus, OutboundMessage
from sipas_runtime.channels.phone import PhoneError, msisdn
from sipas_runtime.channels.sms import DeliveryReport
from sipas_runtime.channels.transport import http_failure

UNREACHABLE = {-108, -110, -114, -118, -119, -139}
FAULTS = {-101, -102, -103, -104, -105, -109, -115, -117, -131, -137, -144, -147}
TOKEN_EXPIRED = -124
NIGHT_BLOCK = -133
REFRESH_USED = -14020
MAX_TEMPLATE_CHARS = 400
_VN = timezone(timedelta(hours=7))
_SERVER_ERROR = 500


@dataclass(frozen=True)
class TokenPair:
    """An OA access token, its single-use refresh token and when the access token expires."""

    access_token: str
    refresh_token: str
    expires_at: float


class TokenStore(Protocol):
    """Where the current token pair lives (shared by every instance of the service)."""

    async def load(self) -> TokenPair | None:
        """The current pair, if any."""
        ...

    async def swap(self, old_refresh_token: str, new: TokenPair) -> bool:
        """Atomically replace the pair whose refresh token is ``old_refresh_token``."""
        ...


class MemoryTokenStore:
    """A token store for one process (tests, single-instance tools)."""

    def __init__(self, pair: TokenPair | None = None) -> None:
        self.pair = pair

    async def load(self) -> TokenPair | None:
        """The current pair."""
        return self.pair

    async def swap(self, old_refresh_token: str, new: TokenPair) -> bool:
        """Replace the pair if it still holds ``old_refresh_token``."""
        if self.pair is not None and self.pair.refresh_token != old_refresh_token:
            return False
        self.pair = new
        return True


@dataclass(frozen=True)
class ZaloSettings:
    """The Zalo app (id, secret key) and the endpoints (overridable for tests)."""

    app_id: str
    secret_key: str
    base_url: str = "https://business.openapi.zalo.me"
    oauth_url: str = "https://oauth.zaloapp.com"
    development: bool = False
    timeout: float = 10.0


class ZaloTokens:
    """Hands out a valid access token; refreshes it (once at a time) when it expires."""

    def __init__(
        self, settings: ZaloSettings, store: TokenStore, client: httpx.AsyncClient
    ) -> None:
        self._s = settings
        self._store = store
        self._client = client
        self._lock = asyncio.Lock()

    async def current(self) -> str:
        """The access token to use now (refreshed first if it has expired)."""
        pair = await self._store.load()
        if pair is None:
            raise ChannelError("no Zalo OA token pair stored: run the OA authorisation first")
        if pair.expires_at - 60 > time.time():
            return pair.access_token
        return await self.refresh(pair.access_token)

    async def refresh(self, failed_access_token: str) -> str:
        """Refresh unless another task/instance already did; returns the new access token."""
        async with self._lock:
            pair = await self._store.load()
            if pair is None:
                raise ChannelError("no Zalo OA token pair stored")
            if pair.access_token != failed_access_token and pair.expires_at > time.time():
                return pair.access_token
            answer = await self._client.post(
                self._s.oauth_url.rstrip("/") + "/v4/oa/access_token",
                data={
                    "refresh_token": pair.refresh_token,
                    "app_id": self._s.app_id,
                    "grant_type": "refresh_token",
                },
                headers={"secret_key": self._s.secret_key},
            )
            data = _json(answer)
            if "access_token" in data and "refresh_token" in data:
                new = TokenPair(
                    str(data["access_token"]),
                    str(data["refresh_token"]),
                    time.time() + float(data.get("expires_in", 90000)),
                )
                if await self._store.swap(pair.refresh_token, new):
                    return new.access_token
            elif _int(data.get("error")) != REFRESH_USED:
                raise ChannelError(
                    f"Zalo token refresh failed: {data.get('error_name') or data}"[:200]
                )
            return await self._winner(pair.refresh_token)

    async def _winner(self, stale_refresh_token: str) -> str:
        # Another instance refreshed with the same single-use token: wait for its pair.
        retrying = AsyncRetrying(
            stop=stop_after_delay(5),
            wait=wait_fixed(0.1),
            retry=retry_if_result(lambda p: p is None or p.refresh_token == stale_refresh_token),
        )
        pair: TokenPair | None = await retrying(self._store.load)
        if pair is None or pair.refresh_token == stale_refresh_token:
            raise ChannelError("Zalo refresh token was used elsewhere and no new pair appeared")
        return pair.access_token


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def seconds_until_morning(now: datetime | None = None, hour: int = 6) -> float:
    """Seconds until ``hour``:00 Vietnam time (ZNS blocks some templates at night)."""
    local = (now or datetime.now(UTC)).astimezone(_VN)
    target = local.replace(hour=hour, minute=5, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    return (target - local).total_seconds()


class ZaloZnsChannel:
    """Sends approved ZNS templates to phone numbers (no need to follow the OA)."""

    name = "zalo"

    def __init__(
        self,
        settings: ZaloSettings,
        tokens_store: TokenStore,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._s = settings
        self._client = client or httpx.AsyncClient(timeout=settings.timeout)
        self.tokens = ZaloTokens(settings, tokens_store, self._client)

    def body(self, message: OutboundMessage) -> dict[str, Any]:
        """The JSON body (exposed for previews and tests)."""
        params = dict(message.params)
        template_id = params.pop("template_id", "")
        if not template_id:
            raise ChannelError("ZNS message without params['template_id']")
        if not params or sum(len(v) for v in params.values()) > MAX_TEMPLATE_CHARS:
            raise ChannelError("ZNS template data is empty or longer than 400 characters")
        body: dict[str, Any] = {
            "phone": msisdn(message.recipient),
            "template_id": template_id,
            "template_data": params,
            "tracking_id": message.key[:48],
        }
        if self._s.development:
            body["mode"] = "development"
        return body

    async def send(self, message: OutboundMessage) -> Delivery:
        """Send once (refreshing an expired token once) and map Zalo's error code."""
        try:
            body = self.body(message)
        except PhoneError as exc:
            return Delivery(DeliveryStatus.PERMANENT, code="phone", detail=str(exc))
        except ChannelError as exc:
            return Delivery(DeliveryStatus.PERMANENT, code="template_data", detail=str(exc))
        try:
            token = await self.tokens.current()
            delivery, expired = await self._post(body, token)
            if expired:
                delivery, expired = await self._post(body, await self.tokens.refresh(token))
        except ChannelError as exc:
            return Delivery(
                DeliveryStatus.PERMANENT, code="token", detail=str(exc)[:200], channel_fault=True
            )
        except httpx.HTTPError as exc:
            return http_failure(exc)
        if expired:
            return Delivery(
                DeliveryStatus.PERMANENT,
                code=str(TOKEN_EXPIRED),
                detail="token refused after refresh",
                channel_fault=True,
            )
        return delivery

    async def _post(self, body: dict[str, Any], token: str) -> tuple[Delivery, bool]:
        response = await self._client.post(
            self._s.base_url.rstrip("/") + "/message/template",
            json=body,
            headers={"access_token": token, "Content-Type": "application/json"},
        )
        data = _json(response)
        code = _int(data.get("error"))
        if response.status_code >= _SERVER_ERROR or code is None:
            return Delivery(
                DeliveryStatus.UNKNOWN, code=str(response.status_code), detail="unreadable answer"
            ), False
        return _outcome(code, data), code == TOKEN_EXPIRED

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


def _outcome(code: int, data: Mapping[str, Any]) -> Delivery:
    detail = str(data.get("message", ""))[:200]
    if code == 0:
        msg_id = str((data.get("data") or {}).get("msg_id", ""))
        return Delivery(DeliveryStatus.SENT, provider_id=msg_id, code="0")
    if code == -100:  # noqa: PLR2004 - Zalo's "unknown error": try again later
        return Delivery(DeliveryStatus.RETRYABLE, code=str(code), detail=detail)
    if code == NIGHT_BLOCK:
        return Delivery(
            DeliveryStatus.RETRYABLE,
            code=str(code),
            detail=detail,
            retry_after=seconds_until_morning(),
        )
    return Delivery(
        DeliveryStatus.PERMANENT, code=str(code), detail=detail, channel_fault=code in FAULTS
    )


def zalo_signature(app_id: str, body: bytes, timestamp: str, oa_secret: str) -> str:
    """``mac=`` value Zalo sends in ``X-ZEvent-Signature`` (SHA-256 hex)."""
    return hashlib.sha256(
        app_id.encode() + body + timestamp.encode() + oa_secret.encode()
    ).hexdigest()


def parse_zalo_event(
    app_id: str, oa_secret: str, body: bytes, signature: str
) -> DeliveryReport | None:
    """A delivery report from a signed ``user_received_message`` ZNS event (None if not one)."""
    if not oa_secret:  # an empty secret would accept a signature anyone can compute
        msg = "Zalo webhooks are refused: the OA secret is not configured"
        raise ChannelError(msg)
    try:
        event = json.loads(body)
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    expected = zalo_signature(app_id, body, str(event.get("timestamp", "")), oa_secret)
    given = signature.removeprefix("mac=").encode("utf-8", "replace")
    if not hmac.compare_digest(given, expected.encode()):
        raise ChannelError("Zalo event signature does not match")
    message = event.get("message")
    if not isinstance(message, dict):
        return None
    if event.get("event_name") != "user_received_message" or "delivery_time" not in message:
        return None
    return DeliveryReport(
        key=str(message.get("tracking_id", "")),
        provider_id=str(message.get("msg_id", "")),
        delivered=True,
        failed=False,
        final=True,
    )
