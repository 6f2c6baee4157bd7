"""The report is an administrative document (Nghị định 30/2020/NĐ-CP): checked in the PDF's
text, in its page sizes and as images; ``sipas report --url`` fetches it from the API."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sysconfig
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import uvicorn

from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.processes import free_port
from sipas_scoring.report import render_html, render_pdf
from sipas_scoring.store.publications import PublicationRecord
from sipas_scoring.testing import synthetic_responses

pytestmark = [pytest.mark.nats, pytest.mark.mongo, pytest.mark.slow]
HIERARCHY = load_sample_hierarchy()
UNITS = sorted(u.code for u in HIERARCHY.units.values() if u.kind in ("commune", "town"))
NAMES = [HIERARCHY.get(u).name_vi for u in UNITS]
VIETNAM = timezone(timedelta(hours=7))
TITLE = "Khảo sát sự hài lòng đối với UBND các xã, thị trấn năm 2026"


@pytest.fixture
async def publication(harness, wait):
    events = list(synthetic_responses(17 * 40, units=UNITS, campaign_id="ht2026"))
    seqs = await harness.publish(*events)
    await wait(lambda: (harness.latest("ht2026", "ht") or {}).get("version") == seqs[-1], 60)
    await harness.http.put(
        "/v1/campaigns/ht2026/profile",
        json={"title_vi": TITLE, "n_min_item": 10, "n_min_unit": 30},
    )
    draft = await harness.http.post(
        "/v1/publications",
        json={"campaign_id": "ht2026", "name": "Lê Văn Bình", "title": "Chuyên viên"},
        headers=harness.ids.headers("supervisor", subject="lvbinh"),
    )
    pid = draft.json()["id"]
    approved = await harness.http.post(
        f"/v1/publications/{pid}/approve",
        json={"name": "Nguyễn Thị Hoa", "title": "Phó Giám đốc", "authority": "KT. Giám đốc"},
        headers=harness.ids.headers("supervisor", subject="nthoa"),
    )
    assert approved.status_code == 200, approved.text
    published = await harness.http.post(
        f"/v1/publications/{pid}/publish",
        json={"number": "45"},
        headers=harness.ids.headers("supervisor", subject="vt"),
    )
    assert published.status_code == 200, published.text
    return (await harness.http.get(f"/v1/publications/{pid}")).json()


def pdf_text_and_pages(pdf: Path, folder: Path) -> tuple[str, list[str], list[Path]]:
    """The PDF's text, each page's size line, and the pages as PNG images (poppler)."""
    tools = {name: shutil.which(name) for name in ("pdftotext", "pdftoppm", "pdfinfo")}
    if not all(tools.values()):
        pytest.fail(
            "poppler-utils (pdftotext, pdftoppm, pdfinfo) is required: make test installs it"
        )
    text = subprocess.run(
        [tools["pdftotext"], "-layout", str(pdf), "-"], capture_output=True, check=True, text=True
    ).stdout
    info = subprocess.run(
        [tools["pdfinfo"], "-f", "1", "-l", "99", str(pdf)],
        capture_output=True, check=True, text=True,
    ).stdout  # fmt: skip
    sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+ x [\d.]+)", info)
    subprocess.run(
        [tools["pdftoppm"], "-r", "50", "-png", str(pdf), str(folder / "page")], check=True
    )
    return text, sizes, sorted(folder.glob("page-*.png"))


async def test_the_published_report_is_an_administrative_document(publication, tmp_path):
    html = render_html(publication["snapshot"], state="published", record=_record(publication))
    pdf = tmp_path / "report.pdf"

    await asyncio.to_thread(pdf.write_bytes, render_pdf(html))

    text, sizes, pages = await asyncio.to_thread(pdf_text_and_pages, pdf, tmp_path)
    flat = " ".join(text.split())
    issued = datetime.fromisoformat(publication["history"][-1]["at"]).astimezone(VIETNAM)
    month = f"{issued.month:02d}" if issued.month <= 2 else str(issued.month)
    for phrase in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "UBND TỈNH HÀ TĨNH",
        "SỞ NỘI VỤ",
        "Số: 45/BC-SNV",
        f"Hà Tĩnh, ngày {issued.day:02d} tháng {month} năm {issued.year}",
        "BÁO CÁO",
        "Kết quả khảo sát sự hài lòng đối với UBND các xã, thị trấn năm 2026",
        "Nơi nhận:",
        "KT. GIÁM ĐỐC",
        "PHÓ GIÁM ĐỐC",
        "Nguyễn Thị Hoa",
        "Tỉnh Hà Tĩnh",
        "PHỤ LỤC",
        publication["digest"],
    ):
        assert phrase in flat, phrase
    for name in NAMES:
        assert name in flat, name
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in flat[:200]  # the heading opens the document
    assert "841.89 x 595.276" in sizes  # the element table on a landscape page
    assert sizes[0] == "595.276 x 841.89"  # the document itself is portrait
    assert html.count("<circle") == 17 + 1  # error bars for the province and every commune
    assert "<th>Tiếp cận dịch vụ hành chính công của cơ quan hành chính nhà nước</th>" in html
    assert all(p.stat().st_size > 3_000 for p in pages)  # rendered, not blank
    assert "lvbinh" not in flat  # people appear by name, not by account


def _record(publication):
    return PublicationRecord(**{k: v for k, v in publication.items() if k != "snapshot"})


@pytest.fixture
async def served(harness):
    """The harness's app on a real port (its lifespan already ran)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(harness.app, host="127.0.0.1", port=port, lifespan="off", log_level="error")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


