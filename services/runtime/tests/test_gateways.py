"""SMS and Zalo ZNS adapters against a local HTTP server that plays the gateway."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from sipas_runtime.channels import (
    ChannelError,
    DeliveryStatus,
    EsmsChannel,
    EsmsSettings,
    MemoryTokenStore,
    OutboundMessage,
    SpeedSmsChannel,
    SpeedSmsSettings,
    TokenPair,
    ZaloSettings,
    ZaloZnsChannel,
    parse_esms_report,
    parse_zalo_event,
    send_with_retry,
)
from sipas_runtime.channels.zalo import zalo_signature


class Gateway(BaseHTTPRequestHandler):
    """Answers each path from a script of (status, json) pairs; records every request."""

    scripts: dict[str, list[tuple[int, Any]]] = {}
    requests: list[dict[str, Any]] = []
    issued = 0

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ctype = self.headers.get("Content-Type", "")
        body = (
            json.loads(raw)
            if "json" in ctype
            else {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        )
        Gateway.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        script = Gateway.scripts.get(self.path, [])
        status, answer = script.pop(0) if script else (200, self.default())
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(
            answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        )

    def default(self) -> Any:
        if self.path.startswith("/v4/oa/access_token"):
            Gateway.issued += 1
            return {
                "access_token": f"AT{Gateway.issued}",
                "refresh_token": f"RT{Gateway.issued}",
                "expires_in": "90000",
            }
        if "SendMultiple" in self.path:
            return {"CodeResult": "100", "SMSID": "sms-1"}
        if self.path.endswith("/sms/send"):
            return {"status": "success", "code": "00", "data": {"tranId": 77}}
        return {"error": 0, "message": "Success", "data": {"msg_id": "zmsg-1"}}

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def gateway() -> Iterator[str]:
    Gateway.scripts, Gateway.requests, Gateway.issued = {}, [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def sms(text: str = "Xã Cổ Đạm mời Ông/Bà đánh giá: http://ks.example/s/abc") -> OutboundMessage:
    return OutboundMessage(recipient="0912345678", text=text, key="inv-001")


def esms(url: str) -> EsmsChannel:
    return EsmsChannel(EsmsSettings(api_key="K", secret_key="S", brandname="SONOIVU", base_url=url))


async def test_esms_sends_gsm7_customer_care_text_with_the_invitation_as_request_id(gateway):
    delivery = await esms(gateway).send(sms())

    assert delivery.status is DeliveryStatus.SENT
    assert delivery.provider_id == "sms-1"
    [request] = Gateway.requests
    assert request["path"] == "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
    body = request["body"]
    assert body["Content"] == "Xa Co Dam moi Ong/Ba danh gia: http://ks.example/s/abc"
    assert (body["Phone"], body["SmsType"], body["IsUnicode"], body["RequestId"]) == (
        "0912345678",
        "2",
        "0",
        "inv-001",
    )


@pytest.mark.parametrize(
    ("code", "status", "fault"),
    [
        ("99", DeliveryStatus.PERMANENT, False),
        ("101", DeliveryStatus.PERMANENT, True),
        ("103", DeliveryStatus.PERMANENT, True),
        ("108", DeliveryStatus.PERMANENT, False),
        ("146", DeliveryStatus.PERMANENT, True),
        ("124", DeliveryStatus.SENT, False),
    ],
)
async def test_esms_error_codes_map_to_outcomes(gateway, code, status, fault):
    Gateway.scripts["/MainService.svc/json/SendMultipleMessage_V4_post_json/"] = [
        (200, {"CodeResult": code})
    ]

    delivery = await esms(gateway).send(sms())

    assert (delivery.status, delivery.channel_fault, delivery.code) == (status, fault, code)


async def test_esms_gateway_errors_are_unknown_not_blindly_resent(gateway):
    Gateway.scripts["/MainService.svc/json/SendMultipleMessage_V4_post_json/"] = [
        (502, "<html>bad gateway</html>")
    ]

    assert (await esms(gateway).send(sms())).status is DeliveryStatus.UNKNOWN


async def test_an_sms_too_long_for_one_segment_is_refused_before_sending(gateway):
    delivery = await esms(gateway).send(sms("x" * 161))

    assert delivery.status is DeliveryStatus.PERMANENT
    assert not Gateway.requests


async def test_a_landline_is_not_sent_to_an_sms_gateway(gateway):
    delivery = await esms(gateway).send(OutboundMessage(recipient="02373851234", text="x", key="k"))

    assert (delivery.status, delivery.code) == (DeliveryStatus.PERMANENT, "phone")


def test_esms_delivery_reports_are_read():
    report = parse_esms_report(
        {
            "SMSID": "a",
            "SendStatus": "5",
            "SendSuccess": "1",
            "SendFailed": "0",
            "RequestId": "inv-1",
        }
    )

    assert (report.key, report.delivered, report.final) == ("inv-1", True, True)
    assert parse_esms_report({"SendStatus": "5", "SendSuccess": "0", "SendFailed": "1"}).failed


async def test_speedsms_uses_basic_auth_and_msisdn(gateway):
    channel = SpeedSmsChannel(
        SpeedSmsSettings(access_token="TOK", sender="SONOIVU", base_url=gateway)
    )

    delivery = await channel.send(sms())

    assert (delivery.status, delivery.provider_id) == (DeliveryStatus.SENT, "77")
    [request] = Gateway.requests
    assert request["headers"]["Authorization"] == "Basic VE9LOng="  # base64("TOK:x")
    assert request["body"]["to"] == ["84912345678"]


def zalo(url: str, store: MemoryTokenStore | None = None) -> ZaloZnsChannel:
    store = store or MemoryTokenStore(TokenPair("AT0", "RT0", time.time() + 3600))
    return ZaloZnsChannel(
        ZaloSettings(app_id="app", secret_key="sk", base_url=url, oauth_url=url), store
    )


def zns(**params: str) -> OutboundMessage:
    return OutboundMessage(
        recipient="0912345678",
        text="...",
        key="inv-002",
        params={"template_id": "352468", "ten_co_quan": "Xã Cổ Đạm", "link": "abc", **params},
    )


async def test_zns_sends_the_template_with_msisdn_and_the_access_token_header(gateway):
    delivery = await zalo(gateway).send(zns())

    assert (delivery.status, delivery.provider_id) == (DeliveryStatus.SENT, "zmsg-1")
    [request] = Gateway.requests
    assert request["headers"]["access_token"] == "AT0"
    assert request["body"] == {
        "phone": "84912345678",
        "template_id": "352468",
        "tracking_id": "inv-002",
        "template_data": {"ten_co_quan": "Xã Cổ Đạm", "link": "abc"},
    }


@pytest.mark.parametrize(
    ("code", "status", "fault"),
    [
        (-100, DeliveryStatus.RETRYABLE, False),
        (-108, DeliveryStatus.PERMANENT, False),
        (-114, DeliveryStatus.PERMANENT, False),
        (-118, DeliveryStatus.PERMANENT, False),
        (-139, DeliveryStatus.PERMANENT, False),
        (-109, DeliveryStatus.PERMANENT, True),
        (-115, DeliveryStatus.PERMANENT, True),
        (-144, DeliveryStatus.PERMANENT, True),
        (-112, DeliveryStatus.PERMANENT, False),
    ],
)
async def test_zns_error_codes_map_to_retry_fallback_or_channel_fault(gateway, code, status, fault):
    Gateway.scripts["/message/template"] = [(200, {"error": code, "message": "x"})]

    delivery = await zalo(gateway).send(zns())

    assert (delivery.status, delivery.channel_fault) == (status, fault)


async def test_a_night_blocked_template_is_retried_in_the_morning(gateway):
    Gateway.scripts["/message/template"] = [(200, {"error": -133, "message": "night"})]

    delivery = await zalo(gateway).send(zns())

    assert delivery.status is DeliveryStatus.RETRYABLE
    assert 0 < delivery.retry_after <= 24 * 3600


async def test_an_expired_token_is_refreshed_once_and_the_new_pair_stored(gateway):
    store = MemoryTokenStore(TokenPair("AT0", "RT0", time.time() + 3600))
    Gateway.scripts["/message/template"] = [(200, {"error": -124, "message": "expired"})]

    delivery = await zalo(gateway, store).send(zns())

    assert delivery.ok
    paths = [r["path"] for r in Gateway.requests]
    assert paths == ["/message/template", "/v4/oa/access_token", "/message/template"]
    refresh = Gateway.requests[1]
    assert refresh["headers"]["secret_key"] == "sk"
    assert refresh["body"] == {
        "refresh_token": "RT0",
        "app_id": "app",
        "grant_type": "refresh_token",
    }
    assert Gateway.requests[2]["headers"]["access_token"] == "AT1"
    assert store.pair.refresh_token == "RT1"


async def test_concurrent_refreshes_use_the_single_use_refresh_token_once(gateway):
    store = MemoryTokenStore(TokenPair("AT0", "RT0", time.time() - 10))  # already expired
    channel = zalo(gateway, store)

    results = await asyncio.gather(*(channel.send(zns()) for _ in range(8)))

    assert all(r.ok for r in results)
    assert [r["path"] for r in Gateway.requests].count("/v4/oa/access_token") == 1


async def test_a_refresh_lost_to_another_instance_adopts_the_winners_pair(gateway):
    store = MemoryTokenStore(TokenPair("AT0", "RT0", time.time() - 10))
    Gateway.scripts["/v4/oa/access_token"] = [
        (200, {"error": -14020, "error_name": "refresh token used"})
    ]

    async def other_instance_wins() -> None:
        await asyncio.sleep(0.3)
        await store.swap("RT0", TokenPair("AT9", "RT9", time.time() + 3600))

    winner = asyncio.create_task(other_instance_wins())
    delivery = await zalo(gateway, store).send(zns())
    await winner

    assert delivery.ok
    assert Gateway.requests[-1]["headers"]["access_token"] == "AT9"


async def test_zns_server_errors_are_unknown(gateway):
    Gateway.scripts["/message/template"] = [(503, "unavailable")]

    assert (await zalo(gateway).send(zns())).status is DeliveryStatus.UNKNOWN


async def test_retry_policy_retries_zns_unknown_errors_then_succeeds(gateway):
    Gateway.scripts["/message/template"] = [(200, {"error": -100}), (200, {"error": -100})]

    delivery = await send_with_retry(zalo(gateway), zns(), initial_wait=0.01)

    assert delivery.ok
    assert len(Gateway.requests) == 3


def test_zalo_delivery_events_are_verified_and_read():
    body = json.dumps(
        {
            "event_name": "user_received_message",
            "timestamp": "1708765433000",
            "message": {"msg_id": "m1", "delivery_time": "1708765433000", "tracking_id": "inv-002"},
        }
    ).encode()
    mac = zalo_signature("app", body, "1708765433000", "oa-secret")

    report = parse_zalo_event("app", "oa-secret", body, f"mac={mac}")

    assert (report.key, report.provider_id, report.delivered) == ("inv-002", "m1", True)
    with pytest.raises(ChannelError, match="signature"):
        parse_zalo_event("app", "other-secret", body, f"mac={mac}")


def test_long_vietnamese_subjects_keep_their_spaces_when_folded():
    from email import message_from_bytes, policy

    from aiosmtplib.email import flatten_message

    from sipas_runtime.channels import SmtpChannel, SmtpSettings

    subject = "Mời đánh giá sự hài lòng — Sở Tư pháp tỉnh Đồng Nai, hồ sơ 000.00.05.H56-250210-0007"
    channel = SmtpChannel(SmtpSettings(host="127.0.0.1", sender="ks@snv.example.gov.vn"))

    wire = flatten_message(
        channel.build(OutboundMessage(recipient="a@example.vn", text="x", key="k", subject=subject))
    )

    assert message_from_bytes(wire, policy=policy.default)["Subject"] == subject
