"""A message of a stream as a consumer sees it: delivered by its durable, or read back.

A consumer applies messages that JetStream *delivers* to its durable consumer (acked,
nacked, redelivered) and, when it resumes or replays a dead letter, messages it *reads
back* from the stream by sequence (``sipas_runtime.resume``): those have nobody to ack.
:class:`StreamMessage` is both, so one code path decodes, de-duplicates and applies them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from nats.aio.msg import Msg


class Message(Protocol):
    """What a decoder may look at: the subject, the headers and the bytes."""

    @property
    def subject(self) -> str:
        """The subject it was published on."""

    @property
    def headers(self) -> dict[str, str] | None:
        """Its headers."""

    @property
    def data(self) -> bytes:
        """Its body."""


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One message of ``stream`` at ``seq``; ``delivered`` is set when JetStream delivered it."""

    stream: str
    seq: int
    subject: str
    data: bytes
    headers: dict[str, str] | None
    deliveries: int = 1
    delivered: Msg | None = None
    stored_at: datetime | None = None

    @classmethod
    def received(cls, msg: Msg) -> StreamMessage:
        """A message delivered to a durable consumer (acks go back to it)."""
        meta = msg.metadata
        return cls(
            stream=meta.stream,
            seq=meta.sequence.stream,
            subject=msg.subject,
            data=msg.data,
            headers=msg.headers,
            deliveries=meta.num_delivered,
            delivered=msg,
            stored_at=meta.timestamp,
        )

    async def ack(self) -> None:
        """Acknowledge a delivered message (a message read back has nobody to tell)."""
        if self.delivered is not None:
            await self.delivered.ack()

    async def nak(self, delay: float) -> None:
        """Ask for redelivery after ``delay`` seconds (delivered messages only)."""
        if self.delivered is not None:
            await self.delivered.nak(delay=delay)

    async def in_progress(self) -> None:
        """Extend the ack deadline while a transient error is retried."""
        if self.delivered is not None:
            await self.delivered.in_progress()


def subject_matches(pattern: str, subject: str) -> bool:
    """Whether ``subject`` matches a NATS subject ``pattern`` (``*`` one token, ``>`` the rest)."""
    wanted, parts = pattern.split("."), subject.split(".")
    for i, part in enumerate(wanted):
        if part == ">":
            return len(parts) > i
        if i >= len(parts) or (part not in ("*", parts[i])):
            return False
    return len(parts) == len(wanted)
