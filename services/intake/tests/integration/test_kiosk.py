"""The counter kiosk: registration, pairing, short form, nonce, pacing, revocation."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest

from sipas_runtime.testing import bearer

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
OPERATOR = bearer("operator")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"kiosk_interval_seconds": 0, "kiosk_idle_seconds": 45}


async def register(intake, device_id: str = "xh-quay-1", **extra: Any) -> Any:
    body = {"device_id": device_id, "unit": "Xã Xuân Hội", **extra}
    return await intake.http.post("/v1/kiosks", json=body, headers=OPERATOR)


async def pair(intake, url: str) -> str:
    path = url.split("8081", 1)[1]
    paired = await intake.http.get(path)
    assert paired.status_code == 303
    assert "HttpOnly" in paired.headers["set-cookie"]
    form = await intake.http.get("/k")
    assert form.status_code == 200
    return form.text


def kiosk_answers(html: str, **extra: str) -> dict[str, str]:
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    return {"csrf": csrf, "lang": "vi", "applicant_kind": "2", "a.HL.DV.E3.1": "1", **extra}


async def test_a_registered_tablet_shows_one_screen_of_faces_and_records_kiosk_answers(
    intake, eventually_fn
):
    registered = await register(intake, counter="Quầy 1 — Hộ tịch")
    assert registered.status_code == 201
    html = await pair(intake, registered.json()["pairing_url"])

    sent = await intake.http.post("/k", data=kiosk_answers(html, **{"a.ND.X3": "4"}))

    assert 'data-idle="45"' in html
    assert "Quầy 1 — Hộ tịch" in unescape(html)
    assert re.findall(r'<fieldset class="faces (\w+)" id="q-([\w.]+)"', html) == [
        ("large", "ND.X3"),
        ("small", "HL.DV.E3.1"),
        ("small", "HL.DV.E3.2"),
        ("small", "HL.DV.E4.1"),
    ]
    assert '<link rel="manifest" href="/k/manifest.webmanifest">' in html
    assert '<script src="/static/kiosk.js" defer>' in html
    assert sent.status_code == 303
    done = await intake.http.get(sent.headers["location"])
    assert 'data-idle="5" data-home="/k?lang=vi"' in done.text  # back by itself (kiosk.js)
    assert 'http-equiv="refresh"' not in done.text  # a timed refresh fails WCAG 2.2.1
    await eventually_fn(lambda: len(intake.collected("response.recorded")) == 1)
    event = intake.collected("response.recorded")[0]
    assert (event["collection_mode"], event["campaign_id"], event["unit"]) == (
        "kiosk", "kiosk", "ht-nx-xuan-hoi"
    )  # fmt: skip
    assert event["invitation_id"] is None
    assert event["applicant_kind"] == "organisation"
    assert event["answers"] == {"ND.X3": 4, "HL.DV.E3.1": 1}


async def test_a_tablet_on_the_longer_kiosk_profile_shows_six_rows_of_faces(intake):
    registered = await register(intake, profile="kiosk")
    html = await pair(intake, registered.json()["pairing_url"])

    assert len(re.findall(r'<fieldset class="faces (?:large|small)" id="q-HL', html)) == 6
    assert "Ý kiến khác" in unescape(html)


async def test_the_tablet_is_an_installable_app_with_an_offline_notice(intake):
    manifest = await intake.http.get("/k/manifest.webmanifest")
    worker = await intake.http.get("/k/sw.js")
    offline = await intake.http.get("/k/offline")

    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert (body["start_url"], body["scope"], body["display"]) == ("/k", "/k", "fullscreen")
    assert body["short_name"] == "Đánh giá tại quầy"
    assert [i["sizes"] for i in body["icons"]] == ["192x192", "512x512"]
    for icon in body["icons"]:
        image = await intake.http.get(icon["src"])
        assert image.headers["content-type"] == "image/png"
        assert image.content.startswith(b"\x89PNG")
    assert worker.headers["service-worker-allowed"] == "/k"
    assert worker.headers["content-type"].startswith("text/javascript")
    assert "/k/offline" in worker.text
    assert offline.status_code == 200
    assert "Đang chờ kết nối mạng" in unescape(offline.text)
    assert 'data-idle="5" data-home="/k?lang=vi"' in offline.text


async def test_a_form_nonce_records_one_answer_however_often_it_is_posted(intake, eventually_fn):
    html = await pair(intake, (await register(intake)).json()["pairing_url"])
    form = kiosk_answers(html)

    codes = [(await intake.http.post("/k", data=form)).status_code for _ in range(3)]

    assert codes == [303, 303, 303]
    await eventually_fn(lambda: len(intake.collected("response.recorded")) == 1)
    assert await intake.db["outbox"].count_documents({}) == 1
    assert intake.metric("sipas_intake_responses_total", mode="kiosk", outcome="duplicate") == 2


async def test_a_tablet_answers_at_most_once_per_interval(intake):
    intake.service.settings.kiosk_interval_seconds = 60
    html = await pair(intake, (await register(intake)).json()["pairing_url"])

    first = await intake.http.post("/k", data=kiosk_answers(html))
    second_form = (await intake.http.get("/k")).text
    second = await intake.http.post("/k", data=kiosk_answers(second_form))

    assert first.status_code == 303
    assert second.status_code == 429
    assert "Xin chờ giây lát" in unescape(second.text)


async def test_the_kiosk_form_asks_who_answers(intake):
    html = await pair(intake, (await register(intake)).json()["pairing_url"])

    shown = await intake.http.post("/k", data=kiosk_answers(html, applicant_kind=""))

    assert shown.status_code == 422
    assert "cá nhân hay đại diện tổ chức" in unescape(shown.text)


async def test_a_revoked_or_unknown_tablet_is_refused(intake):
    html = await pair(intake, (await register(intake)).json()["pairing_url"])
    gone = await intake.http.delete("/v1/kiosks/xh-quay-1", headers=OPERATOR)

    refused = await intake.http.post("/k", data=kiosk_answers(html))
    unknown = await intake.http.get("/k/" + "x" * 43)

    assert gone.status_code == 204
    assert (refused.status_code, unknown.status_code) == (403, 403)
    assert "chưa được đăng ký" in unescape(refused.text)


async def test_registration_checks_unit_profile_and_uniqueness(intake):
    bad_unit = await register(intake, unit="Xã Ma")
    bad_profile = await register(intake, "k2", profile="nope")
    await register(intake, "k3")
    twice = await register(intake, "k3")
    anonymous = await intake.http.post("/v1/kiosks", json={"device_id": "k4", "unit": "x"})
    listed = await intake.http.get("/v1/kiosks", headers=OPERATOR)

    assert (bad_unit.status_code, bad_unit.json()["errors"][0]["field"]) == (422, "unit")
    assert (bad_profile.status_code, bad_profile.json()["errors"][0]["field"]) == (422, "profile")
    assert twice.status_code == 409
    assert anonymous.status_code == 401
    assert [d["device_id"] for d in listed.json()] == ["k3"]
    assert listed.json()[0]["profile"] == "counter"
    assert "pairing_url" not in listed.text
