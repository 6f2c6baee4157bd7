"""Machine keys: bearer keys for the TTHC feed, downstream readers and the Alertmanager hook.

A key reads ``sipas_<id>_<secret>``: the prefix lets secret scanners and people recognise
it, the id finds its record, the secret is 256 random bits. The key is shown once, when it
is made; only the SHA-256 of its secret is stored (a fast hash is enough for 256 random
bits, and it keeps the check cheap on every request). A record carries the key's name,
roles, unit scope, expiry and, once revoked, when and by whom.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from sipas_runtime.identity.principal import Principal
from sipas_runtime.identity.roles import ROLES
from sipas_runtime.identity.tokens import InvalidCredentialError

PREFIX = "sipas_"
KEY_ID = r"[0-9a-f]{12}"
_SHAPE = re.compile(rf"^{PREFIX}(?P<id>{KEY_ID})_(?P<secret>[A-Za-z0-9_-]{{43}})$")
DEFAULT_LIFETIME = timedelta(days=365)


class KeyRecord(BaseModel):
    """What the directory knows of a key: never the key itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=rf"^{KEY_ID}$")
    name: str = Field(min_length=1, max_length=120)
    roles: tuple[str, ...] = Field(min_length=1)
    units: tuple[str, ...] = ()
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", repr=False)
    created_at: AwareDatetime
    created_by: str = Field(max_length=200)
    expires_at: AwareDatetime
    revoked_at: AwareDatetime | None = None
    revoked_by: str | None = Field(default=None, max_length=200)

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(roles) - set(ROLES))
        if unknown:
            msg = f"unknown roles {unknown}; known: {', '.join(ROLES)}"
            raise ValueError(msg)
        return tuple(sorted(set(roles)))

    def status(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if now >= self.expires_at else "active"

    def revoked(self, *, by: str, now: datetime) -> KeyRecord:
        """The record after revocation (idempotent: the first revocation is kept)."""
        if self.revoked_at is not None:
            return self
        return self.model_copy(update={"revoked_at": now, "revoked_by": by})

    def principal(self) -> Principal:
        """The caller a valid key speaks for."""
        return Principal(
            subject=f"key:{self.id}",
            name=self.name,
            kind="machine",
            roles=frozenset(self.roles),
            units=frozenset(self.units),
            credential="key",
        )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(
    *,
    name: str,
    roles: Iterable[str],
    units: Iterable[str] = (),
    created_by: str,
    now: datetime,
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> tuple[str, KeyRecord]:
    """A fresh key (to show once) and its record (to store)."""
    key = f"{PREFIX}{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
    record = record_for(
        key, name=name, roles=roles, units=units, created_by=created_by, now=now, lifetime=lifetime
    )
    return key, record


def record_for(
    key: str,
    *,
    name: str,
    roles: Iterable[str],
    units: Iterable[str] = (),
    created_by: str,
    now: datetime,
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> KeyRecord:
    """The record of a key made elsewhere (a deployment's env file), to register it."""
    match = _SHAPE.match(key)
    if match is None:
        raise ValueError("not a SIPAS machine key (sipas_<12 hex>_<43 characters>)")
    return KeyRecord(
        id=match["id"],
        name=name,
        roles=tuple(roles),
        units=tuple(sorted(set(units))),
        sha256=_digest(match["secret"]),
        created_at=now,
        created_by=created_by,
        expires_at=now + lifetime,
    )


def looks_like_key(presented: str) -> bool:
    """Whether a bearer credential is shaped like a machine key (else: a token)."""
    return presented.startswith(PREFIX)


def key_id_of(presented: str) -> str:
    """The id part of a presented key (raises when it is not shaped like one)."""
    match = _SHAPE.match(presented)
    if match is None:
        raise InvalidCredentialError("malformed key")
    return match["id"]


def check(record: KeyRecord | None, presented: str, *, now: datetime) -> Principal:
    """The principal of a presented key, if it matches an active record."""
    match = _SHAPE.match(presented)
    if match is None or record is None:
        raise InvalidCredentialError("unknown key")
    if not hmac.compare_digest(record.sha256, _digest(match["secret"])):
        raise InvalidCredentialError("unknown key")
    status = record.status(now)
    if status != "active":
        raise InvalidCredentialError(f"key {status}")
    return record.principal()
