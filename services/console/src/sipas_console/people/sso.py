"""Single sign-on with the province's identity provider (OpenID Connect, authorisation code).

The console is an OIDC client: it sends the person to the provider with a state, a nonce
and a PKCE challenge, takes the code back and exchanges it for an ID token (requests built
by authlib's RFC 6749/7636 helpers, sent with httpx, the client secret in HTTP Basic), then
checks the token's signature (the provider's JWKS), issuer, audience, expiry and nonce
(joserfc). The person's roles and units come from the provider's claims through a mapping
the province configures (:func:`map_claims`); the account is found by (issuer, subject),
made on first sign-in, and its roles follow the claims at every sign-in.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

ID_TOKEN_ALGORITHMS = ("RS256", "ES256", "PS256", "Ed25519", "EdDSA")


class SignOnError(Exception):
    """Raised when the provider's answer cannot sign anyone in (the reason says why)."""


@dataclass(frozen=True)
class Grant:
    """What a person's claims give them here."""

    roles: tuple[str, ...]
    units: tuple[str, ...]


def map_claims(
    claims: Mapping[str, Any],
    *,
    groups_claim: str,
    groups: Mapping[str, Mapping[str, Sequence[str]]],
) -> Grant:
    """Roles and units of the groups the person belongs to, together (pure)."""
    found = claims.get(groups_claim) or []
    names = [found] if isinstance(found, str) else [g for g in found if isinstance(g, str)]
    roles: set[str] = set()
    units: set[str] = set()
    for name in names:
        grant = groups.get(name) or {}
        roles.update(grant.get("roles", ()))
        units.update(grant.get("units", ()))
    return Grant(tuple(sorted(roles)), tuple(sorted(units)))


@dataclass(frozen=True)
class Attempt:
    """One sign-in on its way to the provider and back."""

    state: str
    nonce: str
    verifier: str
    next: str


class Provider:
    """The province's OpenID provider, as this console's client sees it."""

    def __init__(self, issuer: str, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self._metadata: dict[str, Any] | None = None

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched once)."""
        if self._metadata is None:
            async with httpx.AsyncClient(timeout=10) as http:
                answer = await http.get(f"{self.issuer}/.well-known/openid-configuration")
                answer.raise_for_status()
                self._metadata = dict(answer.json())
        return self._metadata

    async def start(self, goto: str) -> tuple[str, Attempt]:
        """Where to send the browser, and the attempt to remember until it comes back."""
        attempt = Attempt(
            secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48), goto
        )
        meta = await self.metadata()
        url = prepare_grant_uri(
            meta["authorization_endpoint"],
            self.client_id,
            "code",
            redirect_uri=self.redirect_uri,
            scope="openid profile email",
            state=attempt.state,
            nonce=attempt.nonce,
            code_challenge=create_s256_code_challenge(attempt.verifier),
            code_challenge_method="S256",
        )
        return str(url), attempt

    async def finish(self, attempt: Attempt, code: str, *, now: datetime) -> dict[str, Any]:
        """Exchange the code; the ID token's claims once every check passed."""
        meta = await self.metadata()
        try:
            body = prepare_token_request(
                "authorization_code",
                code=code,
                redirect_uri=self.redirect_uri,
                code_verifier=attempt.verifier,
            )
            async with httpx.AsyncClient(timeout=10) as http:
                answer = await http.post(
                    meta["token_endpoint"],
                    content=body,
                    auth=(self.client_id, self.client_secret),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                answer.raise_for_status()
                token = answer.json()
                keys = KeySet.import_key_set((await http.get(meta["jwks_uri"])).json())
            decoded = jwt.decode(str(token["id_token"]), keys, algorithms=list(ID_TOKEN_ALGORITHMS))
            jwt.JWTClaimsRegistry(
                now=int(now.timestamp()),
                leeway=60,
                iss={"essential": True, "value": meta.get("issuer", self.issuer)},
                aud={"essential": True, "value": self.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": attempt.nonce},
            ).validate(decoded.claims)
        except (httpx.HTTPError, JoseError, KeyError, ValueError) as exc:
            raise SignOnError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        return dict(decoded.claims)
