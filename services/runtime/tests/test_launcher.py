"""Services forked from the preloaded fork server: their own process, name, environment and log;
a polite stop, a kill -9, and none outliving the server."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from sipas_runtime.launcher import Launched, launch
from sipas_runtime.processes import answers_ok, free_port, stop, wait_until
from sipas_runtime.stack import generate_secrets


def _comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def _env(nats_url: str, mongo_url: str, port: int) -> dict[str, str]:
    return {
        **generate_secrets(),
        "SIPAS_NATS_URL": nats_url,
        "SIPAS_MONGO_URL": mongo_url,
        "SIPAS_LOG_FORMAT": "json",
        "SIPAS_INTAKE_HTTP_PORT": str(port),
        "SIPAS_INTAKE_DATABASE": f"launch_{port}",
    }


def _starting(log: Path, service: Launched) -> bool:
    if service.poll() is not None:
        raise AssertionError(log.read_text())
    return log.is_file() and "startup_objects_frozen" in log.read_text()


def test_a_forked_service_has_its_name_its_environment_and_its_log(
    tmp_path: Path, nats_url: str, mongo_url: str
) -> None:
    log, port = tmp_path / "logs" / "intake.log", free_port()
    service = launch("intake", env=_env(nats_url, mongo_url, port), log_file=log)
    try:
        ready = f"http://127.0.0.1:{port}/readyz"
        assert wait_until(
            lambda: _starting(log, service) and answers_ok(ready), timeout=90, interval=0.1
        )
        assert service.poll() is None
        assert service.pid != os.getpid()
        assert _comm(service.pid) == "sipas-intake"
        first = json.loads(log.read_text().splitlines()[0])  # SIPAS_LOG_FORMAT reached it
        assert first["service"] == "intake"
        # SIGTERM: a graceful stop, after which uvicorn ends by the signal, as when exec'd
        assert stop(service, timeout=20) == -signal.SIGTERM
        assert "service_stopped" in log.read_text()
    finally:
        if service.poll() is None:
            service.kill()


def test_kill_9_ends_only_that_service(tmp_path: Path) -> None:
    env = {**generate_secrets(), "SIPAS_NATS_URL": f"nats://127.0.0.1:{free_port()}"}
    first = launch("scoring", env=env, log_file=tmp_path / "scoring.log")
    second = launch("alerts", env=env, log_file=tmp_path / "alerts.log")
    try:
        assert all(
            wait_until(
                lambda s=s, n=n: _starting(tmp_path / f"{n}.log", s), timeout=60, interval=0.1
            )
            for n, s in (("scoring", first), ("alerts", second))
        )
        first.kill()
        assert first.wait(timeout=10) == -signal.SIGKILL
        assert second.poll() is None
    finally:
        for service in (first, second):
            if service.poll() is None:
                service.kill()
                service.wait(timeout=10)
