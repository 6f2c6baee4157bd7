"""The survey form over HTTP: cookie swap, CSRF, origin checks, errors, limits, pages."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest

from sipas_intake.web.screens import form_of
from sipas_runtime.privacy import unseal

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


STEPS = form_of("sipas-1001-2023", "tthc_user", "vi")[1]
STEP_OF = {item: step.number for step in STEPS for item in step.item_ids()}
TOTAL = len(STEPS)
COMMENT_STEP, REVIEW_STEP = TOTAL - 1, TOTAL


async def save_step(intake, csrf: str, step: int, go: str = "next", **fields: str) -> Any:
    data = {"csrf": csrf, "lang": "vi", "step": str(step), "go": go, **fields}
    return await intake.http.post("/s", data=data)


async def answer_and_send(intake, token: str, comment: str = "") -> Any:
    """Walk the screens that hold answers(), then send from the review."""
    csrf = csrf_of(await open_form(intake, token))
    for item, code in (("HL.DV.E1.1", "5"), ("HL.DV.E3.1", "2"), ("NC.1", "na")):
        saved = await save_step(intake, csrf, STEP_OF[item], **{f"a.{item}": code})
        assert saved.status_code == 303, saved.text
    assert (await save_step(intake, csrf, COMMENT_STEP, comment=comment)).status_code == 303
    return await save_step(intake, csrf, REVIEW_STEP, go="submit")


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

    first = unescape(await open_form(intake, token))
    screens = [
        unescape((await intake.http.get("/s", params={"step": n})).text)
        for n in range(1, COMMENT_STEP)
    ]
    english = unescape((await intake.http.get("/s", params={"lang": "en", "step": 4})).text)

    assert '<html lang="vi">' in first
    assert f"Bước 1/{TOTAL}" in first
    assert "Xã Xuân Hội" in first
    assert (
        sum(len(re.findall(r'<fieldset class="field choices cards" id="q-', p)) for p in screens)
        == 30
    )
    assert "Rất hài lòng" in screens[STEP_OF["HL.DV.E1.1"] - 1]
    assert "HL.CS.A1" not in "".join(screens)
    assert '<html lang="en">' in english
    assert f"Step 4 of {TOTAL}" in english
    assert "Very satisfied" in english
    page = await intake.http.get("/s")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "<script" not in first


async def test_answers_walked_through_the_screens_are_recorded_once_and_the_link_is_then_used(
    intake, eventually_fn
):
    token, invitation = await intake.invite()

    sent = await answer_and_send(intake, token, comment="Tốt")
    thanks = await intake.http.get(sent.headers["location"])
    again = await intake.http.get(f"/s/{token}")

    assert sent.status_code == 303
    assert "Cảm ơn" in unescape(thanks.text)
    assert again.status_code == 409
    assert "Phiếu khảo sát này đã được gửi" in unescape(again.text)
    await eventually_fn(lambda: len(intake.collected("response.recorded")) == 1)
    event = intake.collected("response.recorded")[0]
    assert event["answers"] == {"HL.DV.E1.1": 5, "HL.DV.E3.1": 2, "NC.1": "na"}
    assert event["comment"] is None
    assert unseal(intake.keys.alerts.secret_key, event["sealed_comment"]) == {"comment": "Tốt"}
    assert event["invitation_id"] == str(invitation.invitation_id)
    assert await intake.db["drafts"].count_documents({}) == 0


async def test_a_screen_saves_its_answers_and_the_link_resumes_where_it_stopped(intake):
    token, _ = await intake.invite()
    csrf = csrf_of(await open_form(intake, token))

    first = await save_step(intake, csrf, 2, **{"a.ND.5": "1", "a.ND.6": "2"})
    second = await save_step(intake, csrf, 3, **{"a.ND.X1": "2"})
    intake.http.cookies.clear()
    reopened = await intake.http.get(f"/s/{token}", follow_redirects=True)
    back = await save_step(intake, csrf_of(reopened.text), 4, go="back")
    shown = await intake.http.get(back.headers["location"])

    assert first.headers["location"] == "/s?step=3&lang=vi"
    assert second.headers["location"] == "/s?step=4&lang=vi"
    assert f"Bước 4/{TOTAL}" in unescape(reopened.text)
    assert back.headers["location"] == "/s?step=3&lang=vi"
    assert re.search(r'value="2" checked', shown.text)
    review = unescape((await intake.http.get("/s", params={"step": REVIEW_STEP})).text)
    assert "Ông/Bà đã trả lời 3/30 câu hỏi" in review
    assert "Có nhiều" not in review
    assert "Không có" in review  # ND.5 = 1


async def test_a_screen_can_clear_an_answer_and_other_screens_keep_theirs(intake):
    token, _ = await intake.invite()
    csrf = csrf_of(await open_form(intake, token))
    await save_step(intake, csrf, 2, **{"a.ND.5": "1"})
    await save_step(intake, csrf, STEP_OF["HL.DV.E1.1"], **{"a.HL.DV.E1.1": "4"})

    await save_step(intake, csrf, 2, **{"a.ND.6": "2"})

    review = unescape((await intake.http.get("/s", params={"step": REVIEW_STEP})).text)
    assert "Ông/Bà đã trả lời 2/30 câu hỏi" in review


async def test_the_draft_is_sealed_so_the_database_cannot_read_contact_or_comment(intake):
    token, _ = await intake.invite()
    csrf = csrf_of(await open_form(intake, token))

    await save_step(
        intake,
        csrf,
        COMMENT_STEP,
        comment="Anh Canary ở thôn 3",
        callback="yes",
        callback_phone="0912 777 888",
    )

    [draft] = [d async for d in intake.db["drafts"].find({})]
    assert token not in str(draft)
    assert b"Canary" not in draft["sealed"]
    assert b"0912" not in draft["sealed"]
    review = unescape((await intake.http.get("/s", params={"step": REVIEW_STEP})).text)
    assert "Anh Canary ở thôn 3" in review
    assert "0912 777 888" in review


async def test_two_tabs_saving_different_screens_keep_both(intake):
    token, _ = await intake.invite()
    csrf = csrf_of(await open_form(intake, token))

    await asyncio.gather(
        *(
            save_step(intake, csrf, STEP_OF[item], **{f"a.{item}": "3"})
            for item in ("HL.DV.E1.1", "HL.DV.E2.1", "HL.DV.E3.1")
        ),
        save_step(intake, csrf, 2, **{"a.ND.5": "1"}),
    )

    review = unescape((await intake.http.get("/s", params={"step": REVIEW_STEP})).text)
    assert "Ông/Bà đã trả lời 4/30 câu hỏi" in review


async def test_replaying_the_submit_after_success_is_refused_clearly(intake):
    token, _ = await intake.invite()
    csrf = csrf_of(await open_form(intake, token))
    await save_step(intake, csrf, 2, **{"a.ND.5": "1"})
    assert (await save_step(intake, csrf, REVIEW_STEP, go="submit")).status_code == 303

    replay = await save_step(intake, csrf, REVIEW_STEP, go="submit")
    late_save = await save_step(intake, csrf, 3, **{"a.HL.DV.E1.1": "1"})

    assert replay.status_code == late_save.status_code == 409
    assert "đã được gửi" in unescape(replay.text)
    assert await intake.db["outbox"].count_documents({}) == 1


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
    csrf = csrf_of(await open_form(intake, token))

    saved = await intake.http.post(
        "/s", data=answers(csrf=csrf, step="3", go="next"), headers=headers
    )
    sent = await intake.http.post(
        "/s", data={"csrf": csrf, "step": str(REVIEW_STEP), "go": "submit"}, headers=headers
    )

    assert saved.status_code == sent.status_code == 403
    assert await intake.db["drafts"].count_documents({}) == 0
    assert await intake.db["outbox"].count_documents({}) == 0


async def test_a_post_without_the_csrf_token_is_refused(intake):
    token, _ = await intake.invite()
    await open_form(intake, token)

    refused = await intake.http.post("/s", data=answers(csrf="forged", step="3"))

    assert refused.status_code == 403
    assert await intake.db["drafts"].count_documents({}) == 0


async def test_an_invalid_answer_re_shows_the_screen_with_errors_and_saves_nothing(intake):
    token, _ = await intake.invite()
    csrf = csrf_of(await open_form(intake, token))

    shown = await save_step(
        intake, csrf, STEP_OF["HL.DV.E2.1"], **{"a.HL.DV.E2.1": "7", "a.HL.DV.E2.2": "5"}
    )

    assert shown.status_code == 422
    text = unescape(shown.text)
    assert 'role="alert"' in text
    assert "Câu trả lời không hợp lệ" in text
    assert 'href="#q-HL.DV.E2.1"' in text
    assert re.search(r'value="5" checked', text)
    assert await intake.db["drafts"].count_documents({}) == 0


async def test_a_call_back_without_a_contact_is_asked_for_on_its_screen(intake):
    token, _ = await intake.invite()
    csrf = csrf_of(await open_form(intake, token))

    shown = await save_step(intake, csrf, COMMENT_STEP, callback="yes")

    assert shown.status_code == 422
    assert "Xin ghi số điện thoại hoặc thư điện tử" in unescape(shown.text)
    assert 'href="#callback_phone"' in shown.text


async def test_sending_with_no_answer_at_all_asks_for_one_on_the_review(intake):
    token, _ = await intake.invite()
    csrf = csrf_of(await open_form(intake, token))

    shown = await save_step(intake, csrf, REVIEW_STEP, go="submit")

    assert shown.status_code == 422
    assert "chưa trả lời câu hỏi nào" in unescape(shown.text)
    assert 'href="#review-2"' in shown.text
    assert await intake.db["outbox"].count_documents({}) == 0


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

    refused = await intake.http.post(
        "/s", data=answers(csrf=csrf_of(html), step=str(COMMENT_STEP), comment="x" * 9000)
    )

    assert refused.status_code == 413


async def test_the_stylesheet_is_served_locally(intake):
    css = await intake.http.get("/static/intake.css")
    kit = await intake.http.get("/static/sipas.css")
    missing = await intake.http.get("/static/evil.js")

    assert css.status_code == kit.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert missing.status_code == 404
