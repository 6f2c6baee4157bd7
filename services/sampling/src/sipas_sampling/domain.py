"""Sampling's pure rules for continuous campaigns: who is invited, through which channel.

The decision for a dossier is verifiable: ``draw(seed, dossier_id)`` is a number in [0, 1)
derived from SHA-256, so anyone holding the campaign seed can recompute every decision.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sipas_contracts.events import ContactChannel, DossierCompleted

_SCALE = float(1 << 64)


@dataclass(frozen=True)
class Decision:
    """Whether to invite, through which channel, and why (for the audit log)."""

    invite: bool
    reason: str
    draw: float
    channel: ContactChannel | None = None


def draw(seed: str, dossier_id: str) -> float:
    """The dossier's verifiable random number in [0, 1) for this campaign seed."""
    digest = hashlib.sha256(f"{seed}\x1f{dossier_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def decide(
    event: DossierCompleted, *, seed: str, rate: float, channel_order: Sequence[ContactChannel]
) -> Decision:
    """Continuous-mode decision: eligible, reachable, and drawn below the sampling rate."""
    value = draw(seed, event.dossier_id)
    channel = next((c for c in channel_order if c in event.contact_channels), None)
    if event.sealed_contact is None or channel is None:
        return Decision(invite=False, reason="no_usable_contact", draw=value)
    if value >= rate:
        return Decision(invite=False, reason="not_drawn", draw=value)
    return Decision(invite=True, reason="drawn", draw=value, channel=channel)


def render_invitation(*, unit_name: str, link: str, officer: str | None) -> str:
    """The Vietnamese invitation text (no diacritics are needed by e-mail/Zalo; SMS strips them)."""
    handled = f" do cán bộ {officer} giải quyết" if officer else ""
    return (
        f"{unit_name} trân trọng mời Ông/Bà đánh giá mức độ hài lòng về hồ sơ{handled}. "
        f"Phiếu ẩn danh, khoảng 3 phút: {link}"
    )
