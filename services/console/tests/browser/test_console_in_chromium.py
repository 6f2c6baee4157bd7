"""The console's pages in real Chromium: phone and desktop widths, axe-core, the keyboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.nats, pytest.mark.mongo]
SIZES = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1366, "height": 768}}


@pytest.mark.parametrize("size", SIZES)
def test_home_and_error_pages_are_accessible_and_fit_the_screen(
    pages_stack, browser, check_page, size
):
    stack = pages_stack
    page = browser.new_page(viewport=SIZES[size], locale="vi-VN")
    try:
        page.goto(stack.url("console"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Bảng điều khiển SIPAS")
        check_page(page, f"home-{size}")

        page.get_by_role("link", name="English").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("SIPAS console")
        check_page(page, f"home-en-{size}")

        page.goto(stack.url("console") + "/nothing-here")
        expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
        check_page(page, f"not-found-{size}")
    finally:
        page.close()


def test_the_skip_link_is_the_first_stop_of_the_keyboard(pages_stack, browser):
    stack = pages_stack
    page = browser.new_page(viewport=SIZES["phone"], locale="vi-VN")
    try:
        page.goto(stack.url("console"))
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Bỏ qua, đến nội dung chính")
        expect(skip).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("main")).to_be_focused()
    finally:
        page.close()


@pytest.mark.parametrize("size", SIZES)
def test_sign_in_and_account_pages_are_accessible_and_fit_the_screen(
    pages_stack, browser, check_page, sign_in, size
):
    stack = pages_stack
    page = browser.new_page(viewport=SIZES[size], locale="vi-VN")
    try:
        page.goto(stack.url("console") + "/account")
        expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")
        check_page(page, f"sign-in-{size}")
        page.get_by_label("Tên đăng nhập").fill("dev-supervisor")
        page.get_by_label("Mật khẩu").fill("not the password")
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.get_by_role("alert")).to_contain_text("không đúng")
        check_page(page, f"sign-in-wrong-{size}")

        sign_in(page, stack)
        page.goto(stack.url("console") + "/account")
        expect(page.get_by_role("heading", level=1)).to_have_text("Tài khoản của bạn")
        page.get_by_role("button", name="Thiết lập xác thực hai lớp").click()
        expect(page.get_by_role("img", name="Mã QR của khóa")).to_be_visible()
        check_page(page, f"second-factor-{size}")
    finally:
        page.close()
