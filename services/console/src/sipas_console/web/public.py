"""The public results site (no sign-in): published figures only, readable on a phone.

- ``/ket-qua``: every published campaign with the province's SIPAS and its interval;
- ``/ket-qua/{campaign}?period=``: the ranking of each tier (SIPAS, 95% interval as text
  and as a bar, forms, rank change), the other published periods, the downloads;
- ``/ket-qua/{campaign}/don-vi/{unit}``: one unit's SIPAS, rank, its aspects and elements
  with their intervals, and its trend over every published period;
- ``/ket-qua/phuong-phap``: the method in plain words.

Figures come from :class:`sipas_console.published.Published` (scoring's public API only).
Pages are cacheable: ``Cache-Control: public`` and an ETag made of the digests shown, the
language and the templates' version; a matching ``If-None-Match`` answers 304.
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from sipas_console.published import Json, Published, etag
from sipas_console.results import TYPE_NAMES, count, day, parts, shown, tiers, title, trend
from sipas_console.web.menu import MenuItem
from sipas_console.web.page import language, render, service_of
from sipas_contracts.ids import CODE_PATTERN
from sipas_runtime.i18n import _
from sipas_runtime.identity import PUBLIC

router = APIRouter(include_in_schema=False)
MENU = [
    MenuItem(
        5,
        _("Published results"),
        "/ket-qua",
        _("Satisfaction indices as published, with their intervals, and open data."),
    )
]
PREFIX = "/ket-qua"
PERMISSIONS = {  # the public site: anyone, signed in or not
    ("GET", PREFIX + path): PUBLIC
    for path in (
        "",
        "/du-lieu",
        "/phuong-phap",
        "/tai-ve/{campaign}/{name}",
        "/{campaign}",
        "/{campaign}/don-vi/{unit}",
    )
}
CACHE = "public, max-age=60"
CODE = re.compile(CODE_PATTERN)
Code = Annotated[str, Query(pattern=CODE_PATTERN, max_length=64)]
Period = Annotated[str, Query(pattern=r"^(campaign|\d{4}(-Q[1-4]|-\d{2})?)$", max_length=16)]


def _version() -> str:
    digest = hashlib.sha256()
    folder = resources.files("sipas_console")
    for part in ("templates/public", "static"):
        for entry in sorted(folder.joinpath(part).iterdir(), key=lambda e: e.name):
            if entry.is_file():
                digest.update(entry.read_bytes())
    return digest.hexdigest()[:12]


VERSION = _version()


def published_of(request: Request) -> Published:
    """The published figures (one cache per console process)."""
    state = request.app.state
    if getattr(state, "published", None) is None:
        state.published = Published(service_of(request).clients.scoring)
    found: Published = state.published
    return found


def cached(request: Request, records: list[Json], *parts: str) -> tuple[str, Response | None]:
    """The page's ETag, and a 304 answer when the browser already has this version."""
    tag = etag(records, language(request), VERSION, request.url.path, *parts)
    if request.headers.get("if-none-match") == tag:
        return tag, Response(status_code=304, headers={"ETag": tag, "Cache-Control": CACHE})
    return tag, None


HELPERS = {"title_of": title, "count": count, "day": day, "type_name": TYPE_NAMES}
"""What the public templates format with (``results``)."""


def page(request: Request, template: str, tag: str, **context: object) -> HTMLResponse:
    """A public page with its cache headers."""
    headers = {"ETag": tag, "Cache-Control": CACHE, "Vary": "Accept-Language, Cookie"}
    return render(
        request, template, status=200, headers=headers, prefix=PREFIX, **HELPERS, **context
    )


def _whole_first(records: list[Json]) -> list[Json]:
    """One publication per campaign: its whole-campaign one, else its latest period."""
    chosen: dict[str, Json] = {}
    for record in records:
        current = chosen.get(record["campaign_id"])
        if current is None or record["period"] == "campaign":
            chosen[record["campaign_id"]] = record
    return list(chosen.values())


@router.get(PREFIX, response_class=HTMLResponse, response_model=None)
async def results(request: Request) -> Response:
    """Every published campaign with the province's figure."""
    published = published_of(request)
    records = _whole_first(await published.publications())
    tag, unchanged = cached(request, records)
    if unchanged:
        return unchanged
    lang = language(request)
    campaigns = []
    for table in await published.tables(records):
        province = next((r for r in table["rows"] if r["tier"] == "province"), None)
        campaigns.append(
            {
                "table": table,
                "figure": shown(province["sipas"] if province else None, lang),
                "province": province["name"] if province else "",
                "ranked": sum(1 for r in table["rows"] if r["rank"] and r["tier"] != "province"),
            }
        )
    return page(request, "public/index.html", tag, campaigns=campaigns)


@router.get(f"{PREFIX}/phuong-phap", response_class=HTMLResponse, response_model=None)
async def method(request: Request) -> Response:
    """How the index is computed, in plain words."""
    tag, unchanged = cached(request, [])
    return unchanged or page(request, "public/method.html", tag)


async def _campaign_tables(request: Request, campaign: str) -> tuple[list[Json], list[Json]]:
    records = [
        r for r in await published_of(request).publications() if r["campaign_id"] == campaign
    ]
    if not records:
        return [], []
    return records, await published_of(request).tables(records)


@router.get(PREFIX + "/{campaign}", response_class=HTMLResponse, response_model=None)
async def campaign_page(request: Request, campaign: str, period: Period = "campaign") -> Response:
    """The published ranking of each tier for one period of a campaign."""
    records, tables = await _campaign_tables(request, _code(campaign))
    chosen = next((t for t in tables if t["period"] == period), None)
    if chosen is None:
        return not_published(request, campaign)
    tag, unchanged = cached(request, records, period)
    if unchanged:
        return unchanged
    lang = language(request)
    periods = sorted((t["period"] for t in tables), key=lambda p: (p != "campaign", p))
    return page(
        request, "public/campaign.html", tag, table=chosen, tiers=tiers(chosen, lang),
        periods=periods, period=period,
    )  # fmt: skip


@router.get(PREFIX + "/{campaign}/don-vi/{unit}", response_class=HTMLResponse, response_model=None)
async def unit_page(
    request: Request, campaign: str, unit: str, period: Period = "campaign"
) -> Response:
    """One unit: SIPAS, rank, aspects and elements with intervals, trend over periods."""
    records = await published_of(request).publications()
    tag, unchanged = cached(request, records, period)
    if unchanged:
        return unchanged
    tables = await published_of(request).tables(records)
    chosen = next(
        (t for t in tables if t["campaign_id"] == _code(campaign) and t["period"] == period), None
    )
    row = next((r for r in (chosen or {}).get("rows", []) if r["unit"] == _code(unit)), None)
    if chosen is None or row is None:
        return not_published(request, campaign)
    lang = language(request)
    return page(
        request, "public/unit.html", tag, table=chosen, row=row,
        figure=shown(row["sipas"], lang), parts=parts(chosen, row, lang),
        trend=trend(row["unit"], tables, lang), period=period,
    )  # fmt: skip


def _code(value: str) -> str:
    """A campaign id or unit code from the path; anything else matches nothing."""
    return value if CODE.fullmatch(value) else "-"


def not_published(request: Request, campaign: str) -> HTMLResponse:
    """The 404 page of something that is not (or no longer) published."""
    return render(request, "public/missing.html", status=404, prefix=PREFIX, campaign=campaign)
