"""What a consumer's handler receives: a batch of decoded deliveries, split fresh/replayed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from sipas_runtime.writes import Writes

E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class Delivery(Generic[E]):
    """A decoded message and where it sits in its stream."""

    event: E
    seq: int
    subject: str
    deliveries: int
    stored_at: datetime | None = None
    """When the stream stored the message (None when unknown)."""


@dataclass(slots=True)
class Batch(Generic[E]):
    """Deliveries to apply (``fresh``) and ones already applied before (``replayed``)."""

    fresh: list[Delivery[E]] = field(default_factory=list)
    replayed: list[Delivery[E]] = field(default_factory=list)
    version: int | None = None
    """Sequence mode: how many batches with fresh deliveries this consumer has committed,
    this one included — a change counter stored with the applied sequences, so it moves
    in the same transaction as the effect and in commit order (None in other modes)."""
    writes: Writes = field(kw_only=True)
    """Writes sent with the consumer's own in one ``bulkWrite`` after the handler returns
    (see ``sipas_runtime.writes``); a handler may also write directly with the session."""
    committed: list[Callable[[], None]] = field(default_factory=list)
    """Called, in order, once the transaction this batch was applied in has committed
    (an attempt that is rolled back and retried gets a new batch; its callbacks never run)."""

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` after this batch's effects have committed."""
        self.committed.append(callback)
