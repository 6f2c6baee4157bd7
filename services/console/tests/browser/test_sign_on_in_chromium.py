"""Single sign-on end to end: the console, a real local OpenID provider, real Chromium.

The provider is oidc-provider-mock (a real OIDC provider for tests, on a local port); the
province's groups claim maps to roles and units in the console's settings.
"""

from __future__ import annotations

import json

import pytest
from oidc_provider_mock import User, run_server_in_thread
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.nats, pytest.mark.mongo]
GROUPS = {"ubnd-xa-co-dam": {"roles": ["handler"], "units": ["ht-nx-co-dam"]}}
PEOPLE = [
    User(sub="nva-2291", claims={"name": "Nguyễn Văn An", "groups": ["ubnd-xa-co-dam"],
                                 "preferred_username": "an.nv"}),
    User(sub="ttb-7710", claims={"name": "Trần Thị Bình", "groups": ["some-other-group"]}),
]  # fmt: skip


@pytest.fixture
def provider():
    with run_server_in_thread(user_claims=PEOPLE, require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


def console_with_sign_on(console_stack, issuer: str):
    return console_stack(
        extra_env={
            "SIPAS_CONSOLE_OIDC_ISSUER": issuer,
            "SIPAS_CONSOLE_OIDC_CLIENT_ID": "sipas-console",
            "SIPAS_CONSOLE_OIDC_CLIENT_SECRET": "a-client-secret-for-tests",
            "SIPAS_CONSOLE_OIDC_GROUPS": json.dumps(GROUPS),
        }
    )


def test_a_commune_official_signs_in_with_the_provinces_account(
    console_stack, browser, provider, check_page
):
    stack = console_with_sign_on(console_stack, provider)
    page = browser.new_page(viewport={"width": 360, "height": 740}, locale="vi-VN")
    try:
        page.goto(stack.url("console") + "/account")
        page.get_by_role("link", name="Đăng nhập bằng tài khoản của tỉnh").click()
        page.get_by_role("button", name="nva-2291").click()  # the provider's consent page

        expect(page.get_by_role("heading", level=1)).to_have_text("Tài khoản của bạn")
        expect(page.locator("main")).to_contain_text("Nguyễn Văn An")
        expect(page.locator("main")).to_contain_text("Cán bộ xử lý của đơn vị")
        expect(page.locator("main")).to_contain_text("Xã Cổ Đạm")
        check_page(page, "sso-account-phone")
        page.get_by_role("button", name="Đăng xuất").click()
        expect(page.get_by_role("link", name="Đăng nhập")).to_be_visible()
    finally:
        page.close()


def test_someone_without_a_role_here_is_not_signed_in(console_stack, browser, provider):
    stack = console_with_sign_on(console_stack, provider)
    page = browser.new_page(viewport={"width": 360, "height": 740}, locale="vi-VN")
    try:
        page.goto(stack.url("console") + "/sign-in")
        page.get_by_role("link", name="Đăng nhập bằng tài khoản của tỉnh").click()
        page.get_by_role("button", name="ttb-7710").click()

        expect(page.get_by_role("heading", level=1)).to_have_text("Không đăng nhập được")
        expect(page.locator("main")).to_contain_text("chưa được giao vai trò")
        page.goto(stack.url("console") + "/account")
        expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")
    finally:
        page.close()
