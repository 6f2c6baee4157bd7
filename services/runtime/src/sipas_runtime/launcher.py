"""Service processes forked from one that has already imported every service.

Importing a service (FastAPI, Pydantic, PyMongo, FastStream, nats, structlog...) costs about
6 s of CPU on the 2-core reference machine, the same for each of the five, every time one
starts: a stack of five paid ~30 s of CPU before any service did anything, and the test suite
starts stacks some twenty times. The stack therefore starts services as gunicorn's
``--preload`` does, through multiprocessing's fork server: one server process imports every
service's ``__main__`` once (on first use) and forks each service from there, which then only
builds its app and connects.

Each service is still its own process: its own PID, environment, log file and exit code;
``kill -9`` crashes only it. It dies with the fork server (``PR_SET_PDEATHSIG``), which exits
when the process that started it exits: no orphans. Its name (``comm``, what ``top`` and
``ps -o comm`` show) is ``sipas-<service>``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import importlib
import multiprocessing
import os
import subprocess
import sys
from multiprocessing import forkserver
from multiprocessing.context import ForkServerContext, ForkServerProcess
from pathlib import Path

_PR_SET_NAME = 15
SERVICES = ("intake", "sampling", "scoring", "alerts", "console")
"""Every service SIPAS runs; the fork server preloads all of them."""


def main_module(service: str) -> str:
    """The module ``python -m sipas_<service>`` runs."""
    return f"sipas_{service}.__main__"


@functools.cache
def _context() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([main_module(name) for name in SERVICES])
    return context


class Launched:
    """A forked service, with the part of ``subprocess.Popen``'s interface the stack uses."""

    def __init__(self, process: ForkServerProcess, service: str) -> None:
        self._process = process
        self.args = [service]

    @property
    def pid(self) -> int:
        """The service's process id."""
        return int(self._process.pid or 0)

    @property
    def returncode(self) -> int | None:
        """Its exit code (negative: the signal that ended it), None while it runs."""
        return self._process.exitcode

    def poll(self) -> int | None:
        """The exit code if it has exited, else None."""
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for it to exit; ``subprocess.TimeoutExpired`` after ``timeout`` seconds."""
        self._process.join(timeout)
        code = self._process.exitcode
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return code

    def terminate(self) -> None:
        """SIGTERM: the service stops gracefully."""
        self._process.terminate()

    def kill(self) -> None:
        """SIGKILL."""
        self._process.kill()


def launch(service: str, *, env: dict[str, str], log_file: Path) -> Launched:
    """Fork ``service`` with this process's environment plus ``env``, logging to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, **env}
    process = _context().Process(
        target=_serve, args=(service, environment, str(log_file)), name=f"sipas-{service}",
        daemon=True,
    )  # fmt: skip
    process.start()
    return Launched(process, service)


def _let_the_server_exit() -> None:  # pragma: no cover - runs in the child
    """Close this child's copy of the fork server's "alive" pipe.

    multiprocessing hands each child the pipe whose end-of-file tells the fork server that its
    starter has gone, so that children could start processes of their own. A service starts
    none, and holding it would keep the server, and so the service (which dies with the
    server), alive after the starter's ``kill -9``: orphans.
    """
    server = forkserver._forkserver  # noqa: SLF001 - the stdlib keeps no public handle on it
    alive = getattr(server, "_forkserver_alive_fd", None)
    if alive is not None:
        os.close(alive)
        setattr(server, "_forkserver_alive_fd", None)  # noqa: B010


def _serve(service: str, env: dict[str, str], log_file: str) -> None:  # pragma: no cover - child
    """In the forked child: die with the server, log to the file, take the env, run main."""
    from sipas_runtime.processes import die_with_parent  # noqa: PLC0415 - child only

    die_with_parent()
    _let_the_server_exit()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_NAME, f"sipas-{service}".encode()[:15])
    output = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True, write_through=True)  # type: ignore[union-attr]
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [f"sipas_{service}"]
    importlib.import_module(main_module(service)).main()
