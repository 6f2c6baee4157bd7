"""A service's lifecycle: connect, run its hooks and consumers, then stop in reverse.

:meth:`Lifecycle.start` connects Mongo (ping with retries), connects NATS, creates or
updates the streams, loads the identity directory (kept current from the identity
bucket), runs the startup hooks, then starts the pull loops and the background tasks;
:meth:`Lifecycle.stop` undoes it, letting committed batches settle first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Self

import structlog
from nats.js.kv import KeyValue
from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

from sipas_contracts.streams import DEAD_LETTERS
from sipas_contracts.subjects import dead_letter as dead_letter_subject
from sipas_runtime import sessions
from sipas_runtime.audit import AUDIT, AUDIT_HEAD, AuditLog
from sipas_runtime.connections import NotStartedError
from sipas_runtime.dlq.letters import DEAD, DeadLetters
from sipas_runtime.identity.bucket import STREAM as IDENTITY_STREAM
from sipas_runtime.identity.bucket import IdentityWatch, open_bucket
from sipas_runtime.identity.directory import Directory
from sipas_runtime.mongo import create_mongo_client, ensure_collections
from sipas_runtime.nats_access import SHARED_STREAMS, owned_streams
from sipas_runtime.positions import PROCESSED, WATERMARKS
from sipas_runtime.publishing import EventPublisher
from sipas_runtime.pull import PullLoop
from sipas_runtime.recovery import POSITION_CHECK_SECONDS, STORE_WATCH_SECONDS, Recovery
from sipas_runtime.settings import ServiceSettings
from sipas_runtime.stopping import bounded, cancel_all
from sipas_runtime.streams import ensure_streams
from sipas_runtime.subscriptions import Subscriptions

log = structlog.get_logger(__name__)

PROCESSED_MARKER_TTL_SECONDS = 35 * 24 * 3600
LAG_POLL_SECONDS = 5.0
SETTLE_SECONDS = 10.0  # on stop, for committed batches to be published and acked


class Lifecycle(Subscriptions):
    """Start and stop: the connections, the hooks, the pull loops and periodic jobs."""

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(settings)
        self._startup: list[Callable[[Self], Awaitable[None]]] = []
        self._shutdown: list[Callable[[Self], Awaitable[None]]] = []
        self._periodic: list[tuple[float, Callable[[], Awaitable[None]]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._running_loops: list[PullLoop] = []
        self.recovery = Recovery(self.name, self._consumers, lambda: self.mongo)
        self.directory = Directory()
        self.audit = AuditLog(lambda: self.mongo, settings.database_name, self.name)
        self._identity: IdentityWatch | None = None  # watched once the service serves HTTP
        self.identity_bucket: KeyValue | None = None
        self.sessions: sessions.InstanceSessions | None = None
        """The sessions this process's transactions run in (``sipas_runtime.sessions``)."""
        self.roles: set[str] = set()
        """What this instance does, in its record, for the others to find (set before start)."""
        self.ready = False

    def on_startup(
        self, hook: Callable[[Self], Awaitable[None]]
    ) -> Callable[[Self], Awaitable[None]]:
        """Run ``hook(runtime)`` after Mongo and NATS are connected, before consuming."""
        self._startup.append(hook)
        return hook

    def on_shutdown(
        self, hook: Callable[[Self], Awaitable[None]]
    ) -> Callable[[Self], Awaitable[None]]:
        """Run ``hook(runtime)`` when the service stops."""
        self._shutdown.append(hook)
        return hook

    def every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        """Run ``job`` every ``seconds`` while the service runs (errors are logged)."""
        self._periodic.append((seconds, job))

    async def live(self, role: str, within: float) -> set[str]:
        """The instances of this service with ``role`` alive in the last ``within`` seconds."""
        if self.sessions is None:
            raise NotStartedError("Mongo client is not connected yet")
        return await self.sessions.live(role, within)

    async def start(self: Self) -> None:
        """Connect everything and start consuming (idempotent)."""
        if self.ready:
            return
        await self._connect_mongo()
        await self._connect_nats()
        for hook in self._startup:
            await hook(self)
        await self.recovery.resume(self.js)
        await self.broker.start()
        await self._start_consuming()
        self.ready = True
        log.info("service_started", consumers=[c.spec.durable for c in self._consumers])

    async def stop(self: Self) -> None:
        """Stop consuming, run shutdown hooks, close connections."""
        self.ready = False
        await self.recovery.stop()
        for loop in self._running_loops:
            await loop.stop()
        self._running_loops.clear()
        await self._settle()
        await cancel_all(list(self._tasks))
        if self._identity is not None:
            await bounded("identity", self._identity.stop())
        for hook in reversed(self._shutdown):
            await bounded(getattr(hook, "__name__", "hook"), hook(self))
        await bounded("broker", self.broker.stop())
        if self.sessions is not None:
            await bounded("sessions", self.sessions.stop())
            self.sessions = None
        if self._client is not None:
            await bounded("mongo", self._client.close())
            self._client = None
        log.info("service_stopped")

    async def _connect_mongo(self) -> None:
        client = create_mongo_client(self.settings.mongo_url, app_name=f"sipas-{self.name}")
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(60), wait=wait_fixed(0.5), reraise=True
        ):
            with attempt:
                await client.admin.command("ping")
        self._client = client
        await self.recovery.state_durability()
        await ensure_collections(
            self.db, [PROCESSED, WATERMARKS, DEAD, AUDIT, AUDIT_HEAD, sessions.INSTANCES]
        )
        self.sessions = sessions.InstanceSessions(
            client, self.settings.database_name, self.instance, self.name, self.roles
        )
        await self.sessions.start()
        self._spawn(self._loop(sessions.BEAT_SECONDS, self.sessions.beat))
        await self.db[PROCESSED].create_index("at", expireAfterSeconds=PROCESSED_MARKER_TTL_SECONDS)

    async def _connect_nats(self) -> None:
        await self.broker.connect()
        self._js = js = self.broker.connection.jetstream()
        # With per-service NATS users a service manages only the streams it owns and waits for
        # the others (created by their owner or by `sipas nats provision`).
        # The shared dead-letter and override streams are only created when missing.
        managed = owned_streams(self.name) if self.settings.nats_user else None
        replicas = self.settings.stream_replicas
        await ensure_streams(
            js,
            replicas=replicas,
            manage=managed,
            create=SHARED_STREAMS,
            partitions=self.settings.partitions,
        )
        if self._identity is not None:
            creates = managed is None or IDENTITY_STREAM in managed
            kv = await open_bucket(js, create=creates, replicas=replicas)
            await self._identity.start(kv)
            self.identity_bucket = kv
        self._publisher = EventPublisher(js, self.metrics, nc=self.broker.connection)
        self._dead_letters = DeadLetters(js, self.metrics, lambda: self.db)

    async def _start_consuming(self) -> None:
        for make_loop in self._loops:
            loop = make_loop(self.broker.connection, self.js)
            await loop.start()
            self._running_loops.append(loop)
        if self._consumers:
            self._spawn(self._loop(LAG_POLL_SECONDS, self._poll_lag))
            self._spawn(self._loop(STORE_WATCH_SECONDS, lambda: self.recovery.watch_store(self.js)))
            self._spawn(self._loop(POSITION_CHECK_SECONDS, lambda: self.recovery.resume(self.js)))
            await self.recovery.serve_replays(self.broker.connection, self.js)
        for seconds, job in self._periodic:
            self._spawn(self._loop(seconds, job))

    async def _settle(self) -> None:
        settling = [c.settled() for c in self._consumers]  # committed: publish and ack them
        try:
            await asyncio.wait_for(asyncio.gather(*settling), timeout=SETTLE_SECONDS)
        except TimeoutError:  # left unacked: redelivered, and recognised as replays
            log.warning("batches_not_settled", seconds=SETTLE_SECONDS)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _loop(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic_job_failed", job=getattr(job, "__name__", "job"))

    async def _poll_lag(self) -> None:
        subject = dead_letter_subject(self.name)
        dlq = await self.js.stream_info(DEAD_LETTERS.name, subjects_filter=subject)
        self.metrics.dlq_size.labels(self.name).set((dlq.state.subjects or {}).get(subject, 0))
        for spec in (c.spec for c in self._consumers):
            info = await self.js.consumer_info(spec.stream, spec.durable)
            self.metrics.pending.labels(self.name, spec.durable).set(info.num_pending or 0)
            self.metrics.ack_pending.labels(self.name, spec.durable).set(info.num_ack_pending or 0)
