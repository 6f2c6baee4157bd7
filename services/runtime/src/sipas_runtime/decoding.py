"""Turning message bytes into events, and what a decoder says when it cannot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import ValidationError

from sipas_runtime.messages import Message

E = TypeVar("E")
Decoder = Callable[[bytes], E]
MessageDecoder = Callable[[Message], E]
"""A decoder that also needs the subject or headers (e.g. the source of a raw record)."""


class RejectedError(ValueError):
    """Raised by a decoder for input that is well-formed but unacceptable (e.g. unknown unit)."""

    def __init__(self, reason: str, *, kind: str = "rejected") -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def describe_validation_error(exc: ValidationError) -> str:
    """``field: reason; field: reason`` for a pydantic error, for humans and the DLQ."""
    parts = []
    for error in exc.errors():
        location = ".".join(str(p) for p in error["loc"]) or "(body)"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)


def message_decoder(
    decode: Decoder[E] | None, decode_message: MessageDecoder[E] | None
) -> MessageDecoder[E]:
    """One decoder of whole messages from exactly one of the two kinds."""
    if decode_message is not None and decode is None:
        return decode_message
    if decode is not None and decode_message is None:
        return lambda msg: decode(msg.data)
    msg = "give exactly one of decode (bytes) or decode_message (the whole NATS message)"
    raise TypeError(msg)


@dataclass(frozen=True)
class Unreadable:
    """Why a message can never be applied (the dead letter's kind and reason)."""

    kind: str
    reason: str


def read(decode: MessageDecoder[E], msg: Message) -> E | Unreadable:
    """The event in ``msg``, or why it has none: malformed, against the schema, rejected."""
    try:
        return decode(msg)
    except RejectedError as exc:
        return Unreadable(exc.kind, exc.reason)
    except ValidationError as exc:
        malformed = any(e["type"] == "json_invalid" for e in exc.errors())
        return Unreadable("malformed" if malformed else "schema", describe_validation_error(exc))
    except (ValueError, UnicodeDecodeError) as exc:
        return Unreadable("malformed", f"cannot decode message: {exc}")
