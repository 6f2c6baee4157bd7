"""The front desk: who is behind a request, opening sessions, counting failed sign-ins.

:meth:`Desk.identify` is the identity gate's fallback for the console: a request without a
bearer credential is the person of its session cookie, if any. It leaves on the request
what pages need: ``person``, ``session`` (or ``pending`` when a second factor is due),
``permissions`` and the ``token`` the console calls services with for that person.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from sipas_console.people.accounts import USERNAME, AccountError, AccountStore, Person
from sipas_console.people.sessions import COOKIE, LIFETIME, SessionStore, Stage
from sipas_console.people.signing import SigningKeys
from sipas_console.people.sso import Grant
from sipas_runtime.audit import AuditLog
from sipas_runtime.identity import Principal
from sipas_runtime.identity.tokens import issue


class Desk:
    """Sessions and accounts, as the console's pages need them."""

    def __init__(
        self, accounts: AccountStore, sessions: SessionStore, signing: SigningKeys, audit: AuditLog
    ) -> None:
        self.accounts = accounts
        self.sessions = sessions
        self.signing = signing
        self.audit = audit

    async def identify(self, request: Request) -> Principal | None:
        """The signed-in person of the request's session cookie (None: nobody)."""
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        now = datetime.now(UTC)
        session = await self.sessions.find(cookie, now=now)
        person = await self.accounts.get(session.person_id) if session else None
        if session is None or person is None or not person.active:
            return None
        if session.stage == "pending":
            request.state.pending = (session, person)
            return None
        principal = person.principal()
        request.state.session, request.state.person = session, person
        request.state.permissions = principal.permissions
        if self.signing.active is not None:
            request.state.token = issue(principal, self.signing.active, now=now)
        return principal

    async def open_session(
        self, person: Person, stage: Stage, *, goto: str, secure: bool, method: str = "password"
    ) -> Response:
        """Start a session for ``person`` and send the browser on (to the code step if due)."""
        now = datetime.now(UTC)
        await self.accounts.record_lockout(person.id, person.lockout.succeeded())
        cookie, _session = await self.sessions.open(person.id, stage, now=now, method=method)
        if stage == "active":
            await self.audit.record("signed_in", actor=person.id, method=method)
        target = goto if stage == "active" else f"/sign-in/code?next={goto}"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(LIFETIME.total_seconds()),
            httponly=True,
            secure=secure,
            samesite="lax",
            path="/",
        )
        return response

    async def failed_sign_in(
        self, person: Person | None, username: str, *, now: datetime, stage: str = "password"
    ) -> None:
        """Count a failure against the account (if any) and audit it."""
        if person is not None:
            lockout = person.lockout.failed(now)
            await self.accounts.record_lockout(person.id, lockout)
            await self.audit.record(
                "sign_in_failed", actor=person.id, stage=stage, locked=lockout.locked(now) or None
            )
            return
        # An unknown name may be a password typed in the wrong field: keep only its hash.
        digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:16]
        await self.audit.record("sign_in_failed", actor="unknown", stage=stage, name_sha256=digest)

    async def signed_on(self, issuer: str, claims: dict[str, object], grant: Grant) -> Person:
        """The person a provider vouched for (found by issuer and subject, or made).

        Their roles and units follow the provider's groups at every sign-in (audited).
        """
        subject = str(claims["sub"])
        now = datetime.now(UTC)
        person = await self.accounts.by_identity_provider(issuer, subject)
        name = str(claims.get("name") or claims.get("preferred_username") or subject)
        if person is None:
            person = await self._add_signed_on(issuer, subject, claims, grant, name=name, now=now)
            await self.audit.record(
                "person_created", actor="sso", target=person.id, roles=",".join(grant.roles),
                units=",".join(grant.units),
            )  # fmt: skip
            return person
        if (person.roles, person.units) != (grant.roles, grant.units):
            await self.audit.record(
                "roles_changed", actor="sso", target=person.id, roles=",".join(grant.roles),
                units=",".join(grant.units),
            )  # fmt: skip
            changed = await self.accounts.change(
                person.id, roles=list(grant.roles), units=list(grant.units), name=name[:120]
            )
            person = changed or person
        return person

    async def _add_signed_on(
        self,
        issuer: str,
        subject: str,
        claims: dict[str, object],
        grant: Grant,
        *,
        name: str,
        now: datetime,
    ) -> Person:
        """Make the account of a first sign-on (a taken sign-in name falls back to an id)."""
        person = Person(
            id="sso-" + hashlib.sha256(f"{issuer}|{subject}".encode()).hexdigest()[:16],
            username=_username(claims, subject),
            name=name[:120],
            email=str(claims["email"])[:200] if claims.get("email") else None,
            roles=grant.roles,
            units=grant.units,
            oidc_issuer=issuer,
            oidc_subject=subject,
            created_at=now,
            updated_at=now,
        )
        try:
            return await self.accounts.add(person)
        except AccountError:
            return await self.accounts.add(person.model_copy(update={"username": person.id}))


def _username(claims: dict[str, object], subject: str) -> str:
    """A sign-in name from the provider's claims (readable when it has one)."""
    for key in ("preferred_username", "email"):
        value = str(claims.get(key) or "").strip().lower()
        if value and USERNAME.match(value):
            return value
    return "sso-" + hashlib.sha256(subject.encode()).hexdigest()[:12]
