"""Short-lived signed tokens: what the console issues for a signed-in person.

A token is a JWT signed with an Ed25519 key (JOSE algorithm ``Ed25519``, RFC 9864) that
carries the subject, name, kind, roles and unit scope of a principal, for at most
``TOKEN_TTL``. Services verify it against the public keys the console publishes (the key
directory, ``directory``); the header's ``kid`` names the key, so keys rotate without a
restart: a new key signs, the previous one stays published until its tokens have expired.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey

from sipas_runtime.identity.principal import Principal

ISSUER = "sipas-console"
AUDIENCE = "sipas"
ALGORITHM = "Ed25519"
TOKEN_TTL = timedelta(minutes=10)
LEEWAY_SECONDS = 30  # clocks of a province's servers drift a little
MAX_LIST = 64


class InvalidCredentialError(Exception):
    """Raised when a token or key is malformed, forged, expired, revoked or unknown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 key pair that signs tokens (the private half stays with the console)."""

    kid: str
    private_jwk: Mapping[str, Any]

    @classmethod
    def generate(cls, kid: str | None = None) -> SigningKey:
        """A fresh key with a random key id."""
        kid = kid or "k" + secrets.token_hex(8)
        params: Any = {"kid": kid, "use": "sig", "alg": ALGORITHM}
        key = OKPKey.generate_key("Ed25519", parameters=params, private=True)
        return cls(kid, key.as_dict(private=True))

    def public_jwk(self) -> dict[str, Any]:
        """The public half, as published in the JWKS."""
        return dict(OKPKey.import_key(dict(self.private_jwk)).as_dict(private=False))


def issue(
    principal: Principal, key: SigningKey, *, now: datetime, ttl: timedelta = TOKEN_TTL
) -> str:
    """A token for ``principal`` valid from ``now`` for ``ttl``."""
    at = int(now.timestamp())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": principal.subject,
        "name": principal.name,
        "kind": principal.kind,
        "roles": sorted(principal.roles),
        "units": sorted(principal.units),
        "iat": at,
        "nbf": at,
        "exp": at + int(ttl.total_seconds()),
        "jti": secrets.token_urlsafe(12),
    }
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": "JWT"}
    private = OKPKey.import_key(dict(key.private_jwk))
    return jwt.encode(header, claims, private, algorithms=[ALGORITHM])


def key_set(public_keys: Iterable[Mapping[str, Any]]) -> KeySet:
    """The verification keys, looked up by the ``kid`` of each token's header."""
    return KeySet([OKPKey.import_key(dict(jwk)) for jwk in public_keys])


def verify(token: str, keys: KeySet, *, now: datetime) -> Principal:
    """The principal a token speaks for, if one of ``keys`` signed it and it is current."""
    try:
        decoded = jwt.decode(token, keys, algorithms=[ALGORITHM])
        _claims_registry(now).validate(decoded.claims)
    except (JoseError, ValueError) as exc:
        raise InvalidCredentialError(f"token refused: {type(exc).__name__}") from exc
    return _principal(decoded.claims)


def _claims_registry(now: datetime) -> jwt.JWTClaimsRegistry:
    return jwt.JWTClaimsRegistry(
        now=int(now.timestamp()),
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE},
        sub={"essential": True},
        exp={"essential": True},
    )


def _principal(claims: Mapping[str, Any]) -> Principal:
    roles, units = claims.get("roles", []), claims.get("units", [])
    kind = claims.get("kind")
    if not (_strings(roles) and _strings(units)) or kind not in {"person", "machine"}:
        raise InvalidCredentialError("token claims are malformed")
    return Principal(
        subject=str(claims["sub"]),
        name=str(claims.get("name") or claims["sub"]),
        kind=cast("Any", kind),
        roles=frozenset(roles),
        units=frozenset(units),
        credential="token",
    )


def _strings(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= MAX_LIST
        and all(isinstance(v, str) and v for v in value)
    )