def run_sipas(args: list[str]) -> subprocess.CompletedProcess[str]:
    sipas = shutil.which("sipas", path=sysconfig.get_path("scripts"))
    assert sipas is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPAS_")}
    return subprocess.run(
        [sipas, *args], env={**env, "COLUMNS": "200"}, capture_output=True, text=True, check=False
    )


async def test_sipas_report_fetches_the_publication_and_a_marked_preview(
    harness, publication, served, tmp_path
):
    operator = ["--key", harness.ids.token("operator", subject="lvbinh")]  # a session token
    url = ["--url", served, "--out", str(tmp_path), *operator]

    published, preview, missing, unreachable = await asyncio.gather(  # four people at once
        asyncio.to_thread(run_sipas, ["report", "--campaign", "ht2026", *url]),
        asyncio.to_thread(
            run_sipas,
            ["report", "--campaign", "ht2026", "--preview", "--no-pdf", "--lang", "en", *url],
        ),
        asyncio.to_thread(run_sipas, ["report", "--campaign", "nope", *url]),
        asyncio.to_thread(
            run_sipas,
            ["report", "--campaign", "ht2026", "--url", f"http://127.0.0.1:{free_port()}",
             *operator],
        ),
    )  # fmt: skip

    assert published.returncode == 0, published.stdout + published.stderr
    assert (tmp_path / "sipas-ht2026-campaign-published.pdf").read_bytes().startswith(b"%PDF")
    html = (tmp_path / "sipas-ht2026-campaign-published.html").read_text(encoding="utf-8")
    assert publication["digest"] in html
    assert preview.returncode == 0, preview.stdout + preview.stderr
    english = (tmp_path / "sipas-ht2026-campaign-preview.en.html").read_text(encoding="utf-8")
    assert "PREVIEW" in english
    assert "SOCIALIST REPUBLIC OF VIETNAM" in english
    assert missing.returncode == 1
    assert "no publication for nope campaign" in missing.stdout
    assert "Traceback" not in missing.stdout + missing.stderr
    assert unreachable.returncode == 1
    assert "cannot reach scoring" in unreachable.stdout
    assert "Traceback" not in unreachable.stdout + unreachable.stderr
