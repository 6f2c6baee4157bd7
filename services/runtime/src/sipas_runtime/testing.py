"""Helpers for tests: watching an asynchronous system settle, minting identities."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Self

import httpx
import nats
from nats.aio.client import Client
from nats.js.kv import KeyValue
from pymongo import AsyncMongoClient
from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

from sipas_runtime.identity.bucket import (
    create_key,
    ensure_bucket,
    publish_signing_key,
    retire_signing_key,
    revoke_key,
)
from sipas_runtime.identity.keys import key_id_of
from sipas_runtime.identity.principal import Principal
from sipas_runtime.identity.tokens import TOKEN_TTL, SigningKey, issue
from sipas_runtime.memory import MemoryConsumer
from sipas_runtime.mongo import Document, in_transaction
from sipas_runtime.service import ServiceRuntime
from sipas_runtime.stopping import cancel_all
from sipas_runtime.writes import Writes

SERVICE_UNAVAILABLE = 503


async def eventually(
    check: Callable[[], Any | Awaitable[Any]], seconds: float = 15.0, interval: float = 0.05
) -> Any:  # noqa: ANN401 - whatever the check returns
    """Call ``check`` (sync or async) until it returns something truthy; return that value.

    An exception (including a failed ``assert`` inside ``check``) counts as "not yet"; after
    ``seconds`` the last one is raised, or an ``AssertionError`` naming the last falsy value.
    """
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(seconds), wait=wait_fixed(interval), reraise=True
    ):
        with attempt:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            assert result, f"still {result!r} after {seconds} s"
            return result
    raise AssertionError("unreachable: tenacity re-raises the last failure")


async def post_dossier(
    http: httpx.AsyncClient,
    url: str,
    record: dict[str, Any],
    headers: dict[str, str],
    seconds: float = 30.0,
) -> httpx.Response:
    """POST a dossier to intake's webhook as a TTHC system does: a 503 is retried.

    Intake answers 503 (nothing accepted, ``Retry-After``) when JetStream does not store
    the record in time, which a loaded machine can cause right after start.
    """
    deadline = time.monotonic() + seconds
    while True:
        answer = await http.post(url, json=record, headers=headers)
        if answer.status_code != SERVICE_UNAVAILABLE or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(1)


SESSION_SIGNING = SigningKey.generate(kid="test-session-" + secrets.token_hex(6))
"""A signing key for the whole test process: tokens made with :func:`bearer` at import time
verify wherever :func:`trust_session_tokens` has published it."""


def bearer(
    *roles: str,
    units: Iterable[str] = ("ht",),
    subject: str | None = None,
    name: str = "Người thử",
    ttl: timedelta = timedelta(hours=12),
) -> dict[str, str]:
    """``Authorization`` header with a long-lived session token (for module constants)."""
    token = person_token(SESSION_SIGNING, *roles, units=units, subject=subject, name=name, ttl=ttl)
    return {"Authorization": f"Bearer {token}"}


async def trust_session_tokens(nc: Client) -> None:
    """Publish the session's signing key to the identity bucket of ``nc``'s server."""
    kv = await ensure_bucket(nc.jetstream())
    await publish_signing_key(kv, SESSION_SIGNING.kid, SESSION_SIGNING.public_jwk())


def person_token(
    signing: SigningKey,
    *roles: str,
    units: Iterable[str] = ("ht",),
    subject: str | None = None,
    name: str = "Người thử",
    ttl: timedelta = TOKEN_TTL,
    now: datetime | None = None,
) -> str:
    """A token as the console would issue it for a person with ``roles`` and ``units``."""
    person = Principal(
        subject=subject or "test-" + "-".join(roles or ("nobody",)),
        name=name,
        kind="person",
        roles=frozenset(roles),
        units=frozenset(units),
    )
    return issue(person, signing, now=now or datetime.now(UTC), ttl=ttl)


class Identities:
    """Tokens and machine keys for tests, minted into a real identity bucket.

    It publishes a signing key of its own (as the console publishes its keys), so services
    watching the bucket accept its tokens; keys are made and revoked as ``sipas keys``
    does. ``await Identities.open(nats_url)`` connects on its own, ``Identities.on(nc)``
    uses a connection the test has; ``close()`` (or ``async with``) withdraws the key.
    """

    def __init__(self, kv: KeyValue, signing: SigningKey, *, own: Client | None = None) -> None:
        self.kv = kv
        self.signing = signing
        self._own = own

    @classmethod
    async def open(cls, nats_url: str, signing: SigningKey | None = None) -> Identities:
        """Connect, make sure the bucket exists, publish the signing key."""
        nc = await nats.connect(nats_url)
        return await cls._publish(nc, signing, own=nc)

    @classmethod
    async def on(cls, nc: Client, signing: SigningKey | None = None) -> Identities:
        """As :meth:`open`, on the test's own connection."""
        return await cls._publish(nc, signing, own=None)

    @classmethod
    async def _publish(
        cls, nc: Client, signing: SigningKey | None, *, own: Client | None
    ) -> Identities:
        kv = await ensure_bucket(nc.jetstream())
        signing = signing or SigningKey.generate(kid="test-" + secrets.token_hex(6))
        await publish_signing_key(kv, signing.kid, signing.public_jwk())
        return cls(kv, signing, own=own)

    async def close(self) -> None:
        """Withdraw the signing key and disconnect (when connected on its own)."""
        with contextlib.suppress(Exception):
            await retire_signing_key(self.kv, self.signing.kid)
        if self._own is not None:
            await self._own.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def token(
        self,
        *roles: str,
        units: Iterable[str] = ("ht",),
        subject: str | None = None,
        name: str = "Người thử",
        ttl: timedelta = TOKEN_TTL,
        now: datetime | None = None,
    ) -> str:
        """A token for a person with ``roles`` and ``units`` (see :func:`person_token`)."""
        return person_token(
            self.signing, *roles, units=units, subject=subject, name=name, ttl=ttl, now=now
        )

    def headers(
        self,
        *roles: str,
        units: Iterable[str] = ("ht",),
        subject: str | None = None,
        name: str = "Người thử",
    ) -> dict[str, str]:
        """``Authorization`` header with a fresh token for ``roles``."""
        token = self.token(*roles, units=units, subject=subject, name=name)
        return {"Authorization": f"Bearer {token}"}

    async def key(self, *roles: str, units: Iterable[str] = (), name: str = "test key") -> str:
        """A machine key with ``roles``, published (valid once services have seen it)."""
        key, _record = await create_key(
            self.kv, name=name, roles=roles, units=units, created_by="tests"
        )
        return key

    async def revoke(self, key: str) -> None:
        """Revoke a machine key made with :meth:`key`."""
        await revoke_key(self.kv, key_id_of(key), by="tests")


