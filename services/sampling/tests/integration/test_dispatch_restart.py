"""kill -9 of a sampling process in the middle of sending: a restart sends within seconds.

A real ``python -m sipas_sampling`` process sends SMS through a local gateway that holds
every request; it is killed (SIGKILL) while its dispatch round holds the leases of the
invitations it claimed. A new process on the same database must send them all well before
the old two-minute leases would have lapsed.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sipas_contracts import subjects
from sipas_runtime.processes import answers_ok, free_port, spawn, stop, wait_until
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.testing import eventually

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
UNIT = "ht-nx-xuan-hoi"
INVITED = 12
RESTART_BOUND = 40.0  # seconds from the restart to the last invitation sent; leases were 120 s


class HeldGateway:
    """An eSMS gateway that holds every request until released (then answers at once)."""

    def __init__(self) -> None:
        self.received = 0
        self.released = threading.Event()

    @contextmanager
    def serve(self) -> Iterator[str]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                gateway.received += 1
                gateway.released.wait(60)
                body = json.loads(raw)
                data = json.dumps({"CodeResult": "100", "SMSID": body["RequestId"]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return

            def handle_one_request(self) -> None:
                try:
                    super().handle_one_request()
                except (BrokenPipeError, ConnectionResetError):  # the killed sender's requests
                    return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            self.released.set()
            server.shutdown()
            server.server_close()


@pytest.fixture
def sampling_env(tools, nats_url: str, mongo_url: str, db_name: str) -> dict[str, str]:
    return {
        "SIPAS_ENV": "development",
        "SIPAS_NATS_URL": nats_url,
        "SIPAS_MONGO_URL": mongo_url,
        "SIPAS_SAMPLING_DATABASE": db_name,
        "SIPAS_SAMPLING_HTTP_PORT": str(free_port()),
        "SIPAS_TOKEN_KEY": tools.token_key,
        "SIPAS_SAMPLING_SECRET_KEY": tools.key_pair.secret_key,
        "SIPAS_SAMPLING_SAMPLING_RATE": "1.0",
        "SIPAS_SAMPLING_CHANNEL_ORDER": "sms",
        "SIPAS_SAMPLING_ESMS_API_KEY": "K",
        "SIPAS_SAMPLING_ESMS_SECRET_KEY": "S",
        "SIPAS_SAMPLING_ESMS_BRANDNAME": "SONOIVU",
    }


async def test_a_restart_after_kill_9_sends_the_dead_senders_invitations_within_seconds(
    tools, nc, sampling_env, mongo, tmp_path: Path
):
    gateway = HeldGateway()
    with gateway.serve() as url:
        env = {**sampling_env, "SIPAS_SAMPLING_ESMS_URL": url}
        port = env["SIPAS_SAMPLING_HTTP_PORT"]

        def start(name: str):
            process = spawn(
                [sys.executable, "-m", "sipas_sampling"],
                log_file=tmp_path / f"{name}.log",
                env=env,
            )
            ready = f"http://127.0.0.1:{port}/readyz"
            assert wait_until(lambda: answers_ok(ready), timeout=90, interval=0.2)
            return process

        first = start("first")
        try:
            now = datetime.now(UTC) - timedelta(minutes=1)
            js = nc.jetstream()
            for i in range(INVITED):
                event = tools.completed(i, UNIT, delivered_at=now)
                await js.publish(
                    subjects.for_event(event), encode(event), headers=event_headers(event)
                )
            assert wait_until(lambda: gateway.received > 0, timeout=60, interval=0.05)
        finally:
            first.kill()
            first.wait()
        gateway.released.set()
        invitations = mongo[env["SIPAS_SAMPLING_DATABASE"]]["invitations"]
        held = await invitations.count_documents({"lease_until": {"$gt": datetime.now(UTC)}})

        restarted = time.monotonic()
        second = start("second")
        try:

            async def all_sent() -> bool:
                return await invitations.count_documents({"state": "sent"}) == INVITED

            await eventually(all_sent, 150, interval=0.2)
            took = time.monotonic() - restarted
        finally:
            stop(second)

    assert held > 0  # the kill left leases behind
    assert took < RESTART_BOUND, f"the restart sent everything after {took:.1f} s"
