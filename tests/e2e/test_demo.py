"""`sipas demo` runs the whole system, ends on its own and leaves no process behind.

The default demo is also the end-to-end proof of the shipped seed 002 plan (Nghi Xuân, 17
communes, 15 + 10 forms each): loaded for today, the one-stop export posted to intake, the draw,
the enumerators' 425 interviews, and every commune ranked on its 25 forms with SIPAS and its
interval, the period approved and published.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sipas_runtime.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def sipas_processes(workdir: Path) -> list[str]:
    """Processes started for ``workdir`` that are still there a few seconds after the demo's exit
    (the fork server and its helper notice their starter's exit within milliseconds)."""
    wait_until(lambda: not _started_for(workdir), timeout=10, interval=0.2)
    return _started_for(workdir)


def _started_for(workdir: Path) -> list[str]:
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
        [
            *(sys.executable, "-m", "sipas_runtime.cli", "demo"),
            *("--workdir", str(workdir), "--free-ports", *args),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # services fork from a preloaded server: /proc shows the environment they were forked
        # with, so the work directory is named in it for ``sipas_processes`` to find them
        env={**env, "COLUMNS": "160", "DEMO_TEST_WORKDIR": str(workdir)},
    )


RANKED = re.compile(r"│\s+25 │\s+\d+\.\d\d │\s+\d+\.\d\d–\d+\.\d\d │\s+\d+ │")
TOTAL = re.compile(r"\(tổng / total\).*│\s+\d+ │\s+\d+\.\d\d │\s+\d+\.\d\d–\d+\.\d\d │\s+— │")
SHOWN_WITHOUT_INTERVAL = re.compile(r"│\s+\d+\.\d\d │\s+— │")


@pytest.mark.timeout(400)
def test_the_demo_ranks_communes_with_sipas_and_interval_and_exits_clean(tmp_path):
    # 10 s of today's live flow instead of the default 60: the summary still waits for the
    # replayed period (draw, 425 interviews, publication) to finish, which is what is checked
    demo = run_demo(tmp_path, "--duration", "10")

    output, _ = demo.communicate(timeout=380)

    assert demo.returncode == 0, output
    board = output[output.rindex("SIPAS Live — mô phỏng") :]
    assert len(RANKED.findall(board)) == 17, board  # each commune: 25 forms, SIPAS, interval, rank
    assert TOTAL.search(board), board  # the province total: SIPAS and interval, no rank
    assert not SHOWN_WITHOUT_INTERVAL.search(board), board  # no figure without its interval
    assert not re.search(r"không đủ dữ liệu │\s+\d", board), board  # no interval without it
    assert re.search(r"Bảng điều khiển / console\s+http://127\.0\.0\.1:\d+/", output)
    assert re.search(
        r"Kết quả công khai / public results\s+http://127\.0\.0\.1:\d+/ket-qua", output
    )
    assert re.search(r"dev sign-in\s+dev-supervisor, .* in \S+dev-supervisor\.txt", output)
    assert "đã công bố / published: 425 phiếu" in board  # the replayed period is published
    assert "/metrics" in output
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
