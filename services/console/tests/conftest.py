"""Fixtures of the console's tests: the console as a process beside real services, Chromium.

Screens added to the console reuse these: ``console_stack`` starts the console (and the
services a test names) against this test's NATS and Mongo; ``browser`` is Debian's Chromium
through Playwright; ``check_page`` asserts what every page must satisfy (axe-core without
serious or critical violations, no horizontal scroll) and keeps a screenshot.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright
from pymongo import AsyncMongoClient

from sipas_console.people.accounts import AccountStore, Person
from sipas_console.people.signin import hash_password
from sipas_runtime.embedded import EmbeddedNats
from sipas_runtime.processes import free_port
from sipas_runtime.stack import API_SERVICES, Stack

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1366, "height": 768}
SERIOUS = {"serious", "critical"}


@pytest.fixture
def console_stack(stack_factory: Callable[..., Stack]) -> Callable[..., Stack]:
    """Start the console with ``services``; services left out point at a closed port."""

    def start(*services: str, extra_env: dict[str, str] | None = None) -> Stack:
        closed = f"http://127.0.0.1:{free_port()}"
        absent = {
            f"SIPAS_CONSOLE_{name.upper()}_URL": closed
            for name in API_SERVICES
            if name not in services
        }
        return stack_factory(
            extra_env={**absent, **(extra_env or {})}, services=(*services, "console")
        )

    return start


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    assert executable, "Debian chromium is required: apt-get install -y chromium (make test does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: ``SIPAS_SCREENSHOTS`` when set (to look at them), else tmp."""
    folder = Path(os.environ.get("SIPAS_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def check_page(screenshots: Path) -> Callable[[Page, str], list[dict[str, Any]]]:
    """Assert a page is accessible and fits its width; keep a full-page screenshot."""

    def check(page: Page, name: str) -> list[dict[str, Any]]:
        page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name}: {overflow}px of horizontal scroll"
        violations = Axe().run(page).response["violations"]
        serious = [v for v in violations if v.get("impact") in SERIOUS]
        assert not serious, f"{name}: " + "; ".join(
            f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)" for v in serious
        )
        return list(violations)

    return check


def dev_supervisor_password(stack: Stack) -> str:
    """The development supervisor's password (the stack made it)."""
    return (stack.workdir / "dev-supervisor.txt").read_text().splitlines()[1]


@pytest.fixture
def sign_in() -> Callable[..., None]:
    """Sign a Playwright page in to a console stack (the dev supervisor by default)."""

    def act(page: Page, stack: Stack, username: str = "dev-supervisor", password: str = "") -> None:
        page.goto(stack.url("console") + "/sign-in")
        page.get_by_label("Tên đăng nhập").fill(username)
        page.get_by_label("Mật khẩu").fill(password or dev_supervisor_password(stack))
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(lambda url: "/sign-in" not in url)

    return act


def run_apart(work: Coroutine[Any, Any, Any]) -> Any:
    """Run async set-up apart from Playwright's event loop (which owns the test's thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


async def _add_person(stack: Stack, person: Person) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url, tz_aware=True)
    try:
        await AccountStore(client[stack.env["SIPAS_CONSOLE_DATABASE"]]).add(person)
    finally:
        await client.close()


def _added(stack: Stack, username: str, roles: tuple[str, ...], units: tuple[str, ...]) -> str:
    password = secrets.token_urlsafe(18)
    now = datetime.now(UTC)
    person = Person(
        id=username, username=username, name=f"Cán bộ {username}", roles=roles, units=units,
        password=hash_password(password), created_at=now, updated_at=now,
    )  # fmt: skip
    run_apart(_add_person(stack, person))
    return password


@pytest.fixture
def add_person() -> Callable[[Stack, str, tuple[str, ...], tuple[str, ...]], str]:
    """Add a person to a running console (as the people screen would); their password."""
    return _added


@pytest.fixture
def apart() -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """Run a coroutine apart from Playwright's event loop; its result."""
    return run_apart


STARTUP_SECONDS = 240.0
"""Five processes starting at once took 90 s on the shared 2-core machine under load 15."""
SMALL_SAMPLES = {"SIPAS_SCORING_N_MIN": "2", "SIPAS_SCORING_N_MIN_UNIT": "3"}


def module_stack(
    mongo_url: str, workdir: Path, services: tuple[str, ...], env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """A stack of ``services`` and the console with its own NATS, for a whole module.

    Services left out point at a closed port. Starting processes costs seconds on the shared
    machine, so the browser tests of one module share a stack; each test works on its own
    campaign, unit or person.
    """
    nats_server = EmbeddedNats(workdir / "nats")
    prefix = f"s{uuid.uuid4().hex[:8]}"
    databases = {f"SIPAS_{s.upper()}_DATABASE": f"{prefix}_{s}" for s in (*API_SERVICES, "console")}
    closed = f"http://127.0.0.1:{free_port()}"
    absent = {f"SIPAS_CONSOLE_{s.upper()}_URL": closed for s in API_SERVICES if s not in services}
    stack = Stack(
        workdir / "stack", services=(*services, "console"), ports={},
        nats_url=nats_server.start(), mongo_url=mongo_url,
        extra_env={**databases, **absent, **(env or {})},
    )  # fmt: skip
    try:
        yield stack.start(timeout=STARTUP_SECONDS)
    finally:
        stack.stop()
        nats_server.stop()


@pytest.fixture(scope="module")
def staff_stack(mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for a module's staff screens: the four services and the console."""
    # every person of the module signs in from this one address, more than ten times a minute:
    # the sign-in limit (10 a minute per address) is for one device, not for a whole office
    signins = {"SIPAS_CONSOLE_SIGNIN_RATE": "1000/minute"}
    yield from module_stack(
        mongo_url, tmp_path_factory.mktemp("staff"), API_SERVICES, {**SMALL_SAMPLES, **signins}
    )


@pytest.fixture(scope="module")
def pages_stack(mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for a module's general pages: intake and the console."""
    yield from module_stack(mongo_url, tmp_path_factory.mktemp("pages"), ("intake",))
