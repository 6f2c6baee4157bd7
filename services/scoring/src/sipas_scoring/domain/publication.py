"""Publication of a campaign's figures: draft → approved → published.

A *draft* freezes a snapshot of every figure (with the profile and the stream sequence it
was computed at) and its SHA-256 digest; nothing in it changes afterwards. Approval must
come from a different person than the one who drafted it (four eyes). Publishing makes
it the figures the public endpoint and the open-data export serve, and supersedes the
previously published snapshot of the same campaign and period. A draft or an approved
snapshot can be withdrawn.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from sipas_scoring.domain import PublicationError

State = Literal["draft", "approved", "published", "superseded", "withdrawn"]
Action = Literal["approve", "publish", "withdraw"]

_ALLOWED: dict[Action, tuple[State, ...]] = {
    "approve": ("draft",),
    "publish": ("approved",),
    "withdraw": ("draft", "approved"),
}
_RESULT: dict[Action, State] = {
    "approve": "approved",
    "publish": "published",
    "withdraw": "withdrawn",
}


def transition(state: State, action: Action, *, actor: str, drafted_by: str) -> State:
    """The state after ``action`` by ``actor``; raises when the move is not allowed."""
    if state not in _ALLOWED[action]:
        allowed = " or ".join(_ALLOWED[action])
        msg = f"cannot {action} a publication that is {state} (it must be {allowed})"
        raise PublicationError(msg)
    if action == "approve" and actor == drafted_by:
        msg = f"{actor} drafted this publication; another person must approve it"
        raise PublicationError(msg)
    return _RESULT[action]


def canonical_json(document: object) -> str:
    """Key-sorted, compact JSON (UTF-8 text kept as is): the form that is digested."""
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def digest(document: object) -> str:
    """SHA-256 (hex) of the canonical JSON of ``document``."""
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()
