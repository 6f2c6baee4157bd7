"""Fixtures of the console's tests: the console as a process beside real services, Chromium.

Screens added to the console reuse these: ``console_stack`` starts the console (and the
services a test names) against this test's NATS and Mongo; ``browser`` is Debian's Chromium
through Playwright; ``check_page`` asserts what every page must satisfy (axe-core without
serious or critical violations, no horizontal scroll) and keeps a screenshot.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

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
