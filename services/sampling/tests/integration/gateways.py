"""A local HTTP server playing eSMS, Zalo ZNS (+ OAuth) and an SMTP server, for the tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from sipas_runtime.processes import free_port

Answer = Callable[[str, dict[str, Any]], dict[str, Any]]


def default_answer(path: str, body: dict[str, Any]) -> dict[str, Any]:
    if "access_token" in path:
        return {"access_token": "AT-new", "refresh_token": "RT-new", "expires_in": "90000"}
    if "SendMultiple" in path:
        return {"CodeResult": "100", "SMSID": f"sms-{body.get('RequestId')}"}
    return {"error": 0, "message": "Success", "data": {"msg_id": f"z-{body.get('tracking_id')}"}}


@contextmanager
def http_gateway(answer: Answer = default_answer) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Serve ``answer(path, body)`` as JSON; yields the base URL and the request log."""
    requests: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.loads(raw) if raw.startswith(b"{") else {}
            requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            data = json.dumps(answer(self.path, body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        self.messages.append(envelope)
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[int, Mailbox]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()
