"""SMS brandname gateways: eSMS.vn REST JSON (§3.2) and SpeedSMS (§3.3).

Brandname customer-care texts are sent without diacritics (GSM 7-bit, 160 characters per
segment): :func:`to_gsm7` strips them (``đ`` → ``d``) and drops what GSM-7 cannot carry.
"Accepted by the gateway" is ``sent``, not delivered: delivery reports come later
(:func:`parse_esms_report`). Error codes map to retryable / permanent (fall back to the
next channel) / channel fault (credentials, credit, brandname, template: alert operators).
"""

from __future__ import annotations

import base64
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from sipas_runtime.channels.base import (
    ChannelError,
    Delivery,
    DeliveryStatus,
    OutboundMessage,
    ReportError,
)
from sipas_runtime.channels.phone import PhoneError, msisdn, national
from sipas_runtime.channels.transport import http_failure

GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
SEGMENT = 160
ESMS_PATH = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
_ESMS_RETRYABLE = {"-1", "130"}
_ESMS_FAULT = {"101", "102", "103", "104", "118", "140", "146"}
_SPEEDSMS_FAULT = {"007", "008", "009"}
_SERVER_ERROR = 500


def to_gsm7(text: str) -> str:
    """Vietnamese text without diacritics, restricted to the GSM 7-bit alphabet."""
    text = text.replace("đ", "d").replace("Đ", "D")
    stripped = "".join(
        c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn"
    )
    return "".join(c if c in GSM7 else "-" if c in "–—" else "" for c in stripped)


def check_length(text: str, limit: int = SEGMENT) -> None:
    """Raise ``ChannelError`` when a text will not fit in ``limit`` GSM-7 characters."""
    if len(text) > limit:
        raise ChannelError(f"SMS is {len(text)} characters; the template allows {limit}")


@dataclass(frozen=True)
class EsmsSettings:
    """eSMS account and brandname (one per agency contract)."""

    api_key: str
    secret_key: str
    brandname: str
    base_url: str = "https://rest.esms.vn"
    callback_url: str = ""
    sandbox: bool = False
    timeout: float = 10.0


class EsmsChannel:
    """Customer-care brandname SMS through eSMS; ``RequestId`` = message key (dedup 124)."""

    name = "sms"

    def __init__(self, settings: EsmsSettings, client: httpx.AsyncClient | None = None) -> None:
        self._s = settings
        self._client = client or httpx.AsyncClient(timeout=settings.timeout)

    def body(self, message: OutboundMessage) -> dict[str, str]:
        """The JSON body for one message (exposed for previews and tests)."""
        content = to_gsm7(message.text)
        check_length(content)
        return {
            "ApiKey": self._s.api_key,
            "SecretKey": self._s.secret_key,
            "Phone": national(message.recipient),
            "Content": content,
            "Brandname": self._s.brandname,
            "SmsType": "2",
            "IsUnicode": "0",
            "Sandbox": "1" if self._s.sandbox else "0",
            "RequestId": message.key[:50],
            "CallbackUrl": self._s.callback_url,
            "SendDate": "",
        }

    async def send(self, message: OutboundMessage) -> Delivery:
        """POST one SMS; map eSMS ``CodeResult`` to a delivery outcome."""
        try:
            body = self.body(message)
        except PhoneError as exc:
            return Delivery(DeliveryStatus.PERMANENT, code="phone", detail=str(exc))
        except ChannelError as exc:
            return Delivery(DeliveryStatus.PERMANENT, code="length", detail=str(exc))
        try:
            response = await self._client.post(self._s.base_url.rstrip("/") + ESMS_PATH, json=body)
        except httpx.HTTPError as exc:
            return http_failure(exc)
        return _esms_outcome(response)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


