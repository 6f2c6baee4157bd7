"""The contact vault: contacts and survey tokens encrypted under a per-campaign key.

Intake seals a contact to sampling's public key; sampling opens it once, at decision time,
and re-encrypts what it must keep (contact, token) with the campaign's own random key
(XSalsa20-Poly1305, NaCl ``SecretBox``). When the campaign's fieldwork closes the key is
deleted: every copy, including backups, becomes unreadable (crypto-shredding).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from sipas_runtime.channels import PhoneError, national


class VaultError(RuntimeError):
    """Raised when a campaign key is missing (shredded) or a ciphertext does not open."""


def new_key() -> str:
    """A fresh base64 campaign key."""
    return base64.b64encode(secrets.token_bytes(SecretBox.KEY_SIZE)).decode()


def lock(key: str, payload: dict[str, str]) -> str:
    """Encrypt ``payload`` (JSON) under the campaign key."""
    box = SecretBox(base64.b64decode(key))
    return base64.b64encode(box.encrypt(json.dumps(payload, ensure_ascii=False).encode())).decode()


def unlock(key: str | None, blob: str) -> dict[str, str]:
    """Decrypt a blob made by :func:`lock`."""
    if key is None:
        raise VaultError("campaign key destroyed: the contact was shredded")
    try:
        data = json.loads(SecretBox(base64.b64decode(key)).decrypt(base64.b64decode(blob)))
    except (CryptoError, ValueError) as exc:
        raise VaultError("vault entry does not open with the campaign key") from exc
    return {str(k): str(v) for k, v in data.items()}


def optout_key(secret_key: str) -> bytes:
    """The key of opt-out hashes, derived from sampling's secret key (no extra secret)."""
    return hmac.new(base64.b64decode(secret_key), b"sipas-optout-v1", hashlib.sha256).digest()


def contact_hashes(key: bytes, contact: dict[str, str]) -> list[str]:
    """Keyed hashes of every way to reach this person (phones, e-mail, Zalo id)."""
    values: list[str] = []
    phones = [contact.get("phone", ""), *contact.get("phone_alternates", "").split(",")]
    for phone in filter(None, (p.strip() for p in phones)):
        try:
            values.append(f"phone:{national(phone)}")
        except PhoneError:
            continue
    if contact.get("email"):
        values.append(f"email:{contact['email'].strip().casefold()}")
    if contact.get("zalo_id"):
        values.append(f"zalo:{contact['zalo_id'].strip()}")
    return [hmac.new(key, v.encode(), hashlib.sha256).hexdigest() for v in values]
