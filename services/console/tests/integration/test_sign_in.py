"""Signing in to the console as a process: password, second factor, lockout, CSRF, sessions."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pyotp
import pytest

from sipas_runtime.audit import AuditLog, verify

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.mongo]


class Browser:
    """A client that keeps the console's cookies by hand (they are Secure: httpx would not
    send them back over plain http) and reads the CSRF token of each form."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def _keep(self, answer: httpx.Response) -> httpx.Response:
        for header in answer.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in header.lower() or not value.strip('"'):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        found = re.search(r'name="csrf" value="([^"]+)"', answer.text)
        self.csrf = found.group(1) if found else self.csrf
        return answer

    def _cookie_header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    async def get(self, path: str) -> httpx.Response:
        return self._keep(await self.http.get(path, headers=self._cookie_header()))

    async def post(self, path: str, **fields: str) -> httpx.Response:
        data = {"csrf": self.csrf, **fields}
        return self._keep(await self.http.post(path, data=data, headers=self._cookie_header()))

    async def sign_in(self, username: str, password: str) -> httpx.Response:
        await self.get("/sign-in")
        return await self.post("/sign-in", username=username, password=password)


def dev_password(stack) -> str:
    return (stack.workdir / "dev-supervisor.txt").read_text().splitlines()[1]


@pytest.fixture
async def console(console_stack):
    stack = console_stack()
    async with httpx.AsyncClient(base_url=stack.url("console"), timeout=15) as http:
        yield stack, Browser(http)


async def test_a_supervisor_signs_in_with_a_secure_session_and_out_again(console):
    stack, browser = console

    answer = await browser.sign_in("dev-supervisor", dev_password(stack))
    home = await browser.get("/")
    account = await browser.get("/account")
    out = await browser.post("/sign-out")
    after = await browser.get("/account")

    assert answer.status_code == 303
    cookie = next(
        h for h in answer.headers.get_list("set-cookie") if h.startswith("sipas_session=")
    )
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= {
        part.strip().lower() for part in cookie.split(";")
    }
    assert "Sở Nội vụ (phát triển)" in home.text
    assert "Cán bộ quản lý (Sở Nội vụ)" in account.text
    assert out.status_code == 303
    assert after.status_code == 303
    assert after.headers["location"] == "/sign-in?next=/account"


async def test_a_post_without_the_forms_token_is_refused(console):
    stack, browser = console
    await browser.get("/sign-in")

    forged = await browser.http.post(
        "/sign-in",
        data={"username": "dev-supervisor", "password": dev_password(stack)},
        headers=browser._cookie_header(),
    )

    assert forged.status_code == 403
    assert "sipas_session" not in forged.headers.get("set-cookie", "")


async def test_wrong_passwords_lock_the_account_and_every_attempt_is_audited(console, mongo):
    stack, browser = console

    wrong = [await browser.sign_in("dev-supervisor", f"not-it-{i}") for i in range(5)]
    locked = await browser.sign_in("dev-supervisor", dev_password(stack))
    unknown = await browser.sign_in("nobody-here", "whatever-password")

    assert [a.status_code for a in wrong] == [401] * 5
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in wrong[0].text
    assert locked.status_code == 429
    assert unknown.status_code == 401
    log = AuditLog(lambda: mongo, stack.env["SIPAS_CONSOLE_DATABASE"], "console")
    entries = await log.entries()
    actions = [(e.action, e.actor) for e in entries]
    assert actions.count(("sign_in_failed", "dev-supervisor")) == 5
    assert ("sign_in_refused", "dev-supervisor") in actions
    assert ("sign_in_failed", "unknown") in actions
    assert "nobody-here" not in str([e.details for e in entries])
    assert verify(entries, await log.head()) == []


async def test_a_second_factor_is_set_up_then_asked_for_and_a_code_works_once(console):
    stack, browser = console
    await browser.sign_in("dev-supervisor", dev_password(stack))
    await browser.get("/account")

    enrolling = await browser.post("/account/second-factor")
    secret = re.search(r'class="secret">([A-Z2-7 ]+)<', enrolling.text).group(1).replace(" ", "")
    totp = pyotp.TOTP(secret)
    confirmed = await browser.post("/account/second-factor/confirm", code=totp.now())
    await browser.post("/sign-out")
    first = await browser.sign_in("dev-supervisor", dev_password(stack))
    no_session_yet = await browser.get("/account")
    await browser.get("/sign-in/code")
    code = totp.at(datetime.now(UTC))
    # The code just used to confirm is spent; wait for the app's next code if it is the same.
    signed = await browser.post("/sign-in/code", code=code)
    if signed.status_code == 401:
        signed = await browser.post(
            "/sign-in/code", code=totp.at(datetime.now(UTC), counter_offset=1)
        )

    assert confirmed.status_code == 303
    assert first.headers["location"].startswith("/sign-in/code")
    assert no_session_yet.status_code == 303
    assert signed.status_code == 303, signed.text
    assert (await browser.get("/account")).status_code == 200
    await browser.post("/sign-out")
    await browser.sign_in("dev-supervisor", dev_password(stack))
    await browser.get("/sign-in/code")
    reused = await browser.post("/sign-in/code", code=code)
    assert reused.status_code == 401  # a code is good once