def _esms_outcome(response: httpx.Response) -> Delivery:
    if response.status_code >= _SERVER_ERROR:
        return Delivery(
            DeliveryStatus.UNKNOWN, code=str(response.status_code), detail="gateway error"
        )
    try:
        data = response.json()
        code = str(data["CodeResult"])
    except (ValueError, KeyError, TypeError):
        return Delivery(
            DeliveryStatus.UNKNOWN, code=str(response.status_code), detail="unreadable answer"
        )
    detail = str(data.get("ErrorMessage") or "")[:200]
    if code == "100":
        return Delivery(DeliveryStatus.SENT, provider_id=str(data.get("SMSID") or ""), code=code)
    if code == "124":  # duplicate RequestId: this message was already accepted
        return Delivery(DeliveryStatus.SENT, code=code, detail="duplicate request id: already sent")
    if code in _ESMS_RETRYABLE:
        return Delivery(DeliveryStatus.RETRYABLE, code=code, detail=detail)
    fault = code in _ESMS_FAULT
    return Delivery(DeliveryStatus.PERMANENT, code=code, detail=detail, channel_fault=fault)


@dataclass(frozen=True)
class DeliveryReport:
    """A gateway's delivery report for one message."""

    key: str
    provider_id: str
    delivered: bool
    failed: bool
    final: bool


def _count(params: Mapping[str, str], name: str) -> int:
    value = params.get(name) or "0"
    if not (value.isascii() and value.isdigit()):
        raise ReportError(name, "must be a whole number")
    return int(value)


def parse_esms_report(params: Mapping[str, str]) -> DeliveryReport:
    """Read eSMS's callback query (``SendStatus`` 5 = final; success/failure counts)."""
    status = params.get("SendStatus", "")
    success, failed = _count(params, "SendSuccess"), _count(params, "SendFailed")
    return DeliveryReport(
        key=params.get("RequestId", ""),
        provider_id=params.get("SMSID", ""),
        delivered=status == "5" and success >= 1,
        failed=failed >= 1 or status == "4",
        final=status in {"4", "5"},
    )


@dataclass(frozen=True)
class SpeedSmsSettings:
    """SpeedSMS account: access token and registered brandname (``sms_type`` 3)."""

    access_token: str
    sender: str
    base_url: str = "https://api.speedsms.vn"
    sms_type: int = 3
    timeout: float = 10.0


class SpeedSmsChannel:
    """Brandname SMS through SpeedSMS (Basic auth ``token:x``; recipients as ``84…``)."""

    name = "sms"

    def __init__(self, settings: SpeedSmsSettings, client: httpx.AsyncClient | None = None) -> None:
        self._s = settings
        self._client = client or httpx.AsyncClient(timeout=settings.timeout)

    async def send(self, message: OutboundMessage) -> Delivery:
        """POST one SMS; ``status: success`` means accepted."""
        try:
            content = to_gsm7(message.text)
            check_length(content)
            body = {
                "to": [msisdn(message.recipient)],
                "content": content,
                "sms_type": self._s.sms_type,
                "sender": self._s.sender,
            }
        except (PhoneError, ChannelError) as exc:
            return Delivery(DeliveryStatus.PERMANENT, detail=str(exc))
        auth = base64.b64encode(f"{self._s.access_token}:x".encode()).decode()
        try:
            response = await self._client.post(
                self._s.base_url.rstrip("/") + "/index.php/sms/send",
                json=body,
                headers={"Authorization": f"Basic {auth}"},
            )
            data = response.json()
        except httpx.HTTPError as exc:
            return http_failure(exc)
        except ValueError:
            return Delivery(
                DeliveryStatus.UNKNOWN, code=str(response.status_code), detail="unreadable answer"
            )
        code = str(data.get("code", ""))
        if data.get("status") == "success":
            tran = str((data.get("data") or {}).get("tranId", ""))
            return Delivery(DeliveryStatus.SENT, provider_id=tran, code=code)
        fault = code in _SPEEDSMS_FAULT
        return Delivery(
            DeliveryStatus.PERMANENT,
            code=code,
            detail=str(data.get("message", ""))[:200],
            channel_fault=fault,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
