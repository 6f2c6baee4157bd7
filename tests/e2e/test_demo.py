"""`sipas demo` runs the whole system, ends on its own and leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def sipas_processes(workdir: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if str(workdir).encode() in environ or str(workdir) in cmdline:
            found.append(cmdline)
    return found


def run_demo(workdir: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    return subprocess.Popen(
        [sys.executable, "-m", "sipas_runtime.cli", "demo", "--workdir", str(workdir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**env, "COLUMNS": "160"},
    )


def test_demo_with_a_duration_exits_zero_with_a_summary(tmp_path):
    demo = run_demo(tmp_path, "--duration", "8", "--rate", "20")

    output, _ = demo.communicate(timeout=110)

    assert demo.returncode == 0, output
    assert "Tổng / Total" in output
    assert "/metrics" in output
    assert "Xã Cổ Đạm" in output
    assert sipas_processes(tmp_path) == []


def test_demo_stops_cleanly_on_ctrl_c(tmp_path):
    demo = run_demo(tmp_path, "--duration", "0")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (tmp_path / "logs" / "alerts.log").exists():
        time.sleep(0.2)
    time.sleep(3)

    demo.send_signal(signal.SIGINT)
    output, _ = demo.communicate(timeout=60)

    assert demo.returncode == 0, output
    assert sipas_processes(tmp_path) == []
