"""Sign-in rules: passwords (argon2), second factor (TOTP), lockout after failures. Pure.

A person is locked for ``LOCK_MINUTES`` after ``MAX_FAILURES`` failed sign-ins in a row
(a correct password resets the count); the wait doubles with each further lock, up to a
day. A TOTP code is accepted once (its time step is remembered) within one step of drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MAX_FAILURES = 5
LOCK_MINUTES = 15
MAX_LOCK = timedelta(days=1)
MIN_PASSWORD = 12
TOTP_STEP = 30
_hasher = PasswordHasher()


@cache
def _dummy() -> str:
    """A hash to verify against for an unknown name, as slow as a wrong password.

    Made on first use, not at import: an argon2 hash is most of a second of every start.
    """
    return _hasher.hash("sipas: no such person")


class PasswordRejectedError(ValueError):
    """Raised when a new password is too weak (the reason names the rule)."""


def hash_password(password: str) -> str:
    """The argon2id hash to store (never the password)."""
    if len(password) < MIN_PASSWORD:
        raise PasswordRejectedError(f"at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def password_matches(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (always takes an argon2 verification)."""
    try:
        return _hasher.verify(stored or _dummy(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored)


@dataclass(frozen=True)
class Lockout:
    """Failed sign-ins in a row and the lock they caused."""

    failures: int = 0
    locks: int = 0
    locked_until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        """Whether sign-in is refused at ``now`` (even with the right password)."""
        return self.locked_until is not None and now < self.locked_until

    def failed(self, now: datetime) -> Lockout:
        """The state after one more failure."""
        failures = self.failures + 1
        if failures < MAX_FAILURES:
            return Lockout(failures, self.locks, self.locked_until)
        wait = min(timedelta(minutes=LOCK_MINUTES) * 2**self.locks, MAX_LOCK)
        return Lockout(0, self.locks + 1, now + wait)

    def succeeded(self) -> Lockout:
        """The state after a successful sign-in."""
        return Lockout()


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret (for an authenticator app)."""
    return pyotp.random_base32()


def totp_uri(secret: str, *, account: str, issuer: str = "SIPAS Live") -> str:
    """The otpauth:// URI an authenticator app reads (as a QR code or typed)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def totp_step(secret: str, code: str, *, now: datetime, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to, if valid and newer than ``last_step``; else None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):  # noqa: PLR2004 - six-digit codes
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_STEP)
    current = int(now.timestamp()) // TOTP_STEP
    for step in (current, current - 1, current + 1):
        if totp.at(step * TOTP_STEP) == code and (last_step is None or step > last_step):
            return step
    return None
