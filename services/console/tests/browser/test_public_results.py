"""The public results site in real Chromium at 360×740 and 1366×768: no sign-in, no
horizontal scroll, axe-core clean, and only published figures (a newer draft never shows).

Scoring runs as a process; responses reach it on NATS; a publication is drafted, approved
by someone else and published through scoring's API, then more answers arrive and a new
draft is frozen but not published: the pages must keep the published figures.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import httpx
import nats
import pytest
from playwright.sync_api import expect

from sipas_contracts import subjects
from sipas_contracts.instrument import load_catalogue
from sipas_contracts.testing import response
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.testing import eventually

if TYPE_CHECKING:
    from sipas_runtime.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.nats, pytest.mark.mongo]
SIZES = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1366, "height": 768}}
C2640 = load_catalogue("sipas-2640-2017")
QUALITY = {"ht-nx-co-dam": 0.9, "ht-nx-xuan-an": 0.6, "ht-nx-xuan-hoi": 0.75}
SHORT = "ht-nx-cuong-gian"  # 2 answers: below the threshold, never shown as a figure


def answers(rng: random.Random, quality: float) -> dict[str, int]:
    return {
        item: rng.choice((4, 5)) if rng.random() < quality else rng.choice((1, 2, 3))
        for item in C2640.satisfaction_items()
    }


async def send(nats_url: str, units: dict[str, int], seed: int) -> None:
    rng = random.Random(seed)
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for unit, count in units.items():
            for _ in range(count):
                event = response(
                    campaign_id="c2026", unit=unit, instrument_id=C2640.id,
                    answers=answers(rng, QUALITY.get(unit, 0.5)),
                )  # fmt: skip
                await js.publish(
                    subjects.for_event(event), encode(event), headers=event_headers(event)
                )
    finally:
        await nc.close()


async def counted(stack: Stack, total: int) -> None:
    scoring = stack.url("scoring")
    reader = {"Authorization": f"Bearer {stack.dev_keys['operator']}"}
    async with httpx.AsyncClient(timeout=10, headers=reader) as http:

        async def reached() -> bool:
            table = (await http.get(f"{scoring}/v1/indices", params={"campaign": "c2026"})).json()
            province = next((r for r in table.get("rows", []) if r["tier"] == "province"), None)
            return province is not None and province["responses"] == total

        await eventually(reached, 90)


def publish(stack: Stack, *, approve: bool = True) -> dict[str, Any]:
    drafter = {"Authorization": f"Bearer {stack.dev_keys['operator']}"}
    approver = {"Authorization": f"Bearer {stack.dev_keys['supervisor']}"}
    with httpx.Client(base_url=stack.url("scoring"), timeout=30) as http:
        draft = http.post("/v1/publications", json={"campaign_id": "c2026"}, headers=drafter)
        draft = draft.json()
        if approve:
            step = http.post(f"/v1/publications/{draft['id']}/approve", json={}, headers=approver)
            assert step.status_code == 200, step.text
            done = http.post(
                f"/v1/publications/{draft['id']}/publish", json={"number": "12"}, headers=approver
            )
            assert done.status_code == 200, done.text
        return dict(http.get(f"/v1/publications/{draft['id']}", headers=drafter).json())


def commune(snapshot: dict[str, Any], unit: str) -> dict[str, Any]:
    return next(r for r in snapshot["table"]["rows"] if r["unit"] == unit)


@pytest.fixture
def results(console_stack):
    stack = console_stack(
        "scoring", extra_env={"SIPAS_SCORING_N_MIN": "2", "SIPAS_SCORING_N_MIN_UNIT": "5"}
    )
    run(send(stack.nats_url, {**dict.fromkeys(QUALITY, 8), SHORT: 2}, seed=1))
    run(counted(stack, 26))
    published = publish(stack)
    run(send(stack.nats_url, {"ht-nx-co-dam": 12}, seed=2))  # the draft's figure differs
    run(counted(stack, 38))
    draft = publish(stack, approve=False)
    return stack, published, draft


def run(work: Coroutine[Any, Any, None]) -> None:
    """Run async set-up apart from Playwright's event loop (which owns this thread)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, work).result()


def vi(display: str) -> str:
    return display.replace(".", ",")


@pytest.mark.parametrize("size", SIZES)
def test_public_pages_show_only_published_figures_and_fit_the_screen(
    results, browser, check_page, size
):
    stack, published, draft = results
    shown = commune(published["snapshot"], "ht-nx-co-dam")["sipas"]["display"]
    drafted = commune(draft["snapshot"], "ht-nx-co-dam")["sipas"]["display"]
    assert shown != drafted  # the draft differs, so seeing it would be visible
    base = stack.url("console") + "/ket-qua"
    page = browser.new_page(viewport=SIZES[size], locale="vi-VN")
    try:
        page.goto(base)
        expect(page.get_by_role("heading", level=1)).to_contain_text("hài lòng")
        check_page(page, f"public-index-{size}")

        page.get_by_role("link", name="Xem xếp hạng của từng đơn vị").click()
        expect(page.get_by_role("row", name="Xã Cổ Đạm")).to_contain_text(vi(shown))
        assert vi(drafted) not in page.content()
        expect(page.get_by_role("row", name="Xã Cương Gián")).to_contain_text("không đủ dữ liệu")
        assert "KTC 95%" in page.content()
        check_page(page, f"public-campaign-{size}")

        page.get_by_role("link", name="Xã Cổ Đạm").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Xã Cổ Đạm")
        expect(page.locator(".headline-value")).to_have_text(f"{vi(shown)}%")
        expect(
            page.get_by_role("row", name="Tiếp cận dịch vụ hành chính công", exact=False)
        ).to_be_visible()
        check_page(page, f"public-unit-{size}")

        for path, name in (("/phuong-phap", "method"), ("/du-lieu", "data")):
            page.goto(base + path)
            check_page(page, f"public-{name}-{size}")
        expect(page.get_by_text(published["digest"])).to_be_visible()
        assert draft["digest"] not in page.content()

        page.goto(base + "/c2026?lang=en")
        expect(page.get_by_role("row", name="Xã Cổ Đạm")).to_contain_text(shown)
        check_page(page, f"public-campaign-en-{size}")
    finally:
        page.close()


def test_public_pages_and_files_are_cacheable_and_name_their_snapshot(results):
    stack, published, _draft = results
    base = stack.url("console") + "/ket-qua"
    with httpx.Client(timeout=30) as http:
        first = http.get(f"{base}/c2026")
        again = http.get(f"{base}/c2026", headers={"If-None-Match": first.headers["etag"]})
        data = http.get(f"{base}/tai-ve/c2026/du-lieu.csv")
        missing = http.get(f"{base}/nope")
        unpublished = http.get(f"{base}/c2026", params={"period": "2026-Q4"})

    assert first.status_code == 200
    assert first.headers["cache-control"].startswith("public")
    assert again.status_code == 304
    assert data.status_code == 200
    assert data.headers["x-sipas-digest"] == published["digest"]
    assert data.headers["etag"].startswith(f'"{published["digest"]}')
    assert "ht-nx-co-dam" in data.content.decode("utf-8-sig")
    assert missing.status_code == 404
    assert unpublished.status_code == 404
