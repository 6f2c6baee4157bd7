"""Stream sequences a filtered durable's cursor passed over: nothing there is for it.

A durable filtered to part of a stream (a partition of the dossiers, one event type of a
shared stream) is handed only its own sequences, so the other ones never enter its
``AppliedSequences``: the floor stays below the first of them and every later sequence
becomes a range of its own. Measured in sampling's decisions with four partitions
(issue #22, py-spy at 1,000 dossiers/s): 20,000 dossiers left ~5,000 one-sequence ranges
per partition, re-sorted and merged at every batch (``AppliedSequences._merge``: 51 % of
the process's CPU, growing with the run) and written into every checkpoint's position.

The server tells, with each delivery, the durable's *delivery sequence* (one more for
every message it hands out to anyone, first delivery or redelivery) and how many times
the message was delivered. Its cursor moves forward through the stream, handing out each
matching message once (first deliveries, in stream order); redeliveries do not move it.
So when a delivery follows the previous one seen here with the very next delivery
sequence, nothing was handed out in between, to this instance or any other: if it is a
first delivery, every stream sequence between the cursor's last first delivery and it
holds nothing for the durable (another subject, or deleted), and can be recorded as
applied. A gap in the delivery sequences (a message handed to another instance, one
this instance naked while inactive, a durable created again) or another pin restarts
the chain, which then covers nothing until it has seen two deliveries in a row.
"""

from __future__ import annotations

from dataclasses import dataclass

Span = tuple[int, int]


@dataclass(frozen=True)
class Delivery:
    """What the server says of one delivery: its delivery and stream sequences."""

    consumer_seq: int
    stream_seq: int
    first: bool
    """Delivered for the first time (``num_delivered == 1``): the cursor moved to it."""
    pin: str | None = None


class PassedOver:
    """Follows one durable's deliveries in order; tells the stream sequences skipped."""

    def __init__(self) -> None:
        self._consumer_seq: int | None = None  # the last delivery seen here
        self._cursor: int | None = None  # the stream sequence of the last first delivery
        self._pin: str | None = None

    def start(self, consumer_seq: int, stream_seq: int) -> None:
        """The durable's last delivery as the server reports it (``delivered`` of its info).

        Its stream sequence is where the cursor stands: what was handed out last.
        """
        self._consumer_seq, self._cursor, self._pin = consumer_seq, stream_seq, None

    def reset(self) -> None:
        """Forget the chain (the durable changed hands): cover nothing until it restarts."""
        self._consumer_seq = self._cursor = self._pin = None

    def see(self, delivery: Delivery) -> Span | None:
        """The stream sequences passed over just before ``delivery``, if they are known."""
        follows = (
            self._consumer_seq is not None
            and delivery.consumer_seq == self._consumer_seq + 1
            and (self._pin is None or delivery.pin is None or delivery.pin == self._pin)
        )
        passed: Span | None = None
        if not follows:
            self._cursor = delivery.stream_seq if delivery.first else None
        elif delivery.first:
            if self._cursor is not None and delivery.stream_seq > self._cursor + 1:
                passed = (self._cursor + 1, delivery.stream_seq - 1)
            if self._cursor is None or delivery.stream_seq > self._cursor:
                self._cursor = delivery.stream_seq
        self._consumer_seq = delivery.consumer_seq
        self._pin = delivery.pin or self._pin
        return passed
