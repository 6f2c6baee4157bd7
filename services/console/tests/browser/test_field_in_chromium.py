"""The enumerator app in real Chromium at 360×740: lists, interviews offline, sync exactly once.

One stack (intake, sampling, console as processes), one browser. A small batch campaign of
one commune is drawn through sampling's API; an enumerator of that commune signs in to the
console, opens the day's list (kept on the device by the service worker), loses the network
(Playwright's offline mode), records five interviews and a refusal, gets the network back, and
the queue is sent: each interview recorded once whatever the device sends again, the refusal
bringing in the next reserve, logged once in the draw's chain that `sipas sampling verify` checks.
A second device that interviewed the same person is told so, in Vietnamese; paper forms
imported through intake's XLSX show in the same counts as the interviews.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import subprocess
import sysconfig
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest
from openpyxl import load_workbook
from playwright.sync_api import Locator, Page, expect
from pymongo import AsyncMongoClient

from sipas_console.people.accounts import AccountStore, Person
from sipas_console.people.signin import hash_password
from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.testing import eventually

if TYPE_CHECKING:
    from sipas_runtime.stack import Stack

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.nats,
    pytest.mark.mongo,
    pytest.mark.timeout(240),  # one long walk: a stack, three phones, eleven pages checked by axe
]
PHONE = {"width": 360, "height": 740}
T = TypeVar("T")
UNIT = "ht-nx-xuan-hoi"
CAMPAIGN = "field-2026"
USED = {"campaign_id": CAMPAIGN, "used_at": {"$ne": None}}  # invitations answered
PASSWORD = "dieu-tra-vien-2026!"
PLAN = {
    "id": CAMPAIGN,
    "name_vi": "Khảo sát hộ gia đình xã Xuân Hội 2026",
    "name_en": "Household survey, Xuan Hoi commune, 2026",
    "instrument_id": "sipas-2640-2017",
    "mode": "batch",
    "seed": "field-2026/boc-tham",
    "window": {"start": "2026-05-01", "end": "2026-11-30"},
    "fieldwork_end": "2027-01-31",  # before it, contacts are kept (then shredded)
    "scope": {"units": [UNIT]},
    "allocation": {"fixed_per_unit": {"individual": 5, "organisation": 1, "transfer": True}},
    "reserve": {"ratio": 0.5},
    "channels": ["enumerator"],
    "token_ttl_days": 60,
}


SEND_AGAIN = """(items) => fetch('/field/sync', {
  method: 'POST', credentials: 'same-origin',
  headers: {'Content-Type': 'application/x-www-form-urlencoded'},
  body: new URLSearchParams({csrf: document.getElementById('field').dataset.csrf, items: items})
}).then((response) => response.json())"""
KEPT = """async (urls) => {
  for (let i = 0; i < 200; i++) {
    const cache = await caches.open('sipas-field-pages-1');
    const hits = await Promise.all(urls.map((url) => cache.match(url)));
    if (hits.every(Boolean)) { return true; }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}"""


def dossiers(unit_name: str) -> list[dict[str, Any]]:
    """Eight households and two firms, each with an address to visit."""
    delivered = datetime(2026, 11, 4, 3, tzinfo=UTC)
    kinds = ["individual"] * 8 + ["organisation"] * 2
    return [
        {
            "dossier_id": f"000.00.31.H42-261104-{i:04d}",
            "unit": unit_name,
            "procedure_code": "1.001193",
            "procedure_field": "Tư pháp - Hộ tịch",
            "applicant_kind": kind,
            "applicant_id": f"0420{i:08d}",
            "submission_channel": "direct",
            "result_delivery": "counter",
            "received_at": (delivered - timedelta(days=4)).isoformat(),
            "delivered_at": (delivered + timedelta(hours=i)).isoformat(),
            "contact": {
                "phone": f"09120000{i:02d}",
                "name": f"Nguyễn Văn {chr(65 + i)}",
                "address": f"Xóm {i + 1}, xã Xuân Hội",
            },
        }
        for i, kind in enumerate(kinds)
    ]


def drawn_campaign(stack: Stack) -> int:
    """Create, fill and draw the campaign; the number of official invitations."""
    tthc = {"Authorization": f"Bearer {stack.dev_keys['tthc']}"}
    operator = {"Authorization": f"Bearer {stack.dev_keys['operator']}"}
    name = load_sample_hierarchy().units[UNIT].name_vi
    with httpx.Client(timeout=30) as http:
        made = http.post(stack.url("sampling") + "/v1/campaigns", json=PLAN, headers=operator)
        assert made.status_code in {200, 201}, made.text
        sent = http.post(
            stack.url("intake") + "/v1/dossiers/batch", json=dossiers(name), headers=tthc
        )
        assert sent.status_code == 200, sent.text
        assert not sent.json()["rejected"], sent.text

        def population() -> bool:
            page = http.get(f"{stack.url('sampling')}/v1/campaigns/{CAMPAIGN}", headers=operator)
            return sum((page.json().get("population") or {}).values()) >= len(dossiers(name))

        off_loop(lambda: eventually(population, 30))
        draw = http.post(f"{stack.url('sampling')}/v1/campaigns/{CAMPAIGN}/draw", headers=operator)
        assert draw.status_code == 201, draw.text
        return int(draw.json()["official"])


async def _add_enumerator(stack: Stack) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    try:
        now = datetime.now(UTC)
        await AccountStore(client[stack.env["SIPAS_CONSOLE_DATABASE"]]).add(
            Person(
                id="dtv.xuanhoi",
                username="dtv.xuanhoi",
                name="Trần Thị Điều Tra",
                roles=("enumerator",),
                units=(UNIT,),
                password=hash_password(PASSWORD),
                created_at=now,
                updated_at=now,
            )
        )
    finally:
        await client.close()


async def _intake_count(stack: Stack, collection: str, query: dict[str, Any]) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    try:
        return await client[stack.env["SIPAS_INTAKE_DATABASE"]][collection].count_documents(query)
    finally:
        await client.close()


def off_loop(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``work`` on its own loop (Playwright's sync API keeps one in this thread)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(work())).result()


def intake_count(stack: Stack, collection: str, query: dict[str, Any]) -> int:
    return off_loop(lambda: _intake_count(stack, collection, query))


def person(page: Page, invitation_id: str | None) -> Locator:
    return page.locator(f'.person[data-invitation="{invitation_id}"]')


def verified_substitutions(stack: Stack) -> int:
    """``sipas sampling verify`` on the draw's export; the substitutions it checked."""
    operator = {"Authorization": f"Bearer {stack.dev_keys['operator']}"}
    url = f"{stack.url('sampling')}/v1/campaigns/{CAMPAIGN}/draw"
    export = httpx.get(url, headers=operator, timeout=30).json()
    path = stack.workdir / "draw.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    sipas = shutil.which("sipas", path=sysconfig.get_path("scripts"))
    assert sipas is not None
    result = subprocess.run(  # the console never imports another service: the CLI as a user runs it
        [sipas, "sampling", "verify", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert [s["reason"] for s in export["substitutions"]] == ["refused"]
    return len(export["substitutions"])


def interviewed_directly(stack: Stack, invitation_id: str) -> httpx.Response:
    """An interview for a replaced person sent to intake's API, past the console's check."""
    closed = {"campaign_id": CAMPAIGN, "closed_at": {"$ne": None}}
    off_loop(lambda: eventually(lambda: intake_count(stack, "tokens", closed) == 1, 15))
    enumerator = {"Authorization": f"Bearer {stack.dev_keys['enumerator']}"}
    body = {"invitation_id": invitation_id, "mode": "face_to_face", "answers": {"C01": 4}}
    return httpx.post(
        stack.url("intake") + "/v1/interviews", json=body, headers=enumerator, timeout=30
    )


def import_paper_forms(stack: Stack, numbers: list[str]) -> None:
    """Paper forms of the commune, entered in intake's XLSX template and imported."""
    operator = {"Authorization": f"Bearer {stack.dev_keys['operator']}"}
    params = {"instrument": "sipas-2640-2017", "campaign_id": CAMPAIGN, "unit": UNIT}
    with httpx.Client(base_url=stack.url("intake"), headers=operator, timeout=30) as http:
        blank = http.get("/v1/paper/template", params=params)
        assert blank.status_code == 200, blank.text
        book = load_workbook(io.BytesIO(blank.content))
        sheet = book["Phieu"]
        header = [c.value for c in sheet[1]]
        for offset, number in enumerate(numbers):
            for key, value in {"so_phieu": number, "applicant_kind": 1, "C01": 4}.items():
                sheet.cell(row=3 + offset, column=header.index(key) + 1, value=value)
        filled = io.BytesIO()
        book.save(filled)
        xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        report = http.post(
            "/v1/paper/import", content=filled.getvalue(), headers={"content-type": xlsx}
        )
    assert report.status_code == 200, report.text
    assert report.json()["recorded"] == len(numbers), report.text


def answer_and_record(page: Page) -> None:
    """On an interview page: answer every question, record the interview, back to the list."""
    expect(page.get_by_role("heading", level=1)).to_contain_text("Phỏng vấn")
    expect(page.get_by_label("Trực tiếp", exact=True)).to_be_checked()  # the usual mode
    for group in page.locator("fieldset:has(input[type=radio][name^='a.'])").all():
        group.locator("input[type=radio]").last.check()
    page.get_by_role("button", name="Ghi nhận phỏng vấn").click()
    page.wait_for_url(f"**/field/{CAMPAIGN}")


def interview(page: Page, link_index: int, check: Callable[[Page], Any] | None = None) -> None:
    """Open the n-th interview of the list, answer every question, record it."""
    page.locator("a[data-interview]:visible").nth(link_index).click()
    if check is not None:
        expect(page.get_by_role("heading", level=1)).to_contain_text("Phỏng vấn")
        check(page)
    answer_and_record(page)


def test_an_enumerator_records_interviews_offline_and_they_are_recorded_once(
    console_stack: Callable[..., Stack], browser: Any, check_page: Any, sign_in: Any
) -> None:
    stack = console_stack("intake", "sampling")
    official = drawn_campaign(stack)
    off_loop(lambda: _add_enumerator(stack))

    async def invited() -> bool:  # intake hears of the invitations from sampling's events
        return await _intake_count(stack, "tokens", {"campaign_id": CAMPAIGN}) >= official

    off_loop(lambda: eventually(invited, 30))
    context = browser.new_context(viewport=PHONE, locale="vi-VN")
    other = browser.new_context(viewport=PHONE, locale="vi-VN")  # a colleague's phone
    plain = browser.new_context(viewport=PHONE, locale="vi-VN", java_script_enabled=False)
    page, colleague = context.new_page(), other.new_page()
    try:
        sign_in(page, stack, "dtv.xuanhoi", PASSWORD)
        page.goto(f"{stack.url('console')}/field/{CAMPAIGN}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Danh sách khảo sát thực địa")
        expect(page.locator(".person")).to_have_count(10)  # 5 + 1 official, then 3 + 1 reserves
        expect(page.get_by_text("Xóm 1, xã Xuân Hội")).to_be_visible()
        check_page(page, "field-list-360")
        links = page.locator("a[data-interview]:visible")
        hrefs = [links.nth(i).get_attribute("href") for i in range(6)]
        page.evaluate("navigator.serviceWorker.ready")
        assert page.evaluate(KEPT, hrefs), "the interview pages were not kept on the device"
        sign_in(colleague, stack, "dtv.xuanhoi", PASSWORD)
        colleague.goto(f"{stack.url('console')}{hrefs[0]}")  # the same person, on another phone
        late = other.new_page()  # and, in another tab, the household that will refuse
        late.goto(f"{stack.url('console')}{hrefs[4]}")

        context.set_offline(True)
        interview(page, 0, check=lambda p: check_page(p, "field-interview-offline-360"))
        for link_index in (1, 2, 3, 5):  # four more: three households and the firm
            interview(page, link_index)
        refused = page.locator(".person", has=page.locator("button[value=refused]")).nth(4)
        refused_id = refused.get_attribute("data-invitation")
        assert refused_id is not None
        assert refused_id in str(hrefs[4])
        reserve = page.locator('.person[data-state="standby"][data-stratum="individual"]').first
        reserve_id = reserve.get_attribute("data-invitation")
        refused.locator("button[value=refused]").click()  # the fifth household says no
        page.wait_for_url(f"**/field/{CAMPAIGN}")
        expect(person(page, refused_id)).to_contain_text("Kết quả đã lưu trên máy, chờ gửi")
        expect(person(page, reserve_id)).to_contain_text("Người dự phòng tiếp theo")
        status = page.locator("#sync-status")
        expect(status).to_contain_text("Không có mạng: 6 mục")
        check_page(page, "field-list-offline-360")
        queued = page.evaluate("localStorage.getItem('sipas-field-queue')")
        assert len(json.loads(queued)) == 6  # all kept on the device until it is sent
        # (Not "nothing reached intake": Chromium's offline emulation does not hold for
        # requests that pass a service worker (Playwright #2311), so a sync begun as a page
        # loaded can reach the server while its answer is cut off by the next navigation;
        # the device keeps that item and sends it again below, recorded once: the test's
        # point, checked after the device is back online.)

        context.set_offline(False)
        expect(status).to_be_hidden(timeout=20_000)  # sent: the queue is empty
        colleague.bring_to_front()  # a tab behind gets no animation frames: Playwright waits
        answer_and_record(colleague)  # too late: the first phone's interview is recorded
        late.bring_to_front()
        answer_and_record(late)  # too late: the household was replaced from the reserve
        conflicts = late.locator("#conflicts li")
        expect(conflicts).to_have_count(2)
        expect(conflicts.first).to_contain_text("đã được ghi nhận trước đó")
        expect(conflicts.last).to_contain_text("đã được thay bằng người dự phòng")
        check_page(late, "field-conflict-360")
        late.goto(f"{stack.url('console')}/field/offline")  # what the worker shows for the rest
        expect(late.get_by_role("heading", level=1)).to_have_text("Không có mạng")
        check_page(late, "field-offline-360")
        form = plain.new_page()  # without JavaScript, the plain form says the same
        sign_in(form, stack, "dtv.xuanhoi", PASSWORD)
        form.goto(f"{stack.url('console')}{hrefs[4]}")
        form.get_by_role("button", name="Ghi nhận phỏng vấn").click()
        expect(form.locator(".error-summary")).to_contain_text("đã được thay bằng người dự phòng")
        import_paper_forms(stack, ["XH-001", "XH-002"])
        page.reload()
        expect(page.locator(".counts")).to_contain_text("5 trực tiếp")
        expect(page.locator(".counts")).to_contain_text("phiếu giấy đã nhập: 2")
        expect(person(page, refused_id)).to_contain_text("Đã thay bằng người dự phòng")
        expect(person(page, reserve_id).locator("a[data-interview]")).to_be_visible()
        check_page(page, "field-list-synced-360")

        again = page.evaluate(SEND_AGAIN, queued)  # the device sends its queue a second time
        assert [r["status"] for r in again["results"]] == ["done"] * 6
        assert intake_count(stack, "tokens", USED) == 5
        assert verified_substitutions(stack) == 1  # logged once, in the draw's hash chain
        direct = interviewed_directly(stack, refused_id)  # sampling told intake: token closed
        assert direct.status_code == 409, direct.text
        assert direct.json()["type"] == "urn:sipas:problem:invitation-replaced"
        assert [e["field"] for e in direct.json()["errors"]] == ["invitation_id"]
        assert intake_count(stack, "tokens", USED) == 5
        cdp = context.new_cdp_session(page)
        manifest = cdp.send("Page.getAppManifest")
        cdp.detach()
        assert manifest["errors"] == []  # installable: its own window, from /field
        assert json.loads(manifest["data"])["display"] == "standalone"
    finally:
        context.close()
        other.close()
        plain.close()