async def kill_when_inside(script: str, *args: str) -> None:
    """Run a Python ``script`` until it prints ``inside``, then ``kill -9`` it there.

    How a test leaves what a process killed mid-work leaves (an open transaction, a held
    lease) without timing the kill.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, *args, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    line = await process.stdout.readline()
    process.kill()
    await process.wait()
    assert line == b"inside\n", f"the script ended before it was inside: {line!r}"


async def stop_as_if_killed(runtime: ServiceRuntime) -> None:
    """Stop a service's pull loops and jobs the way kill -9 would; forget what it held.

    Nothing more is acked, checkpointed or handed over (no unpin): another instance takes
    a pinned durable only once the server's owner timeout has passed.
    """
    for loop in runtime._running_loops:  # noqa: SLF001 - a test reaching into the runtime
        loop._on_pin_lost = None  # noqa: SLF001 - a dead process notices nothing
        await loop.stop()
    runtime._running_loops.clear()  # noqa: SLF001
    for consumer in runtime._consumers:  # noqa: SLF001
        if isinstance(consumer, MemoryConsumer):
            await consumer.killed()  # its memory is gone with it
    await cancel_all(list(runtime._tasks))  # noqa: SLF001 - its periodic jobs (heartbeats) too


async def written(
    client: AsyncMongoClient[Document], database: str, add: Callable[[Writes], object]
) -> None:
    """Send what ``add`` puts in a batch's writes, in one transaction, as a consumer does."""
    writes = Writes(database)
    add(writes)
    await in_transaction(client, lambda session: writes.flush(client, session))
