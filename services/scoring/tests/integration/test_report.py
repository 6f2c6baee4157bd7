"""The campaign report renders to PDF with Vietnamese diacritics intact (checked as images)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

from sipas_contracts.units import load_sample_hierarchy
from sipas_scoring.report import render_html, render_pdf
from sipas_scoring.testing import synthetic_responses

pytestmark = [pytest.mark.nats, pytest.mark.mongo, pytest.mark.slow]
UNITS = sorted(
    u.code for u in load_sample_hierarchy().units.values() if u.kind in ("commune", "town")
)


@pytest.fixture
async def snapshot(harness, wait):
    events = list(synthetic_responses(17 * 40, units=UNITS, campaign_id="ht2026"))
    seqs = await harness.publish(*events)
    await wait(lambda: (harness.latest("ht2026", "ht") or {}).get("version") == seqs[-1], 60)
    await harness.http.put(
        "/v1/campaigns/ht2026/profile",
        json={"title_vi": "Chỉ số hài lòng năm 2026 — Huyện Nghi Xuân, tỉnh Hà Tĩnh",
              "n_min_item": 10, "n_min_unit": 30},
    )  # fmt: skip
    answer = await harness.http.post("/v1/publications", json={"campaign_id": "ht2026"})
    publication = answer.json()
    return (await harness.http.get(f"/v1/publications/{publication['id']}")).json()


def check_pdf(pdf: Path, folder: Path) -> tuple[str, list[Path]]:
    """The PDF's text and its pages as PNG images (poppler)."""
    pdftotext, pdftoppm = shutil.which("pdftotext"), shutil.which("pdftoppm")
    if pdftotext is None or pdftoppm is None:
        pytest.fail("poppler-utils (pdftoppm, pdftotext) is required: make test installs it")
    text = subprocess.run(
        [pdftotext, "-layout", str(pdf), "-"], capture_output=True, check=True, text=True
    ).stdout
    subprocess.run([pdftoppm, "-r", "60", "-png", str(pdf), str(folder / "page")], check=True)
    return text, sorted(folder.glob("page-*.png"))


async def test_the_pdf_report_keeps_vietnamese_text_and_draws_error_bars(snapshot, tmp_path: Path):
    html = render_html(snapshot["snapshot"], state=snapshot["state"])
    pdf = tmp_path / "report.pdf"

    await asyncio.to_thread(pdf.write_bytes, render_pdf(html))

    text, pages = await asyncio.to_thread(check_pdf, pdf, tmp_path)
    for phrase in (
        "Chỉ số hài lòng năm 2026 — Huyện Nghi Xuân, tỉnh Hà Tĩnh",
        "Thị trấn Tiên Điền",
        "Xã Cổ Đạm",
        "Xã Xuân Lĩnh",
        "Bảng xếp hạng",
        "Tiếp cận dịch vụ hành chính công",
        "Toàn đợt khảo sát",
        "Dự thảo",
    ):
        assert phrase in text, phrase
    assert len(pages) >= 2
    assert all(p.stat().st_size > 5_000 for p in pages)  # rendered, not blank
    assert html.count("<circle") == 17 + 1  # one error bar per commune and the province


def run_sipas(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    sipas = shutil.which("sipas", path=sysconfig.get_path("scripts"))
    assert sipas is not None
    return subprocess.run(
        [sipas, *args], env={**os.environ, **env}, capture_output=True, text=True, check=False
    )


async def test_sipas_report_writes_the_publication_and_a_marked_preview(
    snapshot, settings, tmp_path
):
    env = {"SIPAS_MONGO_URL": settings.mongo_url, "SIPAS_SCORING_DATABASE": settings.database_name}

    draft = await asyncio.to_thread(
        run_sipas, ["report", "--campaign", "ht2026", "--out", str(tmp_path)], env
    )
    preview = await asyncio.to_thread(
        run_sipas,
        ["report", "--campaign", "ht2026", "--preview", "--no-pdf", "--lang", "en",
         "--out", str(tmp_path)],
        env,
    )  # fmt: skip
    missing = await asyncio.to_thread(
        run_sipas, ["report", "--campaign", "nope", "--out", str(tmp_path)], env
    )

    assert draft.returncode == 0, draft.stderr
    assert (tmp_path / "sipas-ht2026-campaign-draft.pdf").read_bytes().startswith(b"%PDF")
    html = (tmp_path / "sipas-ht2026-campaign-draft.html").read_text(encoding="utf-8")
    assert snapshot["digest"] in html
    assert preview.returncode == 0, preview.stderr
    english = (tmp_path / "sipas-ht2026-campaign-preview.html").read_text(encoding="utf-8")
    assert "Preview — not published" in english
    assert missing.returncode == 1
    assert "no publication for nope" in missing.stdout
