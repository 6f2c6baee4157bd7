"""The counter tablet at ``/k``: one screen of large faces, bound to a counter and unit.

An operator registers a device (``POST /v1/kiosks``: unit, counter, form profile) and opens
the one-time URL ``/k/<device key>`` on the tablet: the key moves into a long-lived HttpOnly
cookie. The ``counter`` profile asks the overall rating in large faces and, if the person
wishes, the handling officer's courtesy and guidance and whether the result came on time;
an idle screen resets itself. Each rendered form carries a one-time nonce (refusing replays
and double taps) and the device accepts at most one answer per
``SIPAS_INTAKE_KIOSK_INTERVAL_SECONDS``. Answers are marked ``kiosk``, go to the device's
campaign (``kiosk`` by default, apart from the sampled campaigns) and carry no invitation.
The installable-app parts (manifest, service worker, thanks and offline pages) are in
:mod:`sipas_intake.web.kiosk_app`.
"""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from sipas_contracts.events import ResponseRecorded
from sipas_intake.api import service_of
from sipas_intake.domain.responses import (
    ResponseContext,
    applicant_kind,
)
from sipas_intake.questionnaire import for_instrument
from sipas_intake.security import new_nonce
from sipas_intake.web.forms import (
    PageErrors,
    continue_with_cookie,
    event_or_errors,
    posted_fields,
)
from sipas_intake.web.kiosk_app import kiosk_message
from sipas_intake.web.render import switch_url
from sipas_runtime.guards import client_address, cross_site
from sipas_runtime.i18n import Lang, choose_language
from sipas_runtime.mongo import Document
from sipas_runtime.pages import SECURITY_HEADERS
from sipas_runtime.privacy import keyed_hash

router = APIRouter(include_in_schema=False)
COOKIE = "sipas_kiosk"
KEY_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
DEVICE_COOKIE_SECONDS = 400 * 24 * 3600


def _key_hash(request: Request, key: str) -> str:
    return keyed_hash(service_of(request).kiosk_key, key)


async def _device(request: Request) -> tuple[str, Document] | None:
    key = request.cookies.get(COOKIE, "")
    if not KEY_SHAPE.match(key):
        return None
    key_hash = _key_hash(request, key)
    device = await service_of(request).stores.kiosks.get(key_hash)
    return (key_hash, device) if device is not None else None


def _unknown(request: Request, lang: Lang) -> Response:
    return service_of(request).renderer.message("kiosk_unknown", lang=lang, status=403)


@router.get("/k/{key}")
async def pair_device(key: str, request: Request) -> Response:
    """Keep the device key in a cookie and continue at ``/k``."""
    intake = service_of(request)
    lang = choose_language(request.query_params.get("lang"))
    if not await intake.limits.allow("kiosk", client_address(request)):
        return intake.renderer.message("slow", lang=lang, status=429)
    if not KEY_SHAPE.match(key) or await intake.stores.kiosks.get(_key_hash(request, key)) is None:
        return _unknown(request, lang)
    return continue_with_cookie(
        "/k",
        name=COOKIE,
        value=key,
        max_age=DEVICE_COOKIE_SECONDS,
        path="/k",
        secure=intake.settings.secure_cookies,
    )


def _page(
    request: Request,
    key_hash: str,
    device: Document,
    lang: Lang,
    *,
    fields: dict[str, str] | None = None,
    errors: PageErrors | None = None,
) -> Response:
    intake = service_of(request)
    questionnaire = for_instrument(device["instrument_id"], device["profile"], lang)
    fields = fields or {}
    errors = errors or PageErrors()
    return intake.renderer.page(
        "kiosk.html",
        lang=lang,
        status=422 if errors.summary else 200,
        switch_url=switch_url("/k", lang),
        q=questionnaire,
        items=[i for s in questionnaire.sections for g in s.groups for i in g.items],
        unit_name=intake.renderer.unit_name(device["unit"], lang),
        counter=device.get("counter"),
        csrf=intake.csrf.issue(key_hash, new_nonce()),
        idle_seconds=intake.settings.kiosk_idle_seconds,
        values={k.removeprefix("a."): v for k, v in fields.items()},
        comment=fields.get("comment", ""),
        errors=errors.summary,
        field_errors=errors.by_field,
    )


@router.get("/k")
async def kiosk_form(request: Request) -> Response:
    """A blank short form for the next person at the counter."""
    lang = choose_language(request.query_params.get("lang"))
    found = await _device(request)
    if found is None:
        return _unknown(request, lang)
    return _page(request, *found, lang)


def _kiosk_event(
    request: Request, device: Document, fields: dict[str, str], lang: Lang
) -> ResponseRecorded | PageErrors:
    renderer = service_of(request).renderer
    catalogue = service_of(request).catalogue(device["instrument_id"])

    def context() -> ResponseContext:
        kind = applicant_kind(fields.get("applicant_kind"))
        return ResponseContext(device["campaign_id"], device["unit"], catalogue.id, "kiosk", kind)

    return event_or_errors(
        fields,
        catalogue=catalogue,
        items=catalogue.form(device["profile"]).items,
        text=lambda m: renderer.text(lang, m),
        lang=lang,
        context=context,
        seal_comment=service_of(request).seal_comment,
    )


@router.post("/k")
async def kiosk_submit(request: Request) -> Response:
    """Record one kiosk answer (nonce spent once, device paced) or re-show the form."""
    fields = await posted_fields(request)
    lang = choose_language(fields.get("lang"))
    intake = service_of(request)
    found = await _device(request)
    if found is None:
        return _unknown(request, lang)
    key_hash, device = found
    nonce = intake.csrf.check(key_hash, fields.get("csrf"))
    if cross_site(request, intake.settings.survey_base_url) or not nonce:
        return intake.renderer.message("forbidden", lang=lang, status=403)
    event = _kiosk_event(request, device, fields, lang)
    if isinstance(event, PageErrors):
        intake.metrics.responses.labels("kiosk", "invalid").inc()
        return _page(request, key_hash, device, lang, fields=fields, errors=event)
    return await _record(request, key_hash, nonce, event, lang)


async def _record(
    request: Request, key_hash: str, nonce: str, event: ResponseRecorded, lang: Lang
) -> Response:
    intake = service_of(request)
    interval = timedelta(seconds=intake.settings.kiosk_interval_seconds)
    refused = await intake.stores.kiosks.record(
        key_hash, nonce, event, intake.stores.outbox, now=event.occurred_at, interval=interval
    )
    if refused == "too_soon":
        intake.metrics.responses.labels("kiosk", "too_soon").inc()
        retry = str(max(1, int(interval.total_seconds())))
        return kiosk_message(
            request, "kiosk_too_soon", lang, status=429, headers={"Retry-After": retry}
        )
    if refused == "already_recorded":
        intake.metrics.responses.labels("kiosk", "duplicate").inc()
    else:
        await intake.publish_responses([event])
        intake.metrics.responses.labels("kiosk", "recorded").inc()
    return RedirectResponse(f"/k/done?lang={lang}", status_code=303, headers=SECURITY_HEADERS)
