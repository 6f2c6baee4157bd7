"""Children: waiting for one to be ready (polling, giving up, a health endpoint's answer) and
stopping several at once."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sipas_runtime.processes import answers_ok, free_port, spawn, stop_all, wait_until

# Asked to stop, a child says so, then exits only once all three have been asked: stopped one
# after the other, the first would never exit (and be killed after the timeout).
SIBLING = """
import pathlib, signal, sys, time
folder, me = pathlib.Path(sys.argv[1]), sys.argv[2]
def on_term(*_):
    (folder / me).touch()
    deadline = time.monotonic() + 30
    while len(list(folder.iterdir())) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    sys.exit(0 if len(list(folder.iterdir())) == 3 else 3)
signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
while True:
    time.sleep(1)
"""


def test_wait_until_polls_until_ready() -> None:
    calls = []

    def ready() -> bool:
        calls.append(time.monotonic())
        return len(calls) == 3

    assert wait_until(ready, timeout=5, interval=0.01)
    assert len(calls) == 3


def test_wait_until_gives_up_after_the_timeout() -> None:
    started = time.monotonic()
    assert not wait_until(lambda: False, timeout=0.2, interval=0.05)
    assert 0.2 <= time.monotonic() - started < 2


def test_wait_until_stops_at_once_when_ready_raises() -> None:
    calls = []

    def ready() -> bool:
        calls.append(1)
        raise RuntimeError("the child exited")

    with pytest.raises(RuntimeError, match="the child exited"):
        wait_until(ready, timeout=5, interval=0.01)
    assert len(calls) == 1


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature
        pass


@pytest.fixture
def health_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_answers_ok_only_on_200(health_url: str) -> None:
    assert answers_ok(f"{health_url}/healthz")
    assert not answers_ok(f"{health_url}/readyz")  # 503: not ready yet
    assert not answers_ok(f"http://127.0.0.1:{free_port()}/healthz")  # nothing listening


def test_stop_all_asks_every_child_before_waiting_for_any(tmp_path: Path) -> None:
    asked = tmp_path / "asked"
    asked.mkdir()
    children = [
        spawn([sys.executable, "-c", SIBLING, str(asked), f"child{n}"], log_file=tmp_path / f"{n}")
        for n in range(3)
    ]
    assert wait_until(
        lambda: all((tmp_path / f"{n}").read_text().strip() == "ready" for n in range(3)),
        timeout=60,
        interval=0.05,
    )

    stop_all(children, timeout=20)

    assert [child.returncode for child in children] == [0, 0, 0]  # none killed, none timed out


def test_a_free_port_is_below_the_ephemeral_range_and_handed_out_once() -> None:
    # An outgoing connection is given a port from the ephemeral range: a port picked there
    # could be taken by a service's own connection to NATS before its server binds it.
    first = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(200)]
    assert all(1024 <= port < first for port in ports)
    assert len(set(ports)) == len(ports)
