"""The key directory: what every service instance knows of signing keys and machine keys.

The console writes to one JetStream key-value bucket (``bucket``); every instance of every
service watches it and keeps this in-memory view, so a key created or revoked at run time
is known everywhere within moments, without a restart. Entries:

- ``signing.<kid>``: a public JWK that may verify tokens (deleted when retired);
- ``key.<id>``: a machine key's record (``keys.KeyRecord``, never the key itself).
"""

from __future__ import annotations

import json
from datetime import datetime

from joserfc.jwk import KeySet
from pydantic import ValidationError

from sipas_runtime.identity.keys import KeyRecord, check, key_id_of, looks_like_key
from sipas_runtime.identity.principal import Principal
from sipas_runtime.identity.tokens import InvalidCredentialError, key_set, verify

SIGNING = "signing."
KEY = "key."


class Directory:
    """Signing keys and key records, updated entry by entry from the bucket."""

    def __init__(self) -> None:
        self.signing: dict[str, dict[str, object]] = {}
        self.records: dict[str, KeyRecord] = {}
        self.revision = 0
        self._keys: KeySet = key_set([])

    def apply(self, entry: str, value: bytes | None, revision: int) -> None:
        """One bucket entry put (``value``) or deleted (None); unknown entries are ignored."""
        self.revision = max(self.revision, revision)
        if entry.startswith(SIGNING):
            kid = entry.removeprefix(SIGNING)
            if value:
                self.signing[kid] = json.loads(value)
            else:
                self.signing.pop(kid, None)
            self._keys = key_set(self.signing.values())
        elif entry.startswith(KEY):
            key_id = entry.removeprefix(KEY)
            record = _record(value) if value else None
            if record is None or record.id != key_id:
                self.records.pop(key_id, None)
            else:
                self.records[key_id] = record

    def authenticate(self, credential: str, *, now: datetime) -> Principal:
        """The principal behind a bearer credential: a machine key or a signed token."""
        if looks_like_key(credential):
            return check(self.records.get(key_id_of(credential)), credential, now=now)
        if not self.signing:
            raise InvalidCredentialError("no signing key is published yet")
        return verify(credential, self._keys, now=now)


def _record(value: bytes) -> KeyRecord | None:
    try:
        return KeyRecord.model_validate_json(value)
    except ValidationError:
        return None  # a record this version cannot read authenticates nobody
