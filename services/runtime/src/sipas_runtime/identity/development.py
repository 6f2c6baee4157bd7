"""Keys of the development stack: what ``sipas up``, ``sipas demo`` and e2e tests need.

In development the stack makes, once per work directory, the machine keys its own tools
use (the demo's simulated TTHC system, a supervisor key for scripts and tests, the
Alertmanager hook, an operator and an enumerator for the demo's field work) and keeps them
in ``<workdir>/dev-keys.json`` (mode 0600, never for production); and the password of the
console's ``dev-supervisor`` account, in ``<workdir>/dev-supervisor.txt`` (user name, then
password). The keys' records go to the identity bucket like any key ``sipas keys create``
makes; if the bucket was emptied (a fresh NATS store), they are published again.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nats
from nats.js.kv import KeyValue

from sipas_runtime.identity.bucket import ensure_bucket, put_record, read_record
from sipas_runtime.identity.keys import KeyRecord, new_key
from sipas_runtime.nats_access import inbox_prefix

DEV_KEYS = {
    "tthc": ("Hệ thống một cửa (mô phỏng)", ("tthc-feed",)),
    "supervisor": ("Sở Nội vụ (phát triển)", ("supervisor",)),
    "alertmanager": ("Alertmanager (phát triển)", ("alertmanager",)),
    "operator": ("Cán bộ vận hành (phát triển)", ("operator",)),
    "enumerator": ("Điều tra viên (phát triển)", ("enumerator",)),
}
PROVINCE = "ht"


@dataclass(frozen=True)
class DevKey:
    """A development key and its record."""

    key: str
    record: KeyRecord


def dev_keys(
    workdir: Path, nats_url: str, *, user: str | None = None, password: str | None = None
) -> dict[str, str]:
    """The development keys by use (made on first call), published to the bucket.

    ``user``/``password``: a NATS user that may write the bucket (the admin user when the
    server has per-service users).
    """
    path = workdir / "dev-keys.json"
    known = _read(path) if path.is_file() else {}
    keys = {**_make(set(DEV_KEYS) - set(known)), **known}
    if keys != known:  # a new work directory, or uses added since it was made
        workdir.mkdir(parents=True, exist_ok=True)
        document = {
            n: {"key": k.key, "record": k.record.model_dump(mode="json")} for n, k in keys.items()
        }
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2))
        path.chmod(0o600)
    with ThreadPoolExecutor(max_workers=1) as pool:  # callers may be inside an event loop
        pool.submit(lambda: asyncio.run(_publish(nats_url, keys, user, password))).result()
    return {name: k.key for name, k in keys.items()}


def dev_supervisor_password(workdir: Path) -> str:
    """The password of the console's ``dev-supervisor`` account (made on first call)."""
    path = workdir / "dev-supervisor.txt"
    if not path.is_file():
        workdir.mkdir(parents=True, exist_ok=True)
        path.write_text(f"dev-supervisor\n{secrets.token_urlsafe(18)}\n")
        path.chmod(0o600)
    return path.read_text().splitlines()[1]


def _make(uses: set[str]) -> dict[str, DevKey]:
    now = datetime.now(UTC)
    made = {}
    for use, (name, roles) in DEV_KEYS.items():
        if use not in uses:
            continue
        key, record = new_key(
            name=name, roles=roles, units=[PROVINCE], created_by="sipas (development)", now=now
        )
        made[use] = DevKey(key, record)
    return made


def _read(path: Path) -> dict[str, DevKey]:
    document = json.loads(path.read_text())
    return {
        use: DevKey(entry["key"], KeyRecord.model_validate(entry["record"]))
        for use, entry in document.items()
    }


async def _publish(
    nats_url: str, keys: dict[str, DevKey], user: str | None, password: str | None
) -> None:
    nc = await nats.connect(
        nats_url.split(","),
        user=user,
        password=password,
        inbox_prefix=inbox_prefix("admin") if user else "_INBOX",
        connect_timeout=5,
        max_reconnect_attempts=3,
    )
    try:
        kv: KeyValue = await ensure_bucket(nc.jetstream())
        for dev in keys.values():
            if await read_record(kv, dev.record.id) is None:
                await put_record(kv, dev.record)
    finally:
        await nc.close()
