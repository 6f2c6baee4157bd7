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

from sipas_console.people.accounts import AccountStore, Person
from sipas_console.people.sessions import COOKIE, LIFETIME, SessionStore, Stage
from sipas_console.people.signing import SigningKeys
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
