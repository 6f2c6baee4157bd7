"""Child processes that never outlive their parent.

Every process SIPAS starts (nats-server, the Mongo-wire server, the four services) is
started through :func:`spawn`, which asks the Linux kernel to send SIGTERM to the child
when the parent dies (``PR_SET_PDEATHSIG``). Ctrl-C, a crash or ``kill -9`` of ``sipas up``
therefore leaves no orphans behind. :func:`stop` terminates politely, then kills;
:func:`kill` is ``kill -9`` (crash tests);
:func:`wait_until` polls a child until it is ready (:func:`answers_ok` for an HTTP probe).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import random
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

from tenacity import retry, retry_if_result, stop_after_delay, wait_fixed

_PR_SET_PDEATHSIG = 1


class Child(Protocol):
    """What stopping a child needs: ``subprocess.Popen`` and ``launcher.Launched`` have it."""

    @property
    def returncode(self) -> int | None: ...  # noqa: D102
    def poll(self) -> int | None: ...  # noqa: D102
    def wait(self, timeout: float | None = None) -> int: ...  # noqa: D102
    def terminate(self) -> None: ...  # noqa: D102
    def kill(self) -> None: ...  # noqa: D102


def die_with_parent() -> None:  # pragma: no cover - runs in the child after fork
    """Ask the kernel for SIGTERM when this process's parent dies."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    args: list[str],
    *,
    log_file: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``args`` as a child that receives SIGTERM when this process dies."""
    output: IO[bytes] | int = subprocess.DEVNULL
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        output = log_file.open("ab")
    try:
        return subprocess.Popen(  # noqa: S603 - args are built by SIPAS, never from user input
            args,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - needed for PR_SET_PDEATHSIG, no threads touched
        )
    finally:
        if not isinstance(output, int):
            output.close()


def stop(process: Child, *, timeout: float = 10.0) -> int:
    """Terminate ``process`` (SIGTERM, then SIGKILL after ``timeout``) and reap it."""
    _ask_to_stop(process)
    return _reap(process, timeout)


def stop_all(processes: list[Child], *, timeout: float = 10.0) -> None:
    """:func:`stop` several processes at once: all are asked to stop, then each is reaped.

    Each service settles its own work when asked to stop (up to a few seconds when its store
    or broker just came back), so asking one after the other adds those seconds up. Each is
    asked once: a second SIGTERM reaching a Python process that is already exiting (its signal
    handlers back to the defaults) ends it by the signal instead of its own exit.
    """
    for process in processes:
        _ask_to_stop(process)
    for process in processes:
        _reap(process, timeout)


def _ask_to_stop(process: Child) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()


def _reap(process: Child, timeout: float) -> int:
    """Wait for ``process`` to exit; SIGKILL it after ``timeout``."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        return process.wait()


def kill(process: Child) -> int:
    """``kill -9`` ``process`` (no chance to flush or clean up) and reap it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    return process.wait()


_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_PORT = 10_000
_handed_out: set[int] = set()


def _ephemeral_start() -> int:
    """The first port the kernel gives outgoing connections (32768 unless configured)."""
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port free on ``host`` now, for a child to listen on a moment later.

    Taken below the kernel's ephemeral range: a port the kernel picked (``bind(0)``) is one
    that any outgoing connection (a service's own, to NATS or the store, made before its
    HTTP server binds) may be given in between, and the child then fails with "address
    already in use". A port is handed out once per process.
    """
    end = _ephemeral_start()
    start = _LOWEST_PORT if end > _LOWEST_PORT + 1_000 else 1_024
    for _ in range(1_000):
        port = random.randrange(start, end)  # noqa: S311 - spreading ports, not a secret
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    msg = f"no free port on {host} between {start} and {end}"
    raise OSError(msg)


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_until(ready: Callable[[], bool], *, timeout: float, interval: float) -> bool:
    """Call ``ready`` every ``interval`` s until it is True (True) or ``timeout`` passes (False).

    ``ready`` raises to give up at once, e.g. when the child it waits for has exited.
    """

    @retry(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(interval),
        retry=retry_if_result(lambda answered: not answered),
        retry_error_callback=lambda _state: False,
    )
    def poll() -> bool:
        return ready()

    return poll()


def answers_ok(url: str, *, timeout: float = 1.0) -> bool:
    """Whether an HTTP GET of ``url`` (a loopback health endpoint) answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback URL built by SIPAS
            return bool(response.status == 200)  # noqa: PLR2004
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
