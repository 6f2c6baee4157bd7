"""The counter tablet in real headless Chromium: one screen, reset after each person."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from tenacity import Retrying, stop_after_delay, wait_fixed

pytestmark = [pytest.mark.browser, pytest.mark.nats, pytest.mark.mongo, pytest.mark.slow]
LANDSCAPE = {"width": 1280, "height": 800}
PORTRAIT = {"width": 800, "height": 1280}
THANKS = "Cảm ơn Ông/Bà!"
LABELS = {
    1: "Rất không hài lòng",
    2: "Không hài lòng",
    3: "Bình thường",
    4: "Hài lòng",
    5: "Rất hài lòng",
}
EVENT_FIELDS = {
    "event_id",
    "event_type",
    "occurred_at",
    "producer",
    "schema_version",
    "response_id",
    "campaign_id",
    "unit",
    "instrument_id",
    "collection_mode",
    "applicant_kind",
    "answers",
    "comment",
    "sealed_comment",
    "invitation_id",
    "interviewer_id",
    "sealed_callback",
}


def start_intake(stack_factory: Any, idle_seconds: int) -> Any:
    """Intake as a process, paced for a test: no gap between answers, one second of thanks."""
    return stack_factory(
        {
            "SIPAS_INTAKE_KIOSK_INTERVAL_SECONDS": "0",
            "SIPAS_INTAKE_KIOSK_THANKS_SECONDS": "1",
            "SIPAS_INTAKE_KIOSK_IDLE_SECONDS": str(idle_seconds),
        },
        services=("intake",),
    )


@pytest.fixture
def tablet_stack(stack_factory: Any) -> Any:
    """A tablet that never goes idle during a test (a slow step must not reset the form)."""
    return start_intake(stack_factory, idle_seconds=600)


def pairing_url(stack: Any, device_id: str = "cd-quay-1") -> str:
    registered = httpx.post(
        f"{stack.url('intake')}/v1/kiosks",
        json={"device_id": device_id, "unit": "Xã Cổ Đạm", "counter": "Quầy 2 — Hộ tịch"},
        headers={"Authorization": f"Bearer {stack.dev_keys['operator']}"},
    )
    assert registered.status_code == 201, registered.text
    return str(registered.json()["pairing_url"])


def overall(page: Page) -> Any:
    return page.get_by_role("group", name="Nhìn chung, Ông/Bà hài lòng thế nào")


def test_twenty_people_rate_in_a_row_and_each_rating_is_one_anonymous_response(
    *,
    browser: Browser,
    nats_url: str,
    tablet_stack: Any,
    recorded: Callable[[str], list[Any]],
    serious_violations: Callable[[Page], list[str]],
    shots: Path,
) -> None:
    url = pairing_url(tablet_stack)
    tablet = browser.new_page(viewport=LANDSCAPE, locale="vi-VN")
    tablet.goto(url)
    expect(tablet.locator(".where p")).to_have_text("Xã Cổ Đạm · Quầy 2 — Hộ tịch")
    tablet.screenshot(path=str(shots / "kiosk-1280x800.png"), full_page=True)
    assert tablet.evaluate("document.documentElement.scrollHeight") <= LANDSCAPE["height"]
    assert serious_violations(tablet) == []
    levels = [(i % 5) + 1 for i in range(20)]

    for person, level in enumerate(levels):
        expect(tablet.locator("input:checked")).to_have_count(1)  # only "Cá nhân", pre-set
        overall(tablet).get_by_text(LABELS[level], exact=True).click()
        if person % 4 == 0:
            tablet.get_by_role("group", name="Thái độ lịch sự").get_by_text(
                LABELS[5], exact=True
            ).click()
        if person % 5 == 0:
            tablet.get_by_label("Đại diện tổ chức, doanh nghiệp").check()
        if person == 0:
            tablet.screenshot(path=str(shots / "kiosk-chosen.png"))
        tablet.get_by_role("button", name="Gửi đánh giá").click()
        expect(tablet.locator("h1")).to_have_text(THANKS)
        if person == 0:
            tablet.screenshot(path=str(shots / "kiosk-thanks.png"))
            assert serious_violations(tablet) == []  # the thank-you screen too
        expect(overall(tablet)).to_be_visible(timeout=5000)  # back by itself, blank

    for attempt in Retrying(stop=stop_after_delay(15), wait=wait_fixed(0.2), reraise=True):
        with attempt:
            events = recorded(nats_url)
            assert len(events) == 20
    events.sort(key=lambda e: e.occurred_at)
    assert [e.answers["ND.X3"] for e in events] == levels
    assert [e.answers.get("HL.DV.E3.1") for e in events] == [
        5 if i % 4 == 0 else None for i in range(20)
    ]
    assert [e.applicant_kind for e in events].count("organisation") == 4
    for event in events:
        assert (event.collection_mode, event.campaign_id, event.unit) == (
            "kiosk", "kiosk", "ht-nx-co-dam"
        )  # fmt: skip
        dumped = json.loads(event.model_dump_json())
        assert set(dumped) == EVENT_FIELDS
        assert dumped["invitation_id"] is None
        assert dumped["interviewer_id"] is None
        assert dumped["comment"] is None
        assert dumped["sealed_comment"] is None
        assert dumped["sealed_callback"] is None
    key = url.rsplit("/", 1)[1]
    assert key not in tablet_stack.log_path("intake").read_text()
    tablet.close()


def test_the_tablet_fits_one_screen_upright_too_and_is_an_installable_full_screen_app(
    browser: Browser, tablet_stack: Any, shots: Path, tmp_path: Path
) -> None:
    url = pairing_url(tablet_stack)
    context = browser.browser_type.launch_persistent_context(  # a profile an app installs in
        tmp_path / "profile",
        executable_path=os.environ.get("CHROMIUM_PATH") or shutil.which("chromium"),
        args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
        viewport=PORTRAIT,
        locale="vi-VN",
    )
    tablet = context.pages[0]
    tablet.goto(url)

    assert tablet.evaluate("document.documentElement.scrollHeight") <= PORTRAIT["height"]
    tablet.screenshot(path=str(shots / "kiosk-800x1280.png"))
    script = tablet.evaluate("navigator.serviceWorker.ready.then(r => r.active.scriptURL)")
    assert script.endswith("/k/sw.js")
    cdp = context.new_cdp_session(tablet)
    assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == []
    assert json.loads(manifest["data"])["display"] == "fullscreen"

    context.set_offline(True)  # the network drops: a clear notice, not the browser's error
    tablet.goto(tablet_stack.url("intake") + "/k")
    expect(tablet.locator("h1")).to_have_text("Đang chờ kết nối mạng")
    context.set_offline(False)
    expect(overall(tablet)).to_be_visible(timeout=10_000)  # it comes back by itself
    context.close()


def test_an_idle_tablet_forgets_the_previous_persons_choice(
    browser: Browser, stack_factory: Any
) -> None:
    idle_stack = start_intake(stack_factory, idle_seconds=3)
    tablet = browser.new_page(viewport=LANDSCAPE, locale="vi-VN")
    tablet.goto(pairing_url(idle_stack))
    overall(tablet).get_by_text(LABELS[1], exact=True).click()
    tablet.get_by_label("Đại diện tổ chức, doanh nghiệp").check()

    expect(overall(tablet).locator("input:checked")).to_have_count(0, timeout=8000)

    expect(tablet.get_by_label("Cá nhân")).to_be_checked()
    tablet.close()
