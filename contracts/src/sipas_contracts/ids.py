"""Identifiers shared by every service: UUIDv7 event ids and routing codes.

UUIDv7 (RFC 9562 §5.7) puts a millisecond timestamp in the top 48 bits, so ids sort by
creation time. :func:`uuid7_for` derives the remaining 74 bits from a natural key, which
gives the *same* id for the same fact: a re-delivered input re-publishes an identical
event and JetStream's ``Nats-Msg-Id`` de-duplication drops it.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import unicodedata
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
"""Unit codes and campaign ids travel as NATS subject tokens: no dots, spaces or wildcards."""

UnitCode = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
CampaignId = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]

# Control (Cc), format (Cf: U+200B zero width space, U+202E right-to-left override...),
# line/paragraph separators, private-use and lone surrogates: invisible in a list, dangerous in
# a file name, a spreadsheet cell or a log line.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs"})


def check_visible(value: str) -> str:
    """``value`` if it is NFC and every character is visible text; ValueError naming one."""
    if not value.isprintable():  # only then can a character be hidden (str.isprintable)
        for char in value:
            if unicodedata.category(char) in _HIDDEN_CATEGORIES:
                msg = f"contains a control or invisible character (U+{ord(char):04X})"
                raise ValueError(msg)
    if not unicodedata.is_normalized("NFC", value):
        msg = "is not in Unicode NFC form (composed Vietnamese letters)"
        raise ValueError(msg)
    return value


DossierId = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(check_visible)
]
"""A dossier number (MaHoSo): visible characters only, NFC."""
VisibleText = Annotated[str, AfterValidator(check_visible)]
"""Text shown to people or written to files: visible characters only, NFC."""

_CODE_RE = re.compile(CODE_PATTERN)
_VERSION_7 = 0x7
_VARIANT_RFC4122 = 0b10


def is_code(value: str) -> bool:
    """Whether ``value`` can be used as a unit code or campaign id (a subject token)."""
    return bool(_CODE_RE.match(value))


def _assemble(unix_ms: int, rand_a: int, rand_b: int) -> uuid.UUID:
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= _VERSION_7 << 76
    value |= (rand_a & 0xFFF) << 64
    value |= _VARIANT_RFC4122 << 62
    value |= rand_b & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def uuid7(unix_ms: int | None = None) -> uuid.UUID:
    """A new random UUIDv7 for ``unix_ms`` (default: now)."""
    ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    rand = int.from_bytes(os.urandom(10), "big")
    return _assemble(ms, rand >> 62, rand)


def uuid7_for(key: str, at: datetime) -> uuid.UUID:
    """A deterministic UUIDv7: timestamp from ``at``, random bits from SHA-256 of ``key``."""
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:10], "big")
    return _assemble(int(at.timestamp() * 1000), digest >> 62, digest)


def uuid7_time(value: uuid.UUID) -> int:
    """The millisecond Unix timestamp embedded in a UUIDv7."""
    return value.int >> 80
