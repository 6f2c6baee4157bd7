"""A batch's NATS protocol frames, built in one pass and handed to the client at once.

nats-py's ``publish`` encodes each message's headers on its own (for every header a
regular expression and a translation, ~9 µs for the eleven headers of an event in an
atomic batch) and queues one command per message; acking a fetched batch is one
``publish`` per message too. A hot consumer sends hundreds of both per batch, so here a
batch's frames are built in one pass (``HPUB`` with headers, ``PUB`` for acks) and queued
as one command, written in order with whatever the client queues next (e.g. the atomic
batch's committing request). The checks are nats-py's own: header names, CR/LF in values
(made spaces, as nats-py does), subjects and the server's payload limit; while the
connection is not up, the client's own ``publish`` is used (it decides what to buffer).
Acks are sent as ``Msg.ack`` sends them, one per message (not a cumulative ``AckAll``).

This leans on the client's internals (``_send_command``, ``_flush_pending``; a message's
``_client``, ``_check_reply`` and ``_ackd``), unchanged in nats-py for years;
``services/runtime/tests/test_frames.py`` checks against a real server that a subscriber gets
exactly what ``publish`` would give it, and that acks are acks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from nats import errors
from nats.aio.client import Client
from nats.aio.msg import Msg

_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # nats-py's _HEADER_KEY_RE
_NEWLINES = str.maketrans({"\r": " ", "\n": " "})
_SUBJECT_INVALID = re.compile(r"[ \t\r\n]")  # nats-py's _SUBJECT_INVALID_RE
_CHECKED_LIMIT = 4096


class Frames:
    """Protocol frames of one batch, in order, and what they carry."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.messages = 0
        self.payload_bytes = 0
        self.largest = 0
        self._names: set[str] = set()
        self._subjects: set[str] = set()

    def publish(self, subject: str, payload: bytes, headers: Mapping[str, str]) -> None:
        """One message with headers (``HPUB``), no reply subject."""
        self._subject(subject)
        lines = [f"{self._name(k)}: {_value(v)}\r\n" for k, v in headers.items() if k.strip()]
        head = ("NATS/1.0\r\n" + "".join(lines) + "\r\n").encode()
        total = len(head) + len(payload)
        self._parts += (f"HPUB {subject} {len(head)} {total}\r\n".encode(), head, payload, b"\r\n")
        self.messages += 1
        self.payload_bytes += len(payload)
        self.largest = max(self.largest, len(payload))

    def empty(self, subjects: Iterable[str]) -> None:
        """An empty message to each subject (``PUB``): how JetStream acks are sent."""
        for subject in subjects:
            self._subject(subject)
            self._parts.append(f"PUB {subject} 0\r\n\r\n".encode())
            self.messages += 1

    def __bytes__(self) -> bytes:
        return b"".join(self._parts)

    def _name(self, key: str) -> str:
        name = key.strip()
        if name not in self._names:
            if not _HEADER_NAME.fullmatch(name):
                raise errors.BadHeaderError(name)
            self._names.add(name)
        return name

    def _subject(self, subject: str) -> None:
        if subject not in self._subjects:
            if not subject or _SUBJECT_INVALID.search(subject):
                raise errors.BadSubjectError
            if len(self._subjects) < _CHECKED_LIMIT:
                self._subjects.add(subject)


def _value(value: str) -> str:
    stripped = value.strip()
    return stripped.translate(_NEWLINES) if "\r" in stripped or "\n" in stripped else stripped


def ready(nc: Client) -> bool:
    """Whether frames can be sent now; else (reconnecting, closing) use ``Client.publish``.

    While it reconnects, the client decides what it buffers; frames are for the usual case.
    """
    return nc.is_connected and not nc.is_closed and not nc.is_draining_pubs


async def send(nc: Client, frames: Frames) -> None:
    """Queue ``frames`` on a :func:`ready` client as one command, written in order."""
    if frames.messages == 0:
        return
    if frames.largest > nc.max_payload:
        raise errors.MaxPayloadError
    nc.stats["out_msgs"] += frames.messages
    nc.stats["out_bytes"] += frames.payload_bytes
    await nc._send_command(bytes(frames))  # noqa: SLF001 - see the module docstring
    if nc._flush_queue is not None and nc._flush_queue.empty():  # noqa: SLF001
        await nc._flush_pending()  # noqa: SLF001


async def ack(messages: Sequence[Msg]) -> None:
    """Acknowledge JetStream messages, one ack each as ``Msg.ack`` sends it, queued at once."""
    if not messages:
        return
    nc = messages[0]._client  # noqa: SLF001 - nats-py keeps no public handle on it
    if not ready(nc) or any(m._client is not nc for m in messages):  # noqa: SLF001
        for msg in messages:
            await msg.ack()
        return
    for msg in messages:
        msg._check_reply()  # noqa: SLF001 - not a JetStream message, or acked already
    acks = Frames()
    acks.empty(msg.reply for msg in messages)
    await send(nc, acks)
    for msg in messages:
        msg._ackd = True  # noqa: SLF001 - as Msg.ack records it
