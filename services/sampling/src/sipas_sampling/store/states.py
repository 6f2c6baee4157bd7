"""An invitation's states, and how a dispatch round's change of state is applied.

A send's outcome is written after the send, so the invitation may have moved on meanwhile:
answered, lapsed by the upkeep, or changed by another sender or a delivery report. A change
therefore applies only under a guard on ``state`` (:func:`state_guard`); its delivery
attempt is recorded all the same, and the lease is released either way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple
from uuid import UUID

from pymongo import UpdateOne

from sipas_runtime.mongo import Document

NO_LEASE = datetime(1970, 1, 1, tzinfo=UTC)
"""The lease of an invitation no sender holds."""
SENDABLE = ("queued", "retry", "await_report")
OPEN = ("queued", "retry", "await_report", "sent", "listed")
SETTLED = ("answered", "lapsed")
"""Outcomes only the answer and the upkeep set: a send's result never overwrites them."""


class StateChange(NamedTuple):
    """One invitation's change (and delivery attempt) as a dispatch round writes it."""

    invitation_id: UUID
    changes: Document
    attempt: Document | None = None
    expect: str | None = None
    """The state the change was made from: it applies only to an invitation still in it
    (another sender, a delivery report, the answer or the upkeep may have moved it on)."""


def state_updates(change: StateChange) -> list[UpdateOne]:
    """The change, kept off an invitation no longer as it expects; the attempt, always."""
    invitation_id, changes, attempt, _ = change
    released = {"lease_until": NO_LEASE}
    guard = state_guard(change)
    if guard is None:
        update: Document = {"$set": {**changes, **released}}
        if attempt is not None:
            update["$push"] = {"attempts": attempt}
        return [UpdateOne({"_id": invitation_id}, update)]
    operations = [
        UpdateOne({"_id": invitation_id, "state": guard}, {"$set": {**changes, **released}})
    ]
    if attempt is not None:
        operations.append(
            UpdateOne({"_id": invitation_id}, {"$push": {"attempts": attempt}, "$set": released})
        )
    return operations


def state_guard(change: StateChange) -> Document | None:
    """The condition on ``state`` a change applies under (a Mongo query), None for any."""
    if change.expect is not None:
        return {"$eq": change.expect, "$nin": list(SETTLED)}
    if "state" in change.changes:
        return {"$nin": list(SETTLED)}
    return None
