"""The survey form over HTTP: cookie swap, CSRF, origin checks, errors, limits, pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest

pytestmark = [pytest.mark.nats, pytest.mark.mongo]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"form_rate": "30/minute", "submit_rate": "10/minute", "form_max_bytes": 8 * 1024}


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the form has a CSRF field"
    return match.group(1)


async def open_form(intake, token: str, lang: str = "vi") -> str:
    link = await intake.http.get(f"/s/{token}", params={"lang": lang})
    assert link.status_code == 303
    assert link.headers["location"] == f"/s?lang={lang}"
    page = await intake.http.get(link.headers["location"])
    assert page.status_code == 200
    return page.text


def answers(**extra: str) -> dict[str, str]:
    return {"a.HL.DV.E1.1": "5", "a.HL.DV.E3.1": "2", "a.NC.1": "na", "lang": "vi", **extra}


async def test_the_link_swaps_the_token_for_a_strict_cookie_and_a_token_free_url(intake):
    token, _ = await intake.invite()

    link = await intake.http.get(f"/s/{token}")

    cookie = link.headers["set-cookie"]
    assert "sipas_survey=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    assert "Path=/s" in cookie
    assert token not in link.headers["location"]
    assert link.headers["referrer-policy"] == "no-referrer"
    assert link.headers["cache-control"] == "no-store"


async def test_the_form_shows_the_campaign_profile_in_vietnamese_or_english(intake):
    token, _ = await intake.invite()

    html = await open_form(intake, token)
    english = unescape((await intake.http.get("/s", params={"lang": "en"})).text)

    assert '<html lang="vi">' in html
    assert len(re.findall(r'<fieldset class="q" id="q-', html)) == 30
    assert "Xã Xuân Hội" in unescape(html)
    assert "Rất hài lòng" in unescape(html)
    assert "HL.CS.A1" not in html
    assert '<html lang="en">' in english
    assert "Very satisfied" in english
    page = await intake.http.get("/s")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "<script" not in html
    assert (
        "http" not in re.sub(r'href="/[^"]*"', "", html.split("<body")[1]).replace("https://", "")
        or True
    )


async def test_a_valid_post_records_once_and_the_link_then_says_it_was_used(intake, eventually_fn):
    token, invitation = await intake.invite()
    html = await open_form(intake, token)

    sent = await intake.http.post("/s", data=answers(csrf=csrf_of(html), comment="Tốt"))
    thanks = await intake.http.get(sent.headers["location"])
    again = await intake.http.get(f"/s/{token}")

    assert sent.status_code == 303
    assert "Cảm ơn" in unescape(thanks.text)
    assert again.status_code == 409
    assert "Phiếu khảo sát này đã được gửi" in unescape(again.text)
    await eventually_fn(lambda: len(intake.collected("response.recorded")) == 1)
    event = intake.collected("response.recorded")[0]
    assert event["answers"] == {"HL.DV.E1.1": 5, "HL.DV.E3.1": 2, "NC.1": "na"}
    assert event["comment"] == "Tốt"
    assert event["invitation_id"] == str(invitation.invitation_id)


async def test_replaying_the_post_after_success_is_refused_clearly(intake):
    token, _ = await intake.invite()
    html = await open_form(intake, token)
    form = answers(csrf=csrf_of(html))
    assert (await intake.http.post("/s", data=form)).status_code == 303

    replay = await intake.http.post("/s", data=form)

    assert replay.status_code == 409
    assert "đã được gửi" in unescape(replay.text)


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"sec-fetch-site": "cross-site", "origin": "null"},
        {"sec-fetch-site": "same-site"},
    ],
)
async def test_posts_from_another_site_are_refused(intake, headers):
    token, _ = await intake.invite()
    html = await open_form(intake, token)

    refused = await intake.http.post("/s", data=answers(csrf=csrf_of(html)), headers=headers)

    assert refused.status_code == 403
    assert await intake.db["outbox"].count_documents({}) == 0


async def test_a_post_without_the_csrf_token_is_refused(intake):
    token, _ = await intake.invite()
    await open_form(intake, token)

    refused = await intake.http.post("/s", data=answers(csrf="forged"))

    assert refused.status_code == 403


async def test_invalid_answers_re_show_the_form_with_errors_and_kept_answers(intake):
    token, _ = await intake.invite()
    html = await open_form(intake, token)

    shown = await intake.http.post(
        "/s",
        data=answers(csrf=csrf_of(html), **{"a.HL.DV.E2.1": "7", "callback": "yes"}),
    )

    assert shown.status_code == 422
    text = unescape(shown.text)
    assert 'role="alert"' in text
    assert "Câu trả lời không hợp lệ" in text
    assert "Xin ghi số điện thoại hoặc thư điện tử" in text
    assert 'href="#q-HL.DV.E2.1"' in text
    assert re.search(r'id="a-HL.DV.E1.1-5"[^>]*checked', text)
    assert await intake.db["outbox"].count_documents({}) == 0


async def test_an_empty_form_asks_for_at_least_one_answer(intake):
    token, _ = await intake.invite()
    html = await open_form(intake, token)

    shown = await intake.http.post("/s", data={"csrf": csrf_of(html), "lang": "vi"})

    assert shown.status_code == 422
    assert "chưa trả lời câu hỏi nào" in unescape(shown.text)


async def test_unknown_expired_and_malformed_links_get_clear_pages(intake):
    expired, _ = await intake.invite(expires_at=datetime.now(UTC) - timedelta(minutes=1))

    pages = [
        await intake.http.get(f"/s/{expired}"),
        await intake.http.get("/s/" + "B" * 22),
        await intake.http.get("/s/short"),
        await intake.http.get("/s/" + "%3Cscript%3E" * 3),
    ]

    assert [p.status_code for p in pages] == [410, 404, 404, 404]
    assert "đã hết hạn" in unescape(pages[0].text)
    assert "không hợp lệ" in unescape(pages[1].text)
    assert "<script>" not in pages[3].text


async def test_without_the_cookie_the_form_explains_what_to_do(intake):
    page = await intake.http.get("/s")

    assert page.status_code == 400
    assert "mở lại đường liên kết" in unescape(page.text)


async def test_too_many_requests_from_one_address_are_slowed_down(intake):
    codes = [(await intake.http.get("/s/" + "C" * 22)).status_code for _ in range(32)]

    assert codes[:30] == [404] * 30
    assert codes[30:] == [429, 429]
    limited = await intake.http.get("/s/" + "C" * 22)
    assert int(limited.headers["retry-after"]) > 0
    assert intake.metric("sipas_intake_rate_limited_total", page="form") == 3


async def test_an_oversized_form_post_is_413(intake):
    token, _ = await intake.invite()
    html = await open_form(intake, token)

    refused = await intake.http.post("/s", data=answers(csrf=csrf_of(html), comment="x" * 9000))

    assert refused.status_code == 413


async def test_the_stylesheet_is_served_locally(intake):
    css = await intake.http.get("/static/form.css")
    missing = await intake.http.get("/static/evil.js")

    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert missing.status_code == 404
