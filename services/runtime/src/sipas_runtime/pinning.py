"""Exclusive durables: one instance at a time pulls them (JetStream pinned client, ADR-42).

A consumer that keeps its state in memory (``sipas_runtime.memory``) must see *every*
message of its durable, so two instances must never share one. Its durable is created
with a priority group and the ``pinned_client`` policy: the server delivers to one
client (the *pinned* one, told by the ``Nats-Pin-Id`` header of its first message), lets
the others' pull requests wait, and pins another one when the pinned client has not
pulled for ``unpinned_after`` seconds (it died, or it hangs). A client whose pull names an old
pin gets status 423 and knows it lost the durable. The server is explicit that this is
not a guarantee of exclusivity at every instant (a client may still believe it is pinned
after the switch), so whatever a pinned owner writes is fenced as well
(``sipas_runtime.checkpoints``).

nats-py has no field for priority groups, so the durable is created with the JetStream
API request itself. A durable cannot gain or lose a priority policy once created: one
made without it (an earlier version) is deleted and made again, starting at the first
sequence its owner has not checkpointed (the owner replays from its checkpoint anyway).
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api

from sipas_contracts.streams import ConsumerSpec

log = structlog.get_logger(__name__)
GROUP = "owner"
PIN_HEADER = "Nats-Pin-Id"
PIN_LOST = "423"
_NANOS = 1_000_000_000
_API = "$JS.API.CONSUMER"


class ConsumerSetupError(RuntimeError):
    """Raised when the server refuses to create a pinned durable (with its reason)."""


def pin_of(msg: Msg) -> str | None:
    """The pin id a delivered message carries (None without priority groups)."""
    return (msg.headers or {}).get(PIN_HEADER) or None


def pinned_config(
    config: api.ConsumerConfig, *, unpinned_after: float, start_seq: int
) -> dict[str, Any]:
    """``config`` as the API's JSON, with the pinned group, starting at ``start_seq``."""
    body = config.as_dict()
    body.update(
        deliver_policy="by_start_sequence",
        opt_start_seq=max(1, start_seq),
        priority_groups=[GROUP],
        priority_policy="pinned_client",
        priority_timeout=int(unpinned_after * _NANOS),
    )
    return body


async def _request(nc: Client, subject: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    reply = await nc.request(subject, json.dumps(body or {}).encode(), timeout=10)
    answer: dict[str, Any] = json.loads(reply.data or b"{}")
    return answer


async def ensure_pinned(
    nc: Client,
    spec: ConsumerSpec,
    config: api.ConsumerConfig,
    *,
    unpinned_after: float,
    start_seq: int,
) -> None:
    """Create ``spec``'s durable as a pinned one (kept as it is if it already is one)."""
    where = f"{spec.stream}.{spec.durable}"
    info = await _request(nc, f"{_API}.INFO.{where}")
    existing = info.get("config")
    if existing is not None and existing.get("priority_policy") == "pinned_client":
        return
    if existing is not None:
        log.warning("durable_recreated_pinned", consumer=spec.durable, start_seq=start_seq)
        await _request(nc, f"{_API}.DELETE.{where}")
    body = pinned_config(config, unpinned_after=unpinned_after, start_seq=start_seq)
    answer = await _request(
        nc, f"{_API}.CREATE.{where}", {"stream_name": spec.stream, "config": body}
    )
    error = answer.get("error")
    if error and error.get("err_code") != 10148:  # noqa: PLR2004 - created meanwhile by another
        msg = f"cannot create pinned durable {spec.durable}: {error.get('description')}"
        raise ConsumerSetupError(msg)


async def pinned(nc: Client, spec: ConsumerSpec) -> bool:
    """Whether a client holds ``spec``'s pin now (False once the holder's timeout passed).

    True when the server cannot tell (no such durable yet). The server pins a client only
    when it has a message for it: after the owner died with nothing more to deliver, the
    durable stays unpinned (``MemoryConsumer`` adopts it).
    """
    info = await _request(nc, f"{_API}.INFO.{spec.stream}.{spec.durable}")
    groups = info.get("priority_groups") or []
    return info.get("error") is not None or any(g.get("pinned_client_id") for g in groups)


async def unpin(nc: Client, spec: ConsumerSpec) -> None:
    """Let the server pin another instance now (this one stops owning the durable)."""
    await _request(nc, f"{_API}.UNPIN.{spec.stream}.{spec.durable}", {"group": GROUP})
