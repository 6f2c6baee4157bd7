"""The counter kiosk in real headless Chromium on a tablet screen."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

pytestmark = [pytest.mark.browser, pytest.mark.nats, pytest.mark.mongo, pytest.mark.slow]


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
    tablet.locator('[id="q-HL.DV.E3.1-1"]').check()

    expect(tablet.locator('[id="q-HL.DV.E3.1-1"]')).not_to_be_checked(timeout=8000)

    expect(tablet.get_by_label("Cá nhân")).not_to_be_checked()
    tablet.get_by_label("Đại diện tổ chức, doanh nghiệp").check()
    tablet.locator('[id="q-HL.DV.E1.1-5"]').check()
    tablet.get_by_role("button", name="Gửi đánh giá").click()
    expect(tablet.locator("h1")).to_have_text("Cảm ơn Ông/Bà!")
    expect(tablet.locator("h1")).to_have_text("Đánh giá nhanh", timeout=10_000)  # back by itself
    tablet.close()
