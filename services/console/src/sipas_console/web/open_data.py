"""Open data on the public site: published tables, reports and workbooks, and their terms.

Every published table as CSV, JSON and XLSX, the report and the official workbook, with
the data dictionary, the licence and each snapshot's SHA-256.

Downloads pass through the console from scoring's public API (published snapshots only);
each carries the snapshot's digest as its ETag and in ``X-Sipas-Digest``. (This module's
name sorts before ``public``, so its routes come before ``/ket-qua/{campaign}``.)
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from sipas_console.results import published_on
from sipas_console.web.page import service_of
from sipas_console.web.public import CACHE, PREFIX, Period, cached, page, published_of

router = APIRouter(include_in_schema=False)
Download = Literal["du-lieu.csv", "du-lieu.json", "du-lieu.xlsx", "bao-cao.pdf", "bieu.xlsx"]
SOURCES: dict[str, tuple[str, str]] = {
    "du-lieu.csv": ("/v1/public/open-data/{campaign}.csv", "text/csv; charset=utf-8"),
    "du-lieu.json": ("/v1/public/open-data/{campaign}.json", "application/json"),
    "du-lieu.xlsx": (
        "/v1/public/open-data/{campaign}.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "bao-cao.pdf": ("/v1/public/reports/{campaign}.pdf", "application/pdf"),
    "bieu.xlsx": (
        "/v1/public/workbooks/{campaign}.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
}


@router.get(f"{PREFIX}/du-lieu", response_class=HTMLResponse, response_model=None)
async def open_data(request: Request) -> Response:
    """Every published dataset, the dictionary of its columns and the licence."""
    published = published_of(request)
    records = await published.publications()
    tag, unchanged = cached(request, records)
    if unchanged:
        return unchanged
    datasets = [
        {"record": record, "table": table}
        for record, table in zip(records, await published.tables(records), strict=True)
    ]
    return page(
        request, "public/data.html", tag, datasets=datasets,
        dictionary=await published.dictionary(), published_on=published_on,
    )  # fmt: skip


@router.get(PREFIX + "/tai-ve/{campaign}/{name}", response_model=None)
async def download(
    request: Request, campaign: str, name: Download, period: Period = "campaign"
) -> Response:
    """A published file, named after the campaign and period."""
    records = [
        r
        for r in await published_of(request).publications()
        if r["campaign_id"] == campaign and r["period"] == period
    ]
    if not records:
        return Response(status_code=404)
    tag = f'"{records[0]["digest"]}-{name}"'
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers={"ETag": tag, "Cache-Control": CACHE})
    path, media_type = SOURCES[name]
    scoring = service_of(request).clients.scoring
    answer = await scoring.send(
        "GET", path.format(campaign=campaign), params={"period": period, "lang": "vi"}
    )
    stem, _dot, extension = name.rpartition(".")
    filename = f"sipas-{campaign}-{period}-{stem}.{extension}"
    return Response(
        answer.content,
        media_type=media_type,
        headers={
            "ETag": tag,
            "Cache-Control": CACHE,
            "X-Sipas-Digest": records[0]["digest"],
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
