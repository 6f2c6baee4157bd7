"""Duplicates, corrections and replays of the same dossier, decided from the ledger.

The TTHC system re-sends a dossier on every status change and operators re-import
lists, so the same dossier arrives many times. Intake keeps, per dossier, the latest
revision, its content fingerprint, the highest raw-stream sequence applied and the
recent history of (revision, fingerprint, sequence). For each arriving record:

- never seen                                  → revision 1                 (``accepted``)
- its stream sequence was already applied     → re-emit that revision      (``replayed``)
  (a redelivery after a crash; same event id, so JetStream and consumers drop the copy)
- older than the last applied sequence        → dropped                    (``stale``)
  (an out-of-order redelivery never overrides newer content)
- same fingerprint as the latest revision     → dropped                    (``duplicate``)
- different content                           → revision n + 1             (``corrected``)

A correction that restores earlier content is still a new revision: the latest content
the source sent is what counts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

HISTORY_LIMIT = 50


class Outcome(StrEnum):
    """What happened to one arriving record (also a metric label)."""

    ACCEPTED = "accepted"
    CORRECTED = "corrected"
    REPLAYED = "replayed"
    DUPLICATE = "duplicate"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class Applied:
    """One revision that was emitted, and the raw-stream sequence it came from."""

    revision: int
    fingerprint: str
    seq: int


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """What intake remembers about one dossier (no personal data)."""

    dossier_id: str
    revision: int
    fingerprint: str
    last_seq: int
    history: tuple[Applied, ...]

    @classmethod
    def first(cls, dossier_id: str, fingerprint: str, seq: int) -> LedgerEntry:
        """The entry after revision 1."""
        return cls(dossier_id, 1, fingerprint, seq, (Applied(1, fingerprint, seq),))


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome, the revision to emit (None: emit nothing) and the entry afterwards."""

    outcome: Outcome
    revision: int | None
    entry: LedgerEntry


def decide(entry: LedgerEntry | None, dossier_id: str, fingerprint: str, seq: int) -> Decision:
    """What to do with a record of ``dossier_id`` with content ``fingerprint`` at ``seq``."""
    if entry is None:
        first = LedgerEntry.first(dossier_id, fingerprint, seq)
        return Decision(Outcome.ACCEPTED, 1, first)
    applied = next((a for a in entry.history if a.seq == seq), None)
    if applied is not None:
        return Decision(Outcome.REPLAYED, applied.revision, entry)
    if seq < entry.last_seq:
        return Decision(Outcome.STALE, None, entry)
    if fingerprint == entry.fingerprint:
        return Decision(Outcome.DUPLICATE, None, entry)
    revision = entry.revision + 1
    history = (*entry.history, Applied(revision, fingerprint, seq))[-HISTORY_LIMIT:]
    corrected = replace(
        entry, revision=revision, fingerprint=fingerprint, last_seq=seq, history=history
    )
    return Decision(Outcome.CORRECTED, revision, corrected)
