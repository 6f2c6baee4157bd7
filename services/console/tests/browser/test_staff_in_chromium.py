"""The staff screens in real Chromium, per role, on one shared stack (scoring, alerts, console).

- A commune's handler has the case inbox open; a response rated 1 arrives on NATS and the
  case appears within 5 s without a reload; the handler works it to resolution with the
  keyboard only. A handler of another commune cannot see it, neither the page nor the API.
  The province's board then shows the commune's cases handled on time.
- Publication, four eyes: a person who may draft and approve freezes the figures (compared
  with the previously published ones) and is offered no approval (scoring refuses it too);
  a second person approves and publishes; the earlier publication is superseded.
- Draws: an operator runs a commune's draw in the browser; after a substitution, an observer
  sees the log, verifies the draw (MATCH) and downloads the lists without contacts.
- Administration at 360 px, what Sở Nội vụ does on the first day: add a commune's handler
  (who then signs in with the temporary password), make the key of the province's one-stop
  system (it works on intake within seconds), revoke it (it stops within seconds), and read
  the audit log, whose chain holds.
- A hall screen: nobody signed in, the commune's screen key pasted once; a counter rating
  today changes the board within 5 s without a reload; a revoked key blanks it; the
  campaign is shown by its name.
"""

from __future__ import annotations

import io
import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import nats
import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Locator, Page, expect

from sipas_contracts import subjects
from sipas_contracts.events import CampaignPlanned
from sipas_contracts.ids import uuid7
from sipas_contracts.instrument import load_catalogue
from sipas_contracts.testing import response
from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.stack import Stack
from sipas_runtime.testing import Identities

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.nats,
    pytest.mark.mongo,
    pytest.mark.timeout(240),
]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1366, "height": 768}
CO_DAM, XUAN_HOI = "ht-nx-co-dam", "ht-nx-xuan-hoi"
LIVE_WITHIN_MS = 5000
MAX_TABS = 80


def tab_to(page: Page, target: Locator) -> int:
    """Press Tab until ``target`` has the focus (as a keyboard user would); the presses."""
    for presses in range(1, MAX_TABS + 1):
        page.keyboard.press("Tab")
        if target.evaluate("node => node === document.activeElement"):
            return presses
    pytest.fail(f"{target} not reached with {MAX_TABS} presses of Tab")


