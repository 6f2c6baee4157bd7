"""The console as a process: its pages, languages, headers and error pages over HTTP."""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.mongo]


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_home_page_is_vietnamese_first_and_reports_which_services_answer(console_stack):
    stack = console_stack("intake")

    async with httpx.AsyncClient(base_url=stack.url("console"), timeout=10) as http:
        vietnamese = await http.get("/")
        english = await http.get("/", params={"lang": "en"})
        remembered = await http.get("/")  # the client kept the cookie set just above

    assert vietnamese.status_code == 200
    assert vietnamese.headers["content-language"] == "vi"
    assert "frame-ancestors 'none'" in vietnamese.headers["content-security-policy"]
    assert "unsafe-inline" not in vietnamese.headers["content-security-policy"]
    page = text_of(vietnamese.text)
    assert "Bảng điều khiển SIPAS" in page
    assert "Tiếp nhận (hồ sơ và phiếu khảo sát): đang hoạt động" in page
    assert "Tính điểm (chỉ số hài lòng): không phản hồi" in page
    assert english.headers["content-language"] == "en"
    assert "Intake (dossiers and survey forms): working" in text_of(english.text)
    assert "sipas_lang=en" in english.headers["set-cookie"]
    assert "httponly" in english.headers["set-cookie"].lower()
    assert remembered.headers["content-language"] == "en"
    async with httpx.AsyncClient(base_url=stack.url("console"), timeout=10) as http:
        metrics = (await http.get("/metrics")).text
    # Pages of the screen areas' routers are labelled by their route, not 'unmatched'.
    assert 'method="GET",route="/",service="console"' in metrics.replace(" ", "")


async def test_unknown_page_is_an_html_page_in_the_viewers_language(console_stack):
    stack = console_stack()

    async with httpx.AsyncClient(base_url=stack.url("console"), timeout=10) as http:
        missing = await http.get("/no-such-page", headers={"Accept-Language": "en-GB,en;q=0.9"})
        css = await http.get("/static/console.css")
        kit_css = await http.get("/static/sipas.css")

    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in missing.text
    assert 'href="/no-such-page?lang=vi"' in missing.text
    assert css.status_code == kit_css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
