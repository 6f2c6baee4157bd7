"""A JetStream pull loop that never loses a delivered message to a timeout.

Why not ``PullSubscription.fetch`` (used by FastStream's batch subscriber)? nats-py's
``next_msg`` wraps ``queue.get()`` in ``asyncio.wait_for``; on Python 3.11 a message that
arrives as the timeout fires can be taken from the queue and then dropped. With short
fetch timeouts (needed for low latency) we measured 4 of 100 messages stalled for the
full ``ack_wait`` (30 s) until redelivery. Here the inbox subscription has a callback that
puts messages into our own queue, and we wait with ``asyncio.timeout`` around
``Queue.get()``, which leaves the item in the queue when cancelled.

Each round sends one pull request (``batch`` messages, ``expires`` = ``max_wait``), waits
for the first message, then lingers up to ``linger`` seconds to fill the batch (unless the
server reports nothing more pending), and hands the batch to the handler. Messages of a
request that arrive after we stopped waiting stay
in the queue for the next round; status messages (no messages, timeouts, heartbeats) are
dropped.

A consumer off the hot path may be *paced*: a batch starts at most every ``pace``
seconds, so what arrives meanwhile waits for one larger batch. Each batch costs a
transaction whatever its size, so a paced consumer takes its share of the database and
of the event loop in a few large batches instead of many small ones, and leaves them to
the consumers a user is waiting on. A full batch (``batch`` messages) means a backlog: the
next one starts at once, so pacing never caps the consumer below the rate that arrives.

A loop on a *pinned* durable (``sipas_runtime.pinning``) names the priority group in its
requests, keeps the pin id the server gives with the first message it delivers and sends
it back; when the server answers 423 (another instance is pinned now), it forgets the
pin and tells ``on_pin_lost``. While it handles a batch it keeps renewing its pull request
(a long take-over must not look like a dead owner).

A loop may be *inactive* for a while (``active`` answers False: another instance should own
its partition, ``sipas_runtime.partitions``): it sends no pull request, so the server pins
another client, and naks what an earlier request still delivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext, api

from sipas_runtime.stopping import cancel_all

BatchHandler = Callable[[list[Msg]], Awaitable[None]]
log = structlog.get_logger(__name__)
_NANOS = 1_000_000_000
IDLE_SECONDS = 0.1


def _is_status(msg: Msg) -> bool:
    return not msg.data and bool(msg.headers) and "Status" in (msg.headers or {})


def _nothing_pending(msg: Msg) -> bool:
    # The server tells, with each message, how many more are waiting for this consumer:
    # when none are, lingering for a fuller batch only adds latency.
    try:
        return msg.metadata.num_pending == 0
    except (ValueError, AttributeError, IndexError):
        return False


class PullLoop:
    """Feeds batches of one durable pull consumer to a handler, one batch at a time."""

    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        *,
        stream: str,
        config: api.ConsumerConfig,
        handler: BatchHandler,
        batch: int,
        linger: float,
        max_wait: float = 2.0,
        pace: float = 0.0,
        group: str | None = None,
        ensure: Callable[[], Awaitable[None]] | None = None,
        on_pin_lost: Callable[[], None] | None = None,
        active: Callable[[], bool] | None = None,
    ) -> None:
        self._nc = nc
        self._js = js
        self._stream = stream
        self._config = config
        self._handler = handler
        self._batch = batch
        self._linger = linger
        self._max_wait = max_wait
        self._pace = pace
        self._queue: asyncio.Queue[Msg] = asyncio.Queue()
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._requested = 0  # messages still owed by the open pull request
        self._expires_at = 0.0
        self._group = group
        self._ensure = ensure
        self._on_pin_lost = on_pin_lost
        self._active = active
        self.pin: str | None = None
        """The pin id the server gave this loop (a pinned durable), None when not pinned."""

    @property
    def durable(self) -> str:
        """Name of the durable consumer."""
        return str(self._config.durable_name)

    async def start(self) -> None:
        """Create/update the durable consumer, open the inbox, start pulling."""
        if self._ensure is not None:
            await self._ensure()
        else:
            await self._js.add_consumer(self._stream, self._config)
        inbox = self._nc.new_inbox()

        async def on_message(msg: Msg) -> None:
            if _is_status(msg):
                status = (msg.headers or {}).get("Status")
                if status != "100":  # 100 = heartbeat
                    self._requested = 0  # 404/408/409: the request is over
                if status == "423" and self.pin is not None:  # another client is pinned
                    self.pin = None
                    if self._on_pin_lost is not None:
                        self._on_pin_lost()
                return
            pin = (msg.headers or {}).get("Nats-Pin-Id")
            if pin:
                self.pin = pin
            self._requested -= 1
            self._queue.put_nowait(msg)

        self._sub = await self._nc.subscribe(inbox, cb=on_message)
        self._inbox = inbox
        self._task = asyncio.create_task(self._run(), name=f"pull:{self.durable}")

    async def stop(self) -> None:
        """Stop pulling; messages not yet acked will be redelivered to the next instance."""
        if self._task is not None:
            await cancel_all([self._task])
            self._task = None
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _request(self, count: int) -> None:
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{self._stream}.{self.durable}"
        body: dict[str, Any] = {"batch": count, "expires": int(self._max_wait * _NANOS)}
        if self._group is not None:
            body["group"] = self._group
            if self.pin is not None:
                body["id"] = self.pin
        self._requested = count
        self._expires_at = time.monotonic() + self._max_wait
        await self._nc.publish(subject, json.dumps(body).encode(), reply=self._inbox)

    async def _collect(self) -> list[Msg]:
        messages: list[Msg] = []
        # Wait for the first message only while the open request lasts, then re-request.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, self._expires_at - time.monotonic())):
                messages.append(await self._queue.get())
        if not messages:
            return messages
        deadline = time.monotonic() + self._linger
        while len(messages) < self._batch:
            messages.extend(self._drain(self._batch - len(messages)))
            remaining = deadline - time.monotonic()
            if len(messages) >= self._batch or remaining <= 0 or _nothing_pending(messages[-1]):
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    messages.append(await self._queue.get())
        return messages

    async def _idle(self) -> None:
        """Inactive: pull nothing; what an earlier request still brings goes back at once."""
        for msg in self._drain(self._queue.qsize()):
            with contextlib.suppress(Exception):
                await msg.nak()
        await asyncio.sleep(IDLE_SECONDS)

    def _drain(self, room: int) -> list[Msg]:
        """Up to ``room`` messages already in the queue, without waiting."""
        taken: list[Msg] = []
        while len(taken) < room and not self._queue.empty():
            taken.append(self._queue.get_nowait())
        return taken

    async def _handle(self, messages: list[Msg]) -> None:
        """Run the handler; a pinned loop keeps asking meanwhile, so it keeps its pin."""
        if self._group is None:
            await self._handler(messages)
            return
        keeper = asyncio.create_task(self._keep_pin(), name=f"pin:{self.durable}")
        try:
            await self._handler(messages)
        finally:
            await cancel_all([keeper])

    async def _keep_pin(self) -> None:
        """While a long batch is handled (a take-over's replay), renew the pull request.

        The server unpins a client that has sent no pull request for its priority timeout;
        what the renewed request delivers waits in the queue for the next batch.
        """
        while True:
            await asyncio.sleep(max(0.05, self._expires_at - time.monotonic()))
            if self._requested <= 0 or time.monotonic() >= self._expires_at:
                await self._request(self._batch)

    async def _run(self) -> None:
        started = -self._pace
        while True:
            try:
                if self._active is not None and not self._active():
                    await self._idle()
                    continue
                if self._queue.empty() and (
                    self._requested <= 0 or time.monotonic() >= self._expires_at
                ):
                    await self._request(self._batch)
                messages = await self._collect()
                if messages:
                    # Paced: let the batch fill until ``pace`` after the previous one began.
                    await asyncio.sleep(max(0.0, started + self._pace - time.monotonic()))
                    messages.extend(self._drain(self._batch - len(messages)))
                    # A full batch is a backlog: the next one starts at once, or the pace
                    # would cap the consumer at ``batch / pace`` messages/s, below what comes.
                    full = len(messages) >= self._batch
                    started = -self._pace if full else time.monotonic()
                    await self._handle(messages)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pull_loop_error", consumer=self.durable)
                await asyncio.sleep(1.0)
