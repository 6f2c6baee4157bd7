"""A real Prometheus scrapes the four services during a simulated run.

Every query of every provisioned dashboard must return data, and every alert rule must read
series that exist (each vector selector in its expression returns data; the full
expression must evaluate without error: a threshold alert is *supposed* to be empty while
nothing is wrong). The run exercises the whole funnel, a dead letter, cases that are
acknowledged and resolved, and cases that miss a (deliberately tiny) SLA and escalate.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from nats.aio.client import Client
from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.processes import free_port, spawn, stop
from sipas_runtime.testing import post_dossier

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.nats, pytest.mark.mongo]
ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = ["ht-nx-co-dam", "ht-nx-xuan-hoi", "ht-nx-tien-dien"]
SELECTOR = re.compile(r"\b((?:sipas|process)_[a-z_]+|up)\b(\{[^}]*\})?")
POLICY = {
    # Every hour of every day is working time, and deadlines are a few seconds away, so that
    # breaches and escalations happen during the test.
    "calendar": {
        "timezone": "Asia/Ho_Chi_Minh",
        "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "hours": [{"start": "00:00", "end": "23:59:59"}],
    },
    "sla": {"acknowledge_days": 0.0001, "resolve_days": 0.0002},
}


class Hook(BaseHTTPRequestHandler):
    received = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received += 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


def dashboard_queries() -> list[tuple[str, str]]:
    queries = []
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                expr = target["expr"].replace("$unit", ".*").replace("$campaign", ".*")
                queries.append((f"{path.stem}: {panel['title']}", expr))
    return queries


def rule_expressions() -> list[tuple[str, str]]:
    rules = []
    for path in sorted((DEPLOY / "prometheus" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules += [(rule["alert"], rule["expr"]) for rule in group["rules"] if "alert" in rule]
    return rules


def start_prometheus(workdir: Path, targets: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    executable = shutil.which("prometheus")
    assert executable, "prometheus not installed: make test installs the Debian package"
    shutil.copytree(DEPLOY / "prometheus" / "rules", workdir / "rules")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules/*.yml"],
        "scrape_configs": [
            {
                "job_name": name,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [hostport]}],
            }
            for name, hostport in targets.items()
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = spawn(
        [
            executable,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        log_file=workdir / "prometheus.log",
    )
    return process, f"http://127.0.0.1:{port}"


async def drive(stack: Any, nc: Client, http: httpx.AsyncClient, key: str) -> None:
    """Dossiers through both entry points, one poison record, answers incl. ratings of 1."""
    now = datetime.now(UTC)
    feed = {"Authorization": f"Bearer {stack.dev_keys['tthc']}"}
    for i in range(30):
        record = {
            "dossier_id": f"000.00.00.H42-261120-{i:04d}",
            "unit": UNITS[i % len(UNITS)],
            "procedure_code": "1.001193",
            "applicant_kind": "organisation" if i % 4 == 0 else "individual",
            "applicant_id": f"{i:012d}",
            "submission_channel": "direct",
            "received_at": (now - timedelta(days=2)).isoformat(),
            "delivered_at": (now - timedelta(minutes=3)).isoformat(),
            "contact": {"phone": f"09{i:08d}"},
        }
        if i % 2:
            await nc.jetstream().publish("sipas.raw.dossier.e2e", json.dumps(record).encode())
        else:
            answer = await post_dossier(http, f"{stack.url('intake')}/v1/dossiers", record, feed)
            assert answer.status_code == 202, answer.text
    await nc.jetstream().publish("sipas.raw.dossier.e2e", b"{not json")  # a dead letter
    outbox: list[dict[str, Any]] = []
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(60), wait=wait_fixed(0.3), reraise=True
    ):
        with attempt:
            outbox = (
                await http.get(f"{stack.url('sampling')}/dev/outbox", params={"limit": 1000})
            ).json()
            assert len(outbox) == 30
    for n, message in enumerate(outbox):
        token = message["link"].rsplit("/", 1)[-1]
        level = 1 if n % 5 == 0 else 5
        items = ("HL.DV.E1.1", "HL.DV.E2.1", "HL.DV.E3.1", "HL.DV.E4.1", "HL.DV.E5.1")
        answers = dict.fromkeys(items, level)
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(30), wait=wait_fixed(0.2), reraise=True
        ):
            with attempt:
                answer = await http.post(
                    f"{stack.url('intake')}/v1/responses", json={"token": token, "answers": answers}
                )
                assert answer.status_code == 201, answer.text
    await work_one_case(stack, http, key)


async def work_one_case(stack: Any, http: httpx.AsyncClient, key: str) -> None:
    """A supervisor acknowledges, starts and resolves a case (time-to-* histograms)."""
    headers = {"Authorization": f"Bearer {key}"}
    cases: list[dict[str, Any]] = []
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(60), wait=wait_fixed(0.3), reraise=True
    ):
        with attempt:
            body = (await http.get(f"{stack.url('alerts')}/v1/cases", headers=headers)).json()
            cases = body["items"] if isinstance(body, dict) else body
            assert cases
    case_id = cases[0]["case_id"] if "case_id" in cases[0] else cases[0]["id"]
    for action, note in (
        ("acknowledge", None),
        ("start", None),
        ("resolve", "Đã liên hệ và khắc phục."),
    ):
        payload = {"action": action, **({"note": note} if note else {})}
        answer = await http.post(
            f"{stack.url('alerts')}/v1/cases/{case_id}/transitions", json=payload, headers=headers
        )
        assert answer.status_code == 200, answer.text


async def query(http: httpx.AsyncClient, prometheus: str, expr: str) -> list[Any]:
    answer = (await http.get(f"{prometheus}/api/v1/query", params={"query": expr})).json()
    assert answer["status"] == "success", (expr, answer)
    return list(answer["data"]["result"])


async def test_every_dashboard_query_and_alert_rule_reads_real_series(stack_factory, nc, tmp_path):
    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    policy = {
        **POLICY,
        "routing": {
            "default": [
                {"channel": "webhook", "address": f"http://127.0.0.1:{hook.server_address[1]}/hook"}
            ]
        },
    }
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy, allow_unicode=True))
    stack = stack_factory(
        {
            "SIPAS_SAMPLING_DEV_OUTBOX": "true",
            "SIPAS_SAMPLING_SAMPLING_RATE": "1.0",
            "SIPAS_SCORING_N_MIN": "1",
            "SIPAS_SCORING_N_MIN_UNIT": "1",
            "SIPAS_ALERTS_POLICY_FILE": str(tmp_path / "policy.yaml"),
            "SIPAS_ALERTS_WEBHOOK_SECRET": base64.b64encode(b"w" * 32).decode(),
            "SIPAS_ALERTS_SLA_INTERVAL": "1",
            "SIPAS_INTAKE_SUBMIT_RATE": "100000/minute",  # thirty respondents, one address
        }
    )
    key = stack.dev_keys["supervisor"]
    prometheus, url = start_prometheus(
        tmp_path / "prometheus",
        {name: stack.url(name).removeprefix("http://") for name in stack.services},
    )
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            await drive(stack, nc, http, key)
            missing: list[tuple[str, str]] = []
            async for attempt in AsyncRetrying(
                stop=stop_after_delay(90), wait=wait_fixed(2), reraise=True
            ):
                with attempt:  # until the SLA sweeps have escalated and a few scrapes happened
                    missing = [
                        (title, expr)
                        for title, expr in dashboard_queries()
                        if not await query(http, url, expr)
                    ]
                    assert not missing, f"dashboard queries without data: {missing}"
            by_unit = next(e for t, e in dashboard_queries() if t.endswith("/ SIPAS by unit"))
            named = {r["metric"].get("name") for r in await query(http, url, by_unit)}
            hierarchy = load_sample_hierarchy()
            assert {hierarchy.get(u).name_vi for u in UNITS} <= named  # every leaf, by name
            for alert, expr in rule_expressions():
                await query(http, url, expr)  # evaluates
                for name, labels in SELECTOR.findall(expr):
                    assert await query(http, url, f"{name}{labels}"), (
                        f"{alert}: no series for {name}{labels}"
                    )
        assert Hook.received > 0
    finally:
        hook.shutdown()
        stop(prometheus)
