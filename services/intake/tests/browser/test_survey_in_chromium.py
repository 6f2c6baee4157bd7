"""The survey in steps in real headless Chromium on a 360×740 phone screen."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from tenacity import Retrying, stop_after_delay, wait_fixed

from sipas_intake.web.screens import form_of
from sipas_runtime.privacy import unseal

pytestmark = [pytest.mark.browser, pytest.mark.nats, pytest.mark.mongo, pytest.mark.slow]
PHONE = {"width": 360, "height": 740}
STEPS = form_of("sipas-1001-2023", "tthc_user", "vi")[1]
STEP_OF = {item: step.number for step in STEPS for item in step.item_ids()}
TOTAL = len(STEPS)
THANKS, USED = "Cảm ơn Ông/Bà!", "Phiếu khảo sát này đã được gửi"


@pytest.fixture
def check_screen(
    shots: Path, serious_violations: Callable[[Page], list[str]]
) -> Callable[[Page, int], None]:
    return lambda page, number: _check_screen(page, number, shots, serious_violations)


def _check_screen(
    page: Page, number: int, shots: Path, serious_violations: Callable[[Page], list[str]]
) -> None:
    """Progress shown, at most two phone screens tall, no sideways scroll, axe-core clean."""
    page.screenshot(path=str(shots / f"survey-step-{number:02d}.png"), full_page=True)
    expect(page.locator(".progress")).to_contain_text(f"Bước {number}/{TOTAL}")
    expect(page.locator("progress")).to_have_attribute("value", str(number))
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= 2 * PHONE["height"], f"step {number} is {height} px tall"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert serious_violations(page) == [], f"step {number}"


def answer_every_question(page: Page, code: str) -> None:
    """Tap the option ``code`` (or the first one) of each question on the screen."""
    for group in page.locator("fieldset.choices").all():
        wanted = group.locator(f'input[value="{code}"]')
        (wanted if wanted.count() else group.locator("input").first).check()


def first_answer(page: Page) -> Any:
    return page.get_by_role("group", name="Công chức có gây phiền hà").get_by_label("Không có")


def test_a_citizen_answers_in_steps_leaves_at_step_3_resumes_and_sends_once_from_two_tabs(
    *,
    browser: Browser,
    running_intake: Any,
    shots: Path,
    invite: Callable[..., str],
    recorded: Callable[[str], list[Any]],
    check_screen: Callable[[Page, int], None],
    serious_violations: Callable[[Page], list[str]],
) -> None:
    url = running_intake.url
    token = invite(running_intake)
    phone = browser.new_context(viewport=PHONE, locale="vi-VN")
    page = phone.new_page()

    page.goto(f"{url}/s/{token}")
    assert page.url == f"{url}/s?lang=vi"  # the token left the address bar
    expect(page.locator("h1")).to_contain_text("Phiếu khảo sát sự hài lòng")
    expect(page.locator(".unit")).to_contain_text("Xã Xuân Hội")
    check_screen(page, 1)
    page.get_by_role("button", name="Bắt đầu").click()
    check_screen(page, 2)
    first = first_answer(page)
    first.focus()
    page.keyboard.press("Space")  # the keyboard works like a tap
    expect(first).to_be_checked()
    page.get_by_role("button", name="Tiếp tục").click()
    check_screen(page, 3)
    page.get_by_role("group", name="đi lại bao nhiêu lần").get_by_label("1 lần").check()
    phone.close()  # gone at step 3, without pressing Continue

    again = browser.new_context(viewport=PHONE, locale="vi-VN")  # the link opened afresh
    page = again.new_page()
    page.goto(f"{url}/s/{token}")
    check_screen(page, 3)
    expect(page.locator("h1")).to_have_text("Cảm nhận của Ông/Bà (phần 2/2)")
    page.get_by_role("button", name="Quay lại").click()
    expect(page.locator(".progress")).to_contain_text(f"Bước 2/{TOTAL}")
    expect(first_answer(page)).to_be_checked()  # kept from before leaving
    page.get_by_role("button", name="Tiếp tục").click()
    codes = {STEP_OF["HL.DV.E1.1"]: "4", STEP_OF["HL.DV.E4.1"]: "5"}
    for number in range(3, TOTAL - 1):
        expect(page.locator(".progress")).to_contain_text(f"Bước {number}/{TOTAL}")
        answer_every_question(page, codes.get(number, "3"))
        page.get_by_role("button", name="Tiếp tục").click()
        check_screen(page, number + 1)
    page.get_by_label("Ý kiến khác (không bắt buộc)").fill("Cán bộ hướng dẫn tận tình, dễ hiểu.")
    page.get_by_role("button", name="Xem lại câu trả lời").click()
    check_screen(page, TOTAL)
    expect(page.locator("main")).to_contain_text("Ông/Bà đã trả lời 29/30 câu hỏi")
    page.get_by_text("Tiếp cận dịch vụ", exact=True).click()  # opens that part's answers
    expect(page.locator(f"#review-{STEP_OF['HL.DV.E1.1']} dd").first).to_have_text("Hài lòng")
    page.screenshot(path=str(shots / "survey-review-open.png"), full_page=True)

    other_tab = again.new_page()  # the same person has the review open twice
    other_tab.goto(f"{url}/s?step={TOTAL}&lang=vi")
    send = "f => f.requestSubmit(f.querySelector('button[value=submit]'))"
    page.locator("form").evaluate(send)
    other_tab.locator("form").evaluate(send)  # both sent at once

    for tab in (page, other_tab):
        expect(tab.locator("h1")).to_have_text(re.compile(f"^({THANKS}|{USED})$"))
    shown = sorted(tab.locator("h1").inner_text() for tab in (page, other_tab))
    assert shown == sorted([THANKS, USED])
    assert [serious_violations(tab) for tab in (page, other_tab)] == [[], []]  # thanks, used
    again.close()
    for attempt in Retrying(stop=stop_after_delay(10), wait=wait_fixed(0.2), reraise=True):
        with attempt:
            [event] = recorded(running_intake.nats_url)
    assert event.answers["ND.5"] == 1
    assert event.answers["HL.DV.E1.1"] == 4
    assert event.answers["HL.DV.E4.1"] == 5
    assert len(event.answers) == 29
    assert event.comment is None  # only alerts can read it
    assert unseal(running_intake.alerts_secret_key, event.sealed_comment) == {
        "comment": "Cán bộ hướng dẫn tận tình, dễ hiểu."
    }
    assert event.collection_mode == "online"


WIDE = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > 360).map(e => e.outerHTML.slice(0, 80))"""
SMALL_TARGETS = """() => [...document.querySelectorAll(
    'label.choice, .button, summary, a.change, input[type=text], input[type=tel], textarea')]
  .filter(e => e.getBoundingClientRect().height < 44).map(e => e.outerHTML.slice(0, 80))"""


