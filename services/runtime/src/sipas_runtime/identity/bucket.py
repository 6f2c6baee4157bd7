"""The identity bucket on JetStream: where the console publishes keys and services read them.

``IdentityWatch`` keeps a :class:`Directory` current from a watch on the bucket (an
ordered consumer: updates arrive within milliseconds). Every ``CHECK_SECONDS`` it compares
the bucket's last revision with the one it applied and starts a fresh watch when it has
fallen behind (a broken watch must not leave a revoked key working). The console writes
with :func:`put_record`, :func:`publish_signing_key` and :func:`retire_signing_key`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from nats.js import JetStreamContext, api
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from sipas_runtime.identity.directory import KEY, SIGNING, Directory
from sipas_runtime.identity.keys import DEFAULT_LIFETIME, KeyRecord, new_key, record_for
from sipas_runtime.stopping import cancel_all

BUCKET = "SIPAS_IDENTITY"
STREAM = f"KV_{BUCKET}"
HISTORY = 16  # a key record's changes stay readable (created, revoked) for audit
CHECK_SECONDS = 2.0
log = structlog.get_logger(__name__)


async def ensure_bucket(js: JetStreamContext, *, replicas: int = 1) -> KeyValue:
    """The bucket, created when missing (by the console, the admin or a dev service)."""
    try:
        return await js.key_value(BUCKET)
    except (BucketNotFoundError, NotFoundError):
        config = api.KeyValueConfig(
            bucket=BUCKET,
            description="SIPAS identity: public signing keys and machine key records",
            history=HISTORY,
            storage=api.StorageType.FILE,
            replicas=replicas,
        )
        return await js.create_key_value(config)


async def open_bucket(js: JetStreamContext, *, create: bool, replicas: int = 1) -> KeyValue:
    """The bucket; created when ``create``, else waited for (its owner creates it)."""
    if create:
        return await ensure_bucket(js, replicas=replicas)
    while True:
        try:
            return await js.key_value(BUCKET)
        except (BucketNotFoundError, NotFoundError):
            log.info(
                "identity_bucket_missing", hint="created by the console or sipas nats provision"
            )
            await asyncio.sleep(1.0)


async def put_record(kv: KeyValue, record: KeyRecord) -> int:
    """Store a key record; its revision."""
    return int(await kv.put(f"{KEY}{record.id}", record.model_dump_json().encode()))


async def create_key(
    kv: KeyValue,
    *,
    name: str,
    roles: Iterable[str],
    units: Iterable[str] = (),
    created_by: str,
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> tuple[str, KeyRecord]:
    """Make a machine key and publish its record; the key (to show once) and the record."""
    key, record = new_key(
        name=name,
        roles=roles,
        units=units,
        created_by=created_by,
        now=datetime.now(UTC),
        lifetime=lifetime,
    )
    await put_record(kv, record)
    return key, record


async def register_key(
    kv: KeyValue, key: str, *, name: str, roles: Iterable[str], created_by: str
) -> KeyRecord:
    """Publish the record of a key a deployment generated (kept when already registered)."""
    record = record_for(key, name=name, roles=roles, created_by=created_by, now=datetime.now(UTC))
    known = await read_record(kv, record.id)
    if known is not None and known.sha256 == record.sha256:
        return known
    await put_record(kv, record)
    return record


async def revoke_key(kv: KeyValue, key_id: str, *, by: str) -> KeyRecord | None:
    """Mark a key revoked (kept, for the record); None when there is no such key."""
    record = await read_record(kv, key_id)
    if record is None:
        return None
    revoked = record.revoked(by=by, now=datetime.now(UTC))
    await put_record(kv, revoked)
    return revoked


async def publish_signing_key(kv: KeyValue, kid: str, public_jwk: Mapping[str, Any]) -> int:
    """Let services verify tokens signed with ``kid``."""
    return int(await kv.put(f"{SIGNING}{kid}", json.dumps(dict(public_jwk)).encode()))


async def retire_signing_key(kv: KeyValue, kid: str) -> None:
    """Stop accepting tokens signed with ``kid``."""
    await kv.delete(f"{SIGNING}{kid}")


async def list_records(kv: KeyValue) -> list[KeyRecord]:
    """Every key record as stored now (revoked and expired ones too), oldest first."""
    records = []
    watcher = await kv.watch(f"{KEY}>")
    async for entry in watcher:
        if entry is None:  # the end of what is stored
            break
        if entry.value and entry.operation is None:
            records.append(KeyRecord.model_validate_json(entry.value))
    await watcher.stop()  # type: ignore[no-untyped-call]
    return sorted(records, key=lambda r: r.created_at)


async def read_record(kv: KeyValue, key_id: str) -> KeyRecord | None:
    """A key record as stored now (None when there is none)."""
    try:
        entry = await kv.get(f"{KEY}{key_id}")
    except (NotFoundError, KeyError):
        return None
    return KeyRecord.model_validate_json(entry.value) if entry.value else None


class IdentityWatch:
    """Feeds a directory from the bucket while the service runs."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.loaded = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, kv: KeyValue) -> None:
        """Load the bucket's current entries, then follow its updates in the background."""
        self._task = asyncio.create_task(self._run(kv), name="identity-watch")
        waiting = asyncio.create_task(self.loaded.wait())
        await asyncio.wait({self._task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if not self.loaded.is_set():
            waiting.cancel()
            await self._task  # raises what stopped the watch

    async def stop(self) -> None:
        """Stop following the bucket."""
        if self._task is not None:
            await cancel_all([self._task])

    async def _run(self, kv: KeyValue) -> None:
        while True:
            watcher = await kv.watchall()
            try:
                await self._follow(kv, watcher)
            finally:
                with contextlib.suppress(Exception):
                    await watcher.stop()  # type: ignore[no-untyped-call]
            log.warning("identity_watch_restarted", revision=self.directory.revision)

    async def _follow(self, kv: KeyValue, watcher: KeyValue.KeyWatcher) -> None:
        behind = 0
        while True:
            try:
                entry = await watcher.updates(timeout=CHECK_SECONDS)  # type: ignore[no-untyped-call]
            except TimeoutError:
                entry = None
                last = (await kv.status()).stream_info.state.last_seq
                behind = behind + 1 if last > self.directory.revision else 0
                if behind >= 2:  # noqa: PLR2004 - twice in a row: the watch is stuck
                    return
                continue
            if entry is None:  # the end of the initial entries
                self.loaded.set()
                continue
            value = entry.value if entry.operation is None else None
            self.directory.apply(entry.key, value, entry.revision)
