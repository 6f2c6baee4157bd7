"""`sipas <service> ...` loads that service's commands only; help and unknown commands all."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from importlib.metadata import entry_points
from sipas_runtime import cli
seen = {"plugins": sorted(ep.name for ep in entry_points(group="sipas.cli"))}
for argv in (["sipas", "dlq", "list"], ["sipas", "sampling", "verify"], ["sipas", "--help"]):
    before = {g.name for g in cli.app.registered_groups}
    cli._install_plugins(argv)
    added = sorted({g.name for g in cli.app.registered_groups} - before)
    seen[argv[1]] = {"added": added, "alerts_imported": "sipas_alerts" in sys.modules}
print(json.dumps(seen))
"""


def test_only_the_service_asked_for_is_loaded_and_help_lists_every_service():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )

    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["dlq"] == {"added": [], "alerts_imported": False}  # a core command: none
    assert seen["sampling"] == {"added": ["sampling"], "alerts_imported": False}
    assert {"alerts", "console", "intake", "sampling", "scoring"} <= set(seen["plugins"])
    assert seen["--help"]["added"] == [p for p in seen["plugins"] if p != "sampling"]  # the rest
