"""Protections of the public pages: cookies, CSRF tokens, origin checks, rate limits, headers.

- The survey link carries the token once: ``GET /s/<token>`` swaps it for an HttpOnly,
  SameSite=Strict cookie (Secure over https) and redirects to the token-free ``/s``, so
  the token never sits in history, Referer headers or logs afterwards.
- Every form carries a CSRF token: an HMAC, under a key derived from SIPAS_TOKEN_KEY, of
  the session it belongs to (and, for kiosks, of a one-time nonce). Posts another site
  makes (``Sec-Fetch-Site``, else ``Origin``) are refused before anything else.
- Rate limits per client address and the cross-site check are the kit's
  (``sipas_runtime.guards``).
- A survey draft (answers entered so far, a call-back contact) is stored encrypted under a
  key derived from the token itself, which only the respondent's cookie holds: the
  database alone (even with SIPAS_TOKEN_KEY) cannot read it.
- Every page: strict CSP (no inline script, nothing from elsewhere), ``no-referrer``,
  ``no-store``, ``nosniff``, no framing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox


def derive_key(master: bytes, purpose: str) -> bytes:
    """A sub-key for one purpose (CSRF, kiosk keys) so no key serves two uses."""
    return hmac.new(master, f"sipas-intake:{purpose}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class CsrfTokens:
    """HMAC tokens binding a form to its session (and a one-time nonce)."""

    key: bytes

    def issue(self, session: str, nonce: str = "") -> str:
        """The token to put in a hidden field."""
        mac = hmac.new(self.key, f"{session}|{nonce}".encode(), hashlib.sha256).hexdigest()
        return f"{nonce}.{mac}" if nonce else mac

    def check(self, session: str, token: str | None) -> str | None:
        """The nonce of a valid token ('' when none), or None when the token is invalid."""
        if not token:
            return None
        nonce, _, mac = token.rpartition(".")
        expected = self.issue(session, nonce).rpartition(".")[2]
        return nonce if hmac.compare_digest(mac, expected) else None


@dataclass(frozen=True)
class DraftCipher:
    """Encrypts a survey draft under a key only the token's holder can derive."""

    key: bytes

    def _box(self, token: str) -> SecretBox:
        return SecretBox(hmac.new(self.key, token.encode(), hashlib.sha256).digest())

    def seal(self, token: str, plain: bytes) -> bytes:
        """``plain`` encrypted (XSalsa20-Poly1305, random nonce) for ``token``'s holder."""
        return bytes(self._box(token).encrypt(plain))

    def open(self, token: str, sealed: bytes) -> bytes | None:
        """The plain bytes, or None when ``sealed`` was not sealed for ``token``."""
        try:
            return bytes(self._box(token).decrypt(sealed))
        except CryptoError:
            return None


def new_nonce() -> str:
    """A one-time form nonce (96 bits)."""
    return secrets.token_urlsafe(12)
