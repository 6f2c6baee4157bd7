"""The supervisor's administration in Chromium at 360 px: people, machine keys, the audit log.

One walk through what Sở Nội vụ does on the first day: add a commune's handler (who then
signs in with the temporary password), make the key of the province's one-stop system (it
works on intake within seconds), revoke it (it stops within seconds), and read the audit
log, whose chain holds. Every page is checked with axe-core and for horizontal scroll.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.nats,
    pytest.mark.mongo,
    pytest.mark.slow,
    pytest.mark.timeout(300),  # a long walk: nine pages, two sign-ins, a key made and revoked
]
PHONE = {"width": 360, "height": 740}
DOSSIER = {
    "dossier_id": "000.00.00.H42-261207-0001",
    "unit": "Xã Cổ Đạm",
    "procedure_code": "1.001193",
    "applicant_kind": "individual",
    "submission_channel": "direct",
    "received_at": "2026-12-01T08:00:00+07:00",
    "delivered_at": "2026-12-04T10:00:00+07:00",
}


def status_with(url: str, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(f"{url}/v1/dossiers/{DOSSIER['dossier_id']}", headers=headers).status_code


def within_five_seconds(check) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < 5, "not within 5 s"
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_supervisor_adds_a_handler_makes_and_revokes_a_key_and_reads_the_audit_log(
    console_stack, browser, check_page, sign_in
):
    stack = console_stack("intake")
    console = stack.url("console")
    page = browser.new_page(viewport=PHONE, locale="vi-VN")
    try:
        sign_in(page, stack)
        page.goto(console + "/people")
        check_page(page, "people-list")
        page.get_by_role("link", name="Thêm người dùng").click()
        page.get_by_label("Tên đăng nhập").fill("cb.codam")
        page.get_by_label("Họ và tên").fill("Hoàng Thị Cúc")
        page.get_by_role("button", name="Thêm người dùng").click()
        expect(page.get_by_role("alert")).to_contain_text("Vui lòng chọn ít nhất một vai trò.")
        check_page(page, "people-new-error")
        page.get_by_label("Cán bộ xử lý của đơn vị").check()
        page.get_by_label("Xã Cổ Đạm").check()
        page.get_by_role("button", name="Thêm người dùng").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Tài khoản đã được tạo")
        check_page(page, "people-created")
        temporary = page.locator("code.secret").inner_text()

        page.get_by_role("button", name="Đăng xuất").click()
        sign_in(page, stack, "cb.codam", temporary)
        page.goto(console + "/account")
        expect(page.locator("main")).to_contain_text("Cán bộ xử lý của đơn vị")
        expect(page.locator("main")).to_contain_text("Xã Cổ Đạm")
        page.get_by_role("button", name="Đăng xuất").click()

        sign_in(page, stack)
        page.goto(console + "/keys/new")
        page.get_by_label("Hệ thống sử dụng").fill("Hệ thống một cửa tỉnh")
        page.get_by_label("Kết nối hệ thống giải quyết TTHC").check()
        page.get_by_role("button", name="Tạo khóa").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Khóa đã được tạo")
        check_page(page, "key-made")
        key = page.locator("code.secret").inner_text()
        assert re.fullmatch(r"sipas_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key)
        works = within_five_seconds(lambda: status_with(stack.url("intake"), key) == 404)

        page.goto(console + "/keys")
        check_page(page, "keys-list")
        page.get_by_role("button", name="Thu hồi khóa của Hệ thống một cửa tỉnh").click()
        expect(page.locator("main")).to_contain_text("đã thu hồi")
        stops = within_five_seconds(lambda: status_with(stack.url("intake"), key) == 401)

        page.goto(console + "/audit")
        expect(page.locator("main")).to_contain_text("chuỗi nguyên vẹn")
        for action in ("person_created", "key_created", "key_revoked", "signed_in"):
            expect(page.locator("ol.audit")).to_contain_text(action)
        check_page(page, "audit-log")
        assert key not in page.content()
        print(f"key worked after {works:.3f} s, stopped after {stops:.3f} s")
    finally:
        page.close()
