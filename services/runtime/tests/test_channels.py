"""Channel adapters against a real SMTP server (aiosmtpd) and a real local HTTP server."""

from __future__ import annotations

import email
import json
import threading
from collections.abc import Iterator
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from sipas_runtime.channels import (
    DeliveryStatus,
    OutboundMessage,
    SmtpChannel,
    SmtpSettings,
    WebhookChannel,
    send_with_retry,
    verify_signature,
)
from sipas_runtime.processes import free_port

SECRET = b"s" * 32


class Inbox:
    def __init__(self, refuse: set[str] | None = None) -> None:
        self.messages: list[Any] = []
        self.refuse = refuse or set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd API
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox(refuse={"khongton@example.vn"})
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def channel(port: int) -> SmtpChannel:
    return SmtpChannel(
        SmtpSettings(host="127.0.0.1", port=port, starttls=False, sender="ks@snv.example.gov.vn")
    )


async def test_an_invitation_email_arrives_in_utf8_with_its_link(smtp):
    inbox, port = smtp
    message = OutboundMessage(
        recipient="nguoidan@example.vn",
        subject="Mời đánh giá sự hài lòng — Xã Cổ Đạm",
        text="Ông/Bà vui lòng đánh giá: https://ks.example/s/abc",
        html="<p>Ông/Bà vui lòng <a href='https://ks.example/s/abc'>đánh giá</a></p>",
        key="inv-1",
    )

    delivery = await channel(port).send(message)

    assert delivery.status is DeliveryStatus.SENT
    [envelope] = inbox.messages
    parsed = email.message_from_bytes(envelope.content, policy=policy.default)
    assert parsed["Subject"] == "Mời đánh giá sự hài lòng — Xã Cổ Đạm"
    assert "https://ks.example/s/abc" in parsed.get_body(("plain",)).get_content()
    assert envelope.rcpt_tos == ["nguoidan@example.vn"]


async def test_a_refused_recipient_is_a_permanent_failure(smtp):
    _, port = smtp

    delivery = await channel(port).send(
        OutboundMessage(recipient="khongton@example.vn", text="x", key="k")
    )

    assert delivery.status is DeliveryStatus.PERMANENT
    assert delivery.code == "550"


async def test_an_unreachable_server_is_retryable():
    delivery = await channel(free_port()).send(
        OutboundMessage(recipient="a@example.vn", text="x", key="k")
    )

    assert delivery.status is DeliveryStatus.RETRYABLE


class Receiver(BaseHTTPRequestHandler):
    script: list[int] = []
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        status = Receiver.script.pop(0) if Receiver.script else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.script, Receiver.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


async def test_webhooks_are_signed_and_verifiable(receiver):
    hook = WebhookChannel(secret=SECRET)

    delivery = await hook.send(
        OutboundMessage(recipient=receiver, text="Cảnh báo mới", key="case-1")
    )
    await hook.aclose()

    assert delivery.ok
    [(headers, body)] = Receiver.received
    assert json.loads(body)["text"] == "Cảnh báo mới"
    assert headers["Idempotency-Key"] == "case-1"
    assert verify_signature(SECRET, headers["X-Sipas-Signature"], body)
    assert not verify_signature(b"x" * 32, headers["X-Sipas-Signature"], body)
    assert not verify_signature(SECRET, headers["X-Sipas-Signature"], body + b" ")


async def test_server_errors_are_retried_and_client_errors_are_not(receiver):
    hook = WebhookChannel(secret=SECRET)
    Receiver.script = [503, 503, 200]

    retried = await send_with_retry(
        hook, OutboundMessage(recipient=receiver, text="x", key="a"), initial_wait=0.01
    )
    Receiver.script = [404]
    refused = await send_with_retry(
        hook, OutboundMessage(recipient=receiver, text="x", key="b"), initial_wait=0.01
    )
    await hook.aclose()

    assert retried.ok
    assert refused.status is DeliveryStatus.PERMANENT
    assert len(Receiver.received) == 4


async def test_retries_stop_after_the_attempt_budget(receiver):
    hook = WebhookChannel(secret=SECRET)
    Receiver.script = [500] * 10

    delivery = await send_with_retry(
        hook, OutboundMessage(recipient=receiver, text="x", key="c"), attempts=3, initial_wait=0.01
    )
    await hook.aclose()

    assert delivery.status is DeliveryStatus.RETRYABLE
    assert len(Receiver.received) == 3
