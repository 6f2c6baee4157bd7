"""Real headless Chromium (Debian's) driving intake as its own process, with axe-core."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright
from tenacity import Retrying, stop_after_delay, wait_fixed

from sipas_contracts import subjects
from sipas_contracts.events import InvitationSent, ResponseRecorded
from sipas_contracts.ids import uuid7
from sipas_runtime.privacy import keyed_hash, new_token
from sipas_runtime.publishing import encode, event_headers

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 360, "height": 740}
T = TypeVar("T")


@dataclass(frozen=True)
class RunningIntake:
    url: str
    token_key: bytes
    nats_url: str
    alerts_secret_key: str = ""


@pytest.fixture
def running_intake(stack_factory: Any, nats_url: str) -> RunningIntake:
    """Intake as its own process, as in production (it does not share this test's GIL)."""
    stack = stack_factory(services=("intake",))
    token_key = base64.b64decode(stack.env["SIPAS_TOKEN_KEY"])
    alerts_key = stack.env["SIPAS_ALERTS_SECRET_KEY"]
    return RunningIntake(stack.url("intake"), token_key, nats_url, alerts_key)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    assert executable, "Debian chromium is required: apt-get install -y chromium (make test does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go (SIPAS_SCREENSHOTS keeps them after the run, to look at)."""
    folder = Path(os.environ.get("SIPAS_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


@pytest.fixture(scope="session")
def serious_violations() -> Callable[[Page], list[str]]:
    """axe-core's serious and critical violations on a page as it is now."""
    return _serious_violations


def in_thread(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run async NATS work beside Playwright's sync API (which owns this thread's loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(work())).result()


def _invite(
    intake: RunningIntake, unit: str = "ht-nx-xuan-hoi", instrument: str = "sipas-1001-2023"
) -> str:
    """Publish an invitation and wait until intake opens its link."""
    token = new_token()
    invitation = InvitationSent(
        event_id=uuid7(),
        occurred_at=datetime.now(UTC),
        producer="sampling",
        invitation_id=uuid7(),
        campaign_id="ht-2026",
        unit=unit,
        stratum="individual",
        channel="sms",
        draw_list="continuous",
        instrument_id=instrument,
        token_hash=keyed_hash(intake.token_key, token),
        expires_at=datetime.now(UTC) + timedelta(days=3),
    )

    async def publish() -> None:
        nc = await nats.connect(intake.nats_url)
        try:
            await nc.jetstream().publish(
                subjects.invitation_sent(unit),
                encode(invitation),
                headers=event_headers(invitation),
            )
        finally:
            await nc.close()

    in_thread(publish)
    for attempt in Retrying(stop=stop_after_delay(15), wait=wait_fixed(0.1), reraise=True):
        with attempt:
            link = httpx.get(f"{intake.url}/s/{token}", follow_redirects=False)
            assert link.status_code == 303
    return token


def _recorded(nats_url: str) -> list[ResponseRecorded]:
    """Every response on the stream."""

    async def read() -> list[ResponseRecorded]:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            count = (await js.stream_info("SIPAS_RESPONSES")).state.messages
            return [
                ResponseRecorded.model_validate_json((await js.get_msg("SIPAS_RESPONSES", s)).data)
                for s in range(1, count + 1)
            ]
        finally:
            await nc.close()

    return in_thread(read)


@pytest.fixture(scope="session")
def invite() -> Callable[..., str]:
    """``invite(running_intake, unit=, instrument=)``: a new invitation's token, once known."""
    return _invite


@pytest.fixture(scope="session")
def recorded() -> Callable[[str], list[ResponseRecorded]]:
    """``recorded(nats_url)``: every response on the stream."""
    return _recorded
