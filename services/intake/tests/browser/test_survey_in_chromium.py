"""The survey form in real headless Chromium on a 360 px phone screen (Debian chromium)."""

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
from playwright.sync_api import Browser, Page, expect, sync_playwright
from tenacity import Retrying, stop_after_delay, wait_fixed

from sipas_contracts import subjects
from sipas_contracts.events import InvitationSent, ResponseRecorded
from sipas_contracts.ids import uuid7
from sipas_runtime.privacy import keyed_hash, new_token
from sipas_runtime.publishing import encode, event_headers

pytestmark = [pytest.mark.browser, pytest.mark.nats, pytest.mark.mongo, pytest.mark.slow]
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


@pytest.fixture
def running_intake(stack_factory: Any) -> RunningIntake:
    """Intake as its own process, as in production (it does not share this test's GIL)."""
    stack = stack_factory(services=("intake",))
    return RunningIntake(stack.url("intake"), base64.b64decode(stack.env["SIPAS_TOKEN_KEY"]))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    assert executable, "Debian chromium is required: apt-get install -y chromium (make test does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield launched
        launched.close()


def in_thread(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run async NATS work beside Playwright's sync API (which owns this thread's loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(work())).result()


def invite(nats_url: str, token_key: bytes, unit: str = "ht-nx-xuan-hoi") -> str:
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
        instrument_id="sipas-1001-2023",
        token_hash=keyed_hash(token_key, token),
        expires_at=datetime.now(UTC) + timedelta(days=3),
    )

    async def publish() -> None:
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().publish(
                subjects.invitation_sent(unit),
                encode(invitation),
                headers=event_headers(invitation),
            )
        finally:
            await nc.close()

    in_thread(publish)
    return token


def wait_until_known(url: str, token: str) -> None:
    for attempt in Retrying(stop=stop_after_delay(15), wait=wait_fixed(0.1), reraise=True):
        with attempt:
            assert httpx.get(f"{url}/s/{token}", follow_redirects=False).status_code == 303


def recorded(nats_url: str) -> list[ResponseRecorded]:
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


def answer_service_questions(page: Page) -> None:
    for item in page.locator('fieldset[id^="q-HL.DV."]').evaluate_all("fs => fs.map(f => f.id)"):
        page.locator(f'[id="a-{item[2:]}-4"]').check()  # "Hài lòng"
    page.get_by_role("group", name="Kết quả được trả đúng hẹn").get_by_label("Rất hài lòng").check()
    page.get_by_role(
        "group", name="Tiếp nhận, xử lý phản ánh, kiến nghị đúng quy định"
    ).get_by_label("Không áp dụng / Không trả lời").check()


def test_a_citizen_answers_on_a_phone_and_a_second_submit_is_refused(
    browser: Browser, running_intake: RunningIntake, nats_url: str, tmp_path: Path
) -> None:
    url = running_intake.url
    token = invite(nats_url, running_intake.token_key)
    wait_until_known(url, token)
    context = browser.new_context(viewport=PHONE, locale="vi-VN")
    page = context.new_page()

    page.goto(f"{url}/s/{token}")

    assert page.url == f"{url}/s?lang=vi"  # the token left the address bar
    expect(page.locator("h1")).to_contain_text("Phiếu khảo sát sự hài lòng")
    expect(page.locator(".unit")).to_contain_text("Xã Xuân Hội")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    second_tab = context.new_page()  # the same person opens the form twice
    second_tab.goto(f"{url}/s?lang=vi")
    page.bring_to_front()  # background tabs are throttled: every action would take seconds
    answer_service_questions(page)
    first = page.locator('input[name="a.ND.5"]').first
    first.focus()
    page.keyboard.press("Space")  # keyboard works like a tap
    expect(first).to_be_checked()
    page.get_by_label("Ý kiến khác (không bắt buộc)").fill("Cán bộ hướng dẫn tận tình, dễ hiểu.")
    page.screenshot(path=str(tmp_path / "form-360.png"), full_page=True)
    page.get_by_role("button", name="Gửi phiếu khảo sát").click()

    expect(page.locator("h1")).to_have_text("Cảm ơn Ông/Bà!")
    second_tab.bring_to_front()
    second_tab.get_by_role("group", name="Kết quả được trả đúng hẹn").get_by_label(
        "Rất không hài lòng"
    ).check()
    second_tab.get_by_role("button", name="Gửi phiếu khảo sát").click()
    expect(second_tab.locator("h1")).to_have_text("Phiếu khảo sát này đã được gửi")
    expect(second_tab.locator("main")).to_contain_text("chỉ dùng được một lần")
    page.goto(f"{url}/s/{token}")
    expect(page.locator("h1")).to_have_text("Phiếu khảo sát này đã được gửi")
    context.close()

    for attempt in Retrying(stop=stop_after_delay(10), wait=wait_fixed(0.2), reraise=True):
        with attempt:
            [event] = recorded(nats_url)
    assert event.answers["HL.DV.E4.1"] == 5
    assert event.answers["HL.DV.E5.2"] == "na"
    assert event.answers["HL.DV.E1.1"] == 4
    assert event.answers["ND.5"] == 1
    assert event.comment == "Cán bộ hướng dẫn tận tình, dễ hiểu."
    assert event.collection_mode == "online"


def test_an_error_is_announced_and_linked_to_its_question(
    browser: Browser, running_intake: RunningIntake, nats_url: str
) -> None:
    url = running_intake.url
    token = invite(nats_url, running_intake.token_key)
    wait_until_known(url, token)
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{url}/s/{token}?lang=en")

    page.get_by_label("I would like the office to contact me about my comments").check()
    page.get_by_role("button", name="Send my answers").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("You have not answered any question.")
    expect(alert).to_contain_text("Give a phone number or an e-mail")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.close()


def test_an_idle_kiosk_forgets_the_previous_persons_answers(
    browser: Browser, stack_factory: Any
) -> None:
    stack = stack_factory(
        {"SIPAS_INTAKE_OPERATOR_KEYS": "op-key-browser", "SIPAS_INTAKE_KIOSK_IDLE_SECONDS": "3"},
        services=("intake",),
    )
    url = stack.url("intake")
    registered = httpx.post(
        f"{url}/v1/kiosks",
        json={"device_id": "cd-quay-1", "unit": "Xã Cổ Đạm"},
        headers={"Authorization": "Bearer op-key-browser"},
    )
    tablet = browser.new_page(viewport={"width": 800, "height": 1280})
    tablet.goto(registered.json()["pairing_url"])
    expect(tablet.locator("h1")).to_have_text("Đánh giá nhanh")
    tablet.get_by_label("Cá nhân").check()
    tablet.locator('[id="a-HL.DV.E3.1-1"]').check()

    expect(tablet.locator('[id="a-HL.DV.E3.1-1"]')).not_to_be_checked(timeout=8000)

    expect(tablet.get_by_label("Cá nhân")).not_to_be_checked()
    tablet.get_by_label("Đại diện tổ chức, doanh nghiệp").check()
    tablet.locator('[id="a-HL.DV.E1.1-5"]').check()
    tablet.get_by_role("button", name="Gửi đánh giá").click()
    expect(tablet.locator("h1")).to_have_text("Cảm ơn Ông/Bà!")
    expect(tablet.locator("h1")).to_have_text("Đánh giá nhanh", timeout=10_000)  # back by itself
    tablet.close()