@pytest.mark.parametrize(
    ("instrument", "screens"), [("sipas-1001-2023", TOTAL), ("sipas-2640-2017", 14)]
)
def test_every_screen_fits_two_phone_screens_has_large_targets_and_reflows_at_200_percent(
    browser: Browser,
    running_intake: Any,
    invite: Callable[..., str],
    instrument: str,
    screens: int,
) -> None:
    url = running_intake.url
    token = invite(running_intake, instrument=instrument)
    page = browser.new_page(viewport=PHONE, locale="vi-VN")
    page.goto(f"{url}/s/{token}")

    for number in range(1, screens + 1):
        page.goto(f"{url}/s?step={number}&lang=vi")
        expect(page.locator(".progress")).to_contain_text(f"Bước {number}/{screens}")
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height <= 2 * PHONE["height"], f"{instrument} step {number}: {height} px"
        assert page.evaluate(SMALL_TARGETS) == [], f"{instrument} step {number}"
        page.evaluate("document.documentElement.style.fontSize = '200%'")  # text zoomed
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], (
            page.evaluate(WIDE)
        )
        box = page.locator(".step-nav .button").first.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]
    page.close()


def test_an_error_is_announced_in_english_and_linked_to_its_field(
    browser: Browser,
    running_intake: Any,
    invite: Callable[..., str],
    serious_violations: Callable[[Page], list[str]],
    shots: Path,
) -> None:
    url = running_intake.url
    token = invite(running_intake)
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{url}/s/{token}?lang=en")
    page.goto(f"{url}/s?step={TOTAL - 1}&lang=en")

    page.get_by_label("I would like the office to contact me about my comments").check()
    page.get_by_role("button", name="Check my answers").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Give a phone number or an e-mail")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".progress")).to_contain_text(f"Step {TOTAL - 1} of {TOTAL}")
    assert serious_violations(page) == []
    page.screenshot(path=str(shots / "survey-error-en.png"), full_page=True)
    alert.get_by_role("link").click()
    expect(page.get_by_label("Phone number")).to_be_focused()
    page.close()
