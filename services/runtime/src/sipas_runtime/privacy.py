"""Personal-data primitives: survey tokens, keyed pseudonyms and sealed contacts.

- A survey token is 128 random bits (URL-safe base64, 22 characters). Only its keyed hash
  (HMAC-SHA256 with ``SIPAS_TOKEN_KEY``) is stored or published; the token itself exists
  only in the invitation message.
- An applicant pseudonym is the HMAC-SHA256 of a normalised identity with
  ``SIPAS_PSEUDONYM_KEY``: stable for de-duplication, not reversible without the key
  (a plain hash of a phone number could be brute-forced in minutes).
- A contact is sealed (NaCl ``SealedBox``, X25519 + XSalsa20-Poly1305) to the public key
  of the only service allowed to read it: sampling for invitations, alerts for opt-in
  call-backs. Destroying that private key shreds every sealed contact at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

TOKEN_BYTES = 16


class PrivacyError(ValueError):
    """Raised when a key is malformed or a sealed blob cannot be opened."""


def new_token() -> str:
    """A fresh single-use survey token (128 bits from the OS CSPRNG)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).rstrip(b"=").decode()


def keyed_hash(key: bytes, value: str) -> str:
    """Hex HMAC-SHA256 of ``value`` under ``key`` (token hashes, pseudonyms)."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


class KeyedHasher:
    """:func:`keyed_hash` under one key, with the keyed state prepared once (hot paths)."""

    def __init__(self, key: bytes) -> None:
        self._base = hmac.new(key, digestmod=hashlib.sha256)

    def __call__(self, value: str) -> str:
        """The same digest as ``keyed_hash(key, value)``."""
        digest = self._base.copy()
        digest.update(value.encode())
        return digest.hexdigest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:
        msg = f"{what} is not valid base64"
        raise PrivacyError(msg) from exc


@dataclass(frozen=True)
class KeyPair:
    """A Curve25519 key pair, base64-encoded as in settings files."""

    secret_key: str
    public_key: str

    @classmethod
    def generate(cls) -> KeyPair:
        """A new random key pair."""
        key = PrivateKey.generate()
        return cls(_b64(bytes(key)), _b64(bytes(key.public_key)))


class Sealer:
    """Seals payloads to one public key (the key is parsed once, for hot paths).

    libsodium releases the GIL while it encrypts, so a thread pool can seal in parallel.
    """

    def __init__(self, public_key: str) -> None:
        try:
            self._box = SealedBox(PublicKey(_unb64(public_key, "public key")))
        except (CryptoError, TypeError, ValueError) as exc:
            msg = "public key must be 32 bytes, base64"
            raise PrivacyError(msg) from exc

    def __call__(self, payload: dict[str, str]) -> str:
        """The sealed, base64-encoded JSON of ``payload``."""
        return _b64(self._box.encrypt(json.dumps(payload, ensure_ascii=False).encode()))


def seal(public_key: str, payload: dict[str, str]) -> str:
    """Encrypt ``payload`` (JSON) so only the holder of the matching secret key can read it."""
    return Sealer(public_key)(payload)


def unseal(secret_key: str, blob: str) -> dict[str, str]:
    """Decrypt a blob produced by :func:`seal`."""
    try:
        box = SealedBox(PrivateKey(_unb64(secret_key, "secret key")))
        data = json.loads(box.decrypt(_unb64(blob, "sealed blob")))
    except (CryptoError, TypeError, ValueError) as exc:
        msg = "sealed blob cannot be opened with this key"
        raise PrivacyError(msg) from exc
    if not isinstance(data, dict):
        msg = "sealed blob does not hold a JSON object"
        raise PrivacyError(msg)
    return {str(k): str(v) for k, v in data.items()}
