"""Every service's API docs work in a data centre without internet: Swagger UI and ReDoc
come from the service itself, and Chromium is refused every address but the stack's."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.nats, pytest.mark.mongo]


def offline(page: Page) -> list[tuple[str, str]]:
    """Refuse every request that leaves the machine; the refused (resource type, address)."""
    refused: list[tuple[str, str]] = []

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).hostname in {"127.0.0.1", "localhost"}:
            route.continue_()
        else:
            refused.append((route.request.resource_type, route.request.url))
            route.abort("internetdisconnected")

    page.route("**/*", only_local)
    return refused


def test_swagger_ui_and_redoc_render_with_the_network_cut(console_stack, browser):
    stack = console_stack("intake")
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    refused = offline(page)
    try:
        for service, title in (("intake", "intake"), ("console", "console")):
            page.goto(stack.url(service) + "/docs")
            heading = page.locator(".swagger-ui .info .title")
            expect(heading).to_contain_text(title, ignore_case=True, timeout=15_000)
            expect(page.locator(".swagger-ui .opblock").first).to_be_visible()

            page.goto(stack.url(service) + "/redoc")
            expect(page.locator("redoc h1, [role=main] h1").first).to_contain_text(
                title, ignore_case=True, timeout=15_000
            )
        # nothing the pages need comes from outside; ReDoc's footer links its maker's logo
        assert all(kind == "image" for kind, _ in refused), refused
    finally:
        page.close()