async def rate_one(nats_url: str, unit: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        event = response(unit=unit, answers={"HL.DV.E1.1": 1}, occurred_at=datetime.now(UTC))
        await nc.jetstream().publish(
            subjects.response_recorded(unit), encode(event), headers=event_headers(event)
        )
    finally:
        await nc.close()


async def case_as(nats_url: str, alerts: str, case_id: str, unit: str) -> int:
    """Status of alerts' ``GET /v1/cases/{id}`` for a handler of ``unit`` (a real token)."""
    async with await Identities.open(nats_url) as ids, httpx.AsyncClient() as http:
        headers = ids.headers("handler", units=[unit], subject=f"api-{unit}")
        answer = await http.get(f"{alerts}/v1/cases/{case_id}", headers=headers, timeout=10)
        return answer.status_code


def test_a_rating_of_one_reaches_the_handler_live_and_is_resolved_with_the_keyboard(
    staff_stack: Stack, browser: Browser, *, check_page, sign_in, add_person, apart
) -> None:
    stack, console = staff_stack, staff_stack.url("console")
    codam = add_person(stack, "cb.codam", ("handler",), (CO_DAM,))
    xuanhoi = add_person(stack, "cb.xuanhoi", ("handler",), (XUAN_HOI,))
    page = browser.new_page(viewport=DESKTOP, locale="vi-VN")
    try:
        sign_in(page, stack, "cb.codam", codam)
        page.goto(console + "/cases")
        expect(page.get_by_role("heading", name="Vụ việc đang mở (0)")).to_be_visible()
        expect(page.locator("html[data-live-connected]")).to_have_count(1)

        apart(rate_one(stack.nats_url, CO_DAM))
        sent = time.monotonic()
        link = page.get_by_role("link", name=re.compile("Xã Cổ Đạm"))
        expect(link).to_be_visible(timeout=LIVE_WITHIN_MS)
        print(f"case in the inbox {time.monotonic() - sent:.2f} s after the response")
        # The countdown is alerts' working time (office hours, holidays), not clock time.
        expect(page.locator(".due")).to_have_text(re.compile(r"còn [0-9,]+ (ngày|giờ) làm việc"))
        check_page(page, "cases-inbox-desktop")

        tab_to(page, link)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Xã Cổ Đạm")
        case_id = page.url.rsplit("/", 1)[1]
        check_page(page, "case-open-desktop")
        for button, state in (("Tiếp nhận", "Đã tiếp nhận"), ("Bắt đầu xử lý", "Đang xử lý")):
            tab_to(page, page.get_by_role("button", name=button, exact=True))
            page.keyboard.press("Enter")
            expect(page.locator("#case-view .tags")).to_contain_text(state)
        tab_to(page, page.get_by_label("Kết quả xử lý"))
        page.keyboard.type("Đã gọi lại người dân, xin lỗi và hẹn trả kết quả trong ngày.")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        expect(page.locator("#case-view .tags")).to_contain_text("Đã xử lý")
        expect(page.locator("#case-history")).to_contain_text("Đã gọi lại người dân")
        # the history names each change in the viewer's language, not alerts' codes
        expect(page.locator("#case-history")).to_contain_text("Bắt đầu xử lý")
        expect(page.locator("#case-history")).not_to_contain_text("resolved")
        page.set_viewport_size(PHONE)
        check_page(page, "case-resolved-phone")
    finally:
        page.close()

    other = browser.new_context(viewport=PHONE, locale="vi-VN")
    try:
        page = other.new_page()
        sign_in(page, stack, "cb.xuanhoi", xuanhoi)
        page.goto(console + "/cases?show=all")
        expect(page.get_by_role("heading", name="Tất cả vụ việc (0)")).to_be_visible()
        refused = page.goto(f"{console}/cases/{case_id}")
        assert refused is not None
        assert refused.status == 403
        expect(page.get_by_role("heading", level=1)).to_have_text("Không có quyền mở trang này")
        check_page(page, "case-refused-phone")
    finally:
        other.close()
    alerts = stack.url("alerts")
    assert apart(case_as(stack.nats_url, alerts, case_id, XUAN_HOI)) == 403
    assert apart(case_as(stack.nats_url, alerts, case_id, CO_DAM)) == 200

    province = browser.new_page(viewport=DESKTOP, locale="vi-VN")
    try:
        sign_in(province, stack)  # Sở Nội vụ's supervisor: the province case board
        province.goto(console + "/board")
        expect(province.get_by_role("heading", name="Vụ việc quá hạn (0)")).to_be_visible()
        # Opened 1, acknowledged and resolved within their deadlines: 100 % on time.
        expect(province.get_by_role("row", name=re.compile("Xã Cổ Đạm"))).to_have_text(
            re.compile(r"Xã Cổ Đạm\s*0\s*0\s*1\s*100,0 %\s*100,0 %")
        )
        check_page(province, "board-desktop")
        province.set_viewport_size(PHONE)
        check_page(province, "board-phone")
    finally:
        province.close()


C2640 = load_catalogue("sipas-2640-2017")
CAMPAIGN = "c2026-cong-bo"
PUBLISHED_UNITS = ("ht-nx-xuan-an", "ht-nx-cuong-gian")  # no case: no rating of 1 or 2


async def answer(nats_url: str, count: int, rating: int) -> None:
    """``count`` responses of campaign c2026 to each published unit, every item ``rating``."""
    items = dict.fromkeys(C2640.satisfaction_items(), rating)
    nc = await nats.connect(nats_url)
    try:
        for unit in PUBLISHED_UNITS:
            for _ in range(count):
                event = response(
                    campaign_id=CAMPAIGN, unit=unit, instrument_id=C2640.id, answers=items
                )
                await nc.jetstream().publish(
                    subjects.for_event(event), encode(event), headers=event_headers(event)
                )
    finally:
        await nc.close()


def counted(stack: Stack, total: int) -> None:
    """Wait until scoring counts ``total`` responses of c2026 in the province."""
    headers = {"Authorization": f"Bearer {stack.dev_keys['supervisor']}"}

    def reached() -> httpx.Response | None:
        answer = httpx.get(
            stack.url("scoring") + "/v1/indices", params={"campaign": CAMPAIGN}, headers=headers
        )
        rows = answer.json().get("rows", []) if answer.status_code == 200 else []
        done = any(r["tier"] == "province" and r["responses"] == total for r in rows)
        return None if done else answer

    started = time.monotonic()
    while (answer := reached()) is not None:
        assert time.monotonic() - started < 60, answer.text[:2000]
        time.sleep(0.2)


def published_by_api(stack: Stack) -> str:
    """The first publication of c2026: drafted by the operator's key, published by another."""
    drafter = {"Authorization": f"Bearer {stack.dev_keys['operator']}"}
    approver = {"Authorization": f"Bearer {stack.dev_keys['supervisor']}"}
    with httpx.Client(base_url=stack.url("scoring"), timeout=30) as http:
        draft = http.post("/v1/publications", json={"campaign_id": CAMPAIGN}, headers=drafter)
        record = draft.json()["id"]
        for step, body in (("approve", {}), ("publish", {"number": "12/BC-SNV"})):
            done = http.post(f"/v1/publications/{record}/{step}", json=body, headers=approver)
            assert done.status_code == 200, done.text
    return str(record)


async def approve_as(nats_url: str, scoring: str, record: str, subject: str) -> int:
    """Status of an approval by ``subject`` (an approver) through scoring's API."""
    async with await Identities.open(nats_url) as ids, httpx.AsyncClient() as http:
        headers = ids.headers("approver", units=["ht"], subject=subject)
        answer = await http.post(
            f"{scoring}/v1/publications/{record}/approve", json={}, headers=headers, timeout=10
        )
        return answer.status_code


def test_a_draft_is_approved_by_a_second_person_and_published(
    staff_stack: Stack, browser: Browser, *, check_page, sign_in, add_person, apart
) -> None:
    stack, console = staff_stack, staff_stack.url("console")
    drafter = add_person(stack, "vh.lan", ("operator", "approver"), ("ht",))
    approver = add_person(stack, "pgd.hoa", ("approver",), ("ht",))
    apart(answer(stack.nats_url, 4, 4))
    counted(stack, 8)
    first = published_by_api(stack)
    apart(answer(stack.nats_url, 4, 2))  # the figures fall: the draft differs from the first
    counted(stack, 16)

    page = browser.new_page(viewport=DESKTOP, locale="vi-VN")
    try:
        sign_in(page, stack, "vh.lan", drafter)
        page.goto(console + "/publications")
        page.get_by_label("Đợt khảo sát").select_option(CAMPAIGN)
        page.get_by_role("button", name="Chốt số liệu thành dự thảo").click()

        expect(page.locator("main .tags")).to_contain_text("Dự thảo")
        record = page.url.rsplit("/", 1)[1]
        expect(page.get_by_role("note")).to_contain_text("một người khác")
        expect(page.get_by_role("button", name="Phê duyệt")).to_have_count(0)
        # First published: every answer 4 of 5 (100); now half the answers are 2 (50).
        expect(page.get_by_role("row", name="Thị trấn Xuân An")).to_have_text(
            re.compile(r"Thị trấn Xuân An\s*50,00\s*21,52–78,48\s*100,00\s*−50,00")
        )
        check_page(page, "publication-draft-desktop")
        report = page.request.get(f"{console}/publications/{record}/report.pdf")
        assert report.status == 200
        assert report.body().startswith(b"%PDF")
    finally:
        page.close()
    assert apart(approve_as(stack.nats_url, stack.url("scoring"), record, "vh.lan")) == 409

    other = browser.new_context(viewport=PHONE, locale="vi-VN")
    try:
        page = other.new_page()
        sign_in(page, stack, "pgd.hoa", approver)
        page.goto(f"{console}/publications/{record}")
        page.get_by_label("Chức vụ của bạn, như in trên báo cáo").fill("Phó Giám đốc")
        page.get_by_role("button", name="Phê duyệt").click()
        expect(page.locator("main .tags")).to_contain_text("Đã phê duyệt")
        page.get_by_label("Số văn bản").fill("45/BC-SNV")
        page.get_by_role("button", name="Công bố", exact=True).click()
        expect(page.locator("main .tags")).to_contain_text("Đã công bố")
        expect(page.locator(".history")).to_contain_text("Cán bộ vh.lan")
        expect(page.locator(".history")).to_contain_text("Cán bộ pgd.hoa, Phó Giám đốc")
        check_page(page, "publication-published-phone")
        page.goto(console + "/publications")
        superseded = page.get_by_role("row", name=re.compile("Đã được thay thế"))
        expect(superseded).to_have_count(1)
        expect(superseded.get_by_role("link")).to_have_attribute("href", f"/publications/{first}")
        check_page(page, "publications-phone")
    finally:
        other.close()


DRAWN = "boc-tham-2026"
DRAWN_UNIT = "ht-nx-xuan-giang"
DRAW_PLAN = {
    "id": DRAWN,
    "name_vi": "Khảo sát hộ gia đình xã Xuân Giang 2026",
    "name_en": "Household survey, Xuan Giang commune, 2026",
    "instrument_id": "sipas-2640-2017",
    "mode": "batch",
    "seed": "boc-tham-2026/xuan-giang",
    "window": {"start": "2026-05-01", "end": "2026-11-30"},
    "fieldwork_end": "2027-01-31",
    "scope": {"units": [DRAWN_UNIT]},
    "allocation": {"fixed_per_unit": {"individual": 3, "organisation": 1, "transfer": True}},
    "reserve": {"ratio": 0.5},
    "channels": ["enumerator"],
    "token_ttl_days": 60,
}


def households(unit_name: str) -> list[dict[str, object]]:
    """Six households and two firms of the commune, each with a phone to call."""
    delivered = datetime(2026, 11, 4, 3, tzinfo=UTC)
    kinds = ["individual"] * 6 + ["organisation"] * 2
    return [
        {
            "dossier_id": f"000.00.32.H42-261104-{i:04d}",
            "unit": unit_name,
            "procedure_code": "1.001193",
            "procedure_field": "Tư pháp - Hộ tịch",
            "applicant_kind": kind,
            "applicant_id": f"0421{i:08d}",
            "submission_channel": "direct",
            "result_delivery": "counter",
            "received_at": (delivered - timedelta(days=4)).isoformat(),
            "delivered_at": (delivered + timedelta(hours=i)).isoformat(),
            "contact": {"phone": f"09130000{i:02d}", "name": f"Lê Văn {chr(65 + i)}"},
        }
        for i, kind in enumerate(kinds)
    ]


def campaign_with_population(stack: Stack) -> None:
    """The campaign, and its eight dossiers in sampling's population (not drawn yet)."""
    tthc = {"Authorization": f"Bearer {stack.dev_keys['tthc']}"}
    operator = {"Authorization": f"Bearer {stack.dev_keys['operator']}"}
    dossiers = households(load_sample_hierarchy().units[DRAWN_UNIT].name_vi)
    sampling = stack.url("sampling")
    with httpx.Client(timeout=30) as http:
        made = http.post(sampling + "/v1/campaigns", json=DRAW_PLAN, headers=operator)
        assert made.status_code in {200, 201}, made.text
        sent = http.post(stack.url("intake") + "/v1/dossiers/batch", json=dossiers, headers=tthc)
        assert sent.status_code == 200, sent.text
        started = time.monotonic()
        while True:
            page = http.get(f"{sampling}/v1/campaigns/{DRAWN}", headers=operator).json()
            if sum((page.get("population") or {}).values()) >= len(dossiers):
                return
            assert time.monotonic() - started < 60, page
            time.sleep(0.2)


def substitute_first(stack: Stack, dossier: str) -> None:
    operator = {"Authorization": f"Bearer {stack.dev_keys['operator']}"}
    answer = httpx.post(
        f"{stack.url('sampling')}/v1/campaigns/{DRAWN}/substitutions",
        json={"dossier_id": dossier, "reason": "refused"},
        headers=operator,
        timeout=30,
    )
    assert answer.status_code == 201, answer.text


NEW_CAMPAIGN_UNIT = "ht-nx-xuan-hong"  # no other test of this module uses it


def dossiers_flowing(unit_name: str, count: int) -> list[dict[str, object]]:
    """Completed dossiers of the commune within the plan's window (which ends yesterday)."""
    delivered = datetime.now(UTC) - timedelta(days=2)
    return [
        {
            "dossier_id": f"000.00.32.H42-{delivered:%y%m%d}-{9000 + i:04d}",
            "unit": unit_name,
            "procedure_code": "1.001193",
            "procedure_field": "Tư pháp - Hộ tịch",
            "applicant_kind": "individual",
            "applicant_id": f"0427{i:08d}",
            "submission_channel": "direct",
            "result_delivery": "counter",
            "received_at": (delivered - timedelta(days=3)).isoformat(),
            "delivered_at": (delivered + timedelta(minutes=i)).isoformat(),
            "contact": {"phone": f"09140000{i:02d}"},
        }
        for i in range(count)
    ]


def test_a_campaign_created_in_the_browser_shows_its_progress_as_dossiers_flow(
    staff_stack: Stack, browser: Browser, *, check_page, sign_in, add_person
) -> None:
    stack, console = staff_stack, staff_stack.url("console")
    password = add_person(stack, "ktv.vanhanh", ("operator",), ("ht",))
    unit_name = load_sample_hierarchy().units[NEW_CAMPAIGN_UNIT].name_vi
    tthc = {"Authorization": f"Bearer {stack.dev_keys['tthc']}"}
    page = browser.new_page(viewport=DESKTOP, locale="vi-VN")
    try:
        sign_in(page, stack, "ktv.vanhanh", password)
        page.goto(console + "/campaigns/new")
        page.get_by_label(re.compile("huyện Nghi Xuân")).check()
        page.get_by_label("Ngày thực hiện kế hoạch").fill("2026-02-30")
        page.get_by_role("button", name="Tạo đợt khảo sát").click()
        # sampling's API validates the day; its error is shown next to the field
        expect(page.locator(".error-summary")).to_contain_text("Phải là ngày (YYYY-MM-DD).")
        expect(page.locator("#as_of-error")).to_contain_text("Phải là ngày (YYYY-MM-DD).")
        check_page(page, "campaign-new-error-desktop")
        page.get_by_label("Ngày thực hiện kế hoạch").fill(datetime.now(UTC).date().isoformat())
        page.get_by_label("Tên đợt khảo sát (không bắt buộc)").fill("Khảo sát thử trên trình duyệt")
        page.get_by_role("button", name="Tạo đợt khảo sát").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Khảo sát thử trên trình duyệt")
        expect(page.locator("html[data-live-connected]")).to_have_count(1)

        sent = httpx.post(
            stack.url("intake") + "/v1/dossiers/batch",
            json=dossiers_flowing(unit_name, 3),
            headers=tthc,
            timeout=30,
        )
        assert sent.status_code == 200, sent.text
        row = page.locator("tr").filter(has=page.get_by_role("rowheader", name=unit_name))
        # no reload: the page refreshes its progress every 10 s while it is open
        expect(row.locator("td").first).to_have_text("3", timeout=30_000)
        check_page(page, "campaign-desktop")
        page.set_viewport_size(PHONE)
        check_page(page, "campaign-phone")
    finally:
        page.close()


def test_an_operator_draws_and_an_observer_verifies_the_draw_in_the_browser(
    staff_stack: Stack, browser: Browser, *, check_page, sign_in, add_person
) -> None:
    stack, console = staff_stack, staff_stack.url("console")
    operator = add_person(stack, "dh.vanhanh", ("operator",), ("ht",))
    observer = add_person(stack, "mttq.giamsat", ("observer",), ("ht",))
    campaign_with_population(stack)

    page = browser.new_page(viewport=DESKTOP, locale="vi-VN")
    try:
        sign_in(page, stack, "dh.vanhanh", operator)
        page.goto(f"{console}/campaigns/{DRAWN}")
        page.get_by_role("link", name=re.compile("Bốc thăm: danh sách")).click()
        expect(page.locator("main")).to_contain_text("chưa bốc thăm")
        page.get_by_role("button", name="Tiến hành bốc thăm").click()
        individuals = page.locator("details.stratum").filter(has_text="Cá nhân")
        expect(individuals).to_contain_text("3 chính thức, 2 dự phòng")
        individuals.locator("summary").click()
        first = individuals.locator("ol.draw-list").first.locator("li").first.inner_text()
        check_page(page, "draw-desktop")
    finally:
        page.close()
    substitute_first(stack, first)

    watcher = browser.new_context(viewport=PHONE, locale="vi-VN")
    try:
        page = watcher.new_page()
        sign_in(page, stack, "mttq.giamsat", observer)
        page.goto(f"{console}/campaigns/{DRAWN}/draw")
        expect(page.get_by_role("row", name=re.compile("từ chối"))).to_contain_text(first)
        page.get_by_role("button", name="Kiểm tra kết quả bốc thăm").click()
        expect(page.get_by_role("status")).to_contain_text("KHỚP")
        check_page(page, "draw-verified-phone")
        lists = page.request.get(f"{console}/campaigns/{DRAWN}/draw/lists.xlsx")
        assert lists.status == 200
        cells = [
            str(value)
            for row in load_workbook(io.BytesIO(lists.body())).active.iter_rows(values_only=True)
            for value in row
        ]
        assert first in cells
        assert not [c for c in cells if c.startswith("091300")]  # an observer sees no phone
    finally:
        watcher.close()


SCREEN_UNIT, SCREEN_CAMPAIGN = "ht-nx-xuan-lien", "c2026-man-hinh"


async def rate_at_counter(nats_url: str, ratings: list[int], mode: str = "kiosk") -> None:
    """Ratings of the screen's commune (counter tablet by default), one per rating, today."""
    items = C2640.satisfaction_items()
    nc = await nats.connect(nats_url)
    try:
        for rating in ratings:
            event = response(
                campaign_id=SCREEN_CAMPAIGN, unit=SCREEN_UNIT, instrument_id=C2640.id,
                answers=dict.fromkeys(items, rating), collection_mode=mode,
                occurred_at=datetime.now(UTC),
            )  # fmt: skip
            await nc.jetstream().publish(
                subjects.for_event(event), encode(event), headers=event_headers(event)
            )
    finally:
        await nc.close()


async def plan_screen_campaign(nats_url: str) -> None:
    """Sampling's plan of the screen's campaign, which gives scoring its name."""
    today = datetime.now(UTC).date()
    plan = CampaignPlanned(
        event_id=uuid7(), occurred_at=datetime.now(UTC), producer="sampling",
        campaign_id=SCREEN_CAMPAIGN, name_vi="Đánh giá tại quầy Xuân Liên",
        name_en="Counter ratings in Xuân Liên", instrument_id=C2640.id, mode="continuous",
        window_start=today, window_end=today, units=[SCREEN_UNIT], design_digest="0" * 64,
    )  # fmt: skip
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(
            subjects.for_event(plan), encode(plan), headers=event_headers(plan)
        )
    finally:
        await nc.close()


def screen_key_of(stack: Stack, *, revoke: str | None = None) -> dict[str, str]:
    """A machine key for the commune's hall screen, made (or revoked) through the console."""
    supervisor = {"Authorization": f"Bearer {stack.dev_keys['supervisor']}"}
    with httpx.Client(base_url=stack.url("console"), headers=supervisor, timeout=30) as http:
        if revoke:
            answer = http.post(f"/v1/keys/{revoke}/revoke")
        else:
            wanted = {"name": "Màn hình một cửa", "roles": ["reader"], "units": [SCREEN_UNIT]}
            answer = http.post("/v1/keys", json=wanted)
        assert answer.status_code in (200, 201), answer.text
        made: dict[str, str] = answer.json()
        return made


def test_a_hall_screen_shows_its_communes_index_and_each_new_rating_live(
    staff_stack: Stack, browser: Browser, *, check_page, sign_in, apart
) -> None:
    stack, console = staff_stack, staff_stack.url("console")
    made = screen_key_of(stack)
    apart(plan_screen_campaign(stack.nats_url))
    apart(rate_at_counter(stack.nats_url, [5, 4, 4], mode="online"))  # the sampled survey
    apart(rate_at_counter(stack.nats_url, [5]))
    screen = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN")
    try:
        page = screen.new_page()
        page.goto(f"{console}/live/board/{SCREEN_UNIT}")  # nobody signed in, no key yet
        assert "/sign-in" in page.url
        page.goto(console + "/live/screen")
        page.get_by_label("Khóa màn hình").fill("sipas_000000000000_" + "x" * 43)
        page.get_by_role("button", name="Hiển thị bảng kết quả").click()
        expect(page.locator(".error-summary")).to_contain_text("Khóa màn hình không hợp lệ")
        page.get_by_label("Khóa màn hình").fill(made["key"])
        page.get_by_role("button", name="Hiển thị bảng kết quả").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Xã Xuân Liên")
        shown = page.reload()  # without JavaScript, the screen reloads itself every minute
        assert shown is not None
        assert shown.headers.get("refresh") == "60"
        ratings = page.locator(".board-figure .count")
        started = time.monotonic()
        while ratings.count() == 0 or ratings.first.inner_text() != "1":
            assert time.monotonic() - started < 60, page.locator("main").inner_text()
            page.reload()  # until scoring has counted the first four (as the screen would)
        expect(page.locator("html[data-live-connected]")).to_have_count(1)

        apart(rate_at_counter(stack.nats_url, [2]))
        sent = time.monotonic()
        expect(ratings.first).to_have_text("2", timeout=LIVE_WITHIN_MS)
        print(f"rating on the hall screen {time.monotonic() - sent:.2f} s after the response")
        expect(page.locator(".board-figure.main .value")).to_contain_text(",")
        check_page(page, "live-board-1920")
        page.set_viewport_size(PHONE)
        check_page(page, "live-board-phone")

        screen_key_of(stack, revoke=made["record"]["id"])  # type: ignore[index]
        page.goto(f"{console}/live/board/{SCREEN_UNIT}")
        assert "/sign-in" in page.url
    finally:
        screen.close()
    person = browser.new_page(viewport=PHONE, locale="vi-VN")
    try:
        sign_in(person, stack)  # Sở Nội vụ's supervisor opens the same board, in English
        shown = person.goto(f"{console}/live/board/{SCREEN_UNIT}?lang=en")
        assert shown is not None
        assert "refresh" not in shown.headers  # a page never reloads under a person
        expect(person.get_by_text("SIPAS index so far")).to_be_visible()
        expect(person.locator(".board-figure .count")).to_have_text("2")
        expect(person.get_by_role("heading", level=2)).to_have_text("Counter ratings in Xuân Liên")
        check_page(person, "live-board-signed-in-english-phone")
    finally:
        person.close()


ADMIN_DOSSIER = {
    "dossier_id": "000.00.00.H42-261207-0001",
    "unit": "Xã Cổ Đạm",
    "procedure_code": "1.001193",
    "applicant_kind": "individual",
    "submission_channel": "direct",
    "received_at": "2026-12-01T08:00:00+07:00",
    "delivered_at": "2026-12-04T10:00:00+07:00",
}


def key_status(url: str, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(
        f"{url}/v1/dossiers/{ADMIN_DOSSIER['dossier_id']}", headers=headers
    ).status_code


def within_five_seconds(check) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < 5, "not within 5 s"
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_supervisor_adds_a_handler_makes_and_revokes_a_key_and_reads_the_audit_log(
    staff_stack: Stack, browser: Browser, *, check_page, sign_in
) -> None:
    stack, console = staff_stack, staff_stack.url("console")
    page = browser.new_page(viewport=PHONE, locale="vi-VN")
    try:
        sign_in(page, stack)
        page.goto(console + "/people")
        check_page(page, "people-list")
        page.get_by_role("link", name="Thêm người dùng").click()
        page.get_by_label("Tên đăng nhập").fill("hoang.cuc")
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
        sign_in(page, stack, "hoang.cuc", temporary)
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
        works = within_five_seconds(lambda: key_status(stack.url("intake"), key) == 404)

        page.goto(console + "/keys")
        check_page(page, "keys-list")
        page.get_by_role("button", name="Thu hồi khóa của Hệ thống một cửa tỉnh").click()
        expect(page.locator("main")).to_contain_text("đã thu hồi")
        stops = within_five_seconds(lambda: key_status(stack.url("intake"), key) == 401)

        page.goto(console + "/audit")
        expect(page.locator("main")).to_contain_text("chuỗi nguyên vẹn")
        for action in ("person_created", "key_created", "key_revoked", "signed_in"):
            expect(page.locator("ol.audit")).to_contain_text(action)
        check_page(page, "audit-log")
        assert key not in page.content()
        print(f"key worked after {works:.3f} s, stopped after {stops:.3f} s")
    finally:
        page.close()
