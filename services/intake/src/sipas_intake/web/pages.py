"""The survey form at ``/s/<token>``: token swapped for a cookie, answers posted to ``/s``.

GET ``/s/<token>`` checks the token (clear pages for unknown, used and expired links),
sets an HttpOnly SameSite=Strict cookie holding it and redirects to ``/s``; the form
posts there with a CSRF token bound to the token's hash; a valid post consumes the
invitation atomically and redirects to ``/s/done`` (so a reload cannot re-post). Nothing
here needs JavaScript.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from importlib import resources

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from sipas_contracts.events import ResponseRecorded
from sipas_intake.api.deps import intake_of
from sipas_intake.domain.responses import (
    ResponseContext,
    TokenGrant,
    callback_contact,
)
from sipas_intake.questionnaire import for_instrument
from sipas_intake.security import client_address, cross_site
from sipas_intake.store.tokens import TokenProblem
from sipas_intake.web.forms import (
    PageErrors,
    continue_with_cookie,
    event_or_errors,
    posted_fields,
    switch_url,
)
from sipas_intake.web.i18n import Lang, pick_lang
from sipas_runtime.pages import SECURITY_HEADERS

router = APIRouter(include_in_schema=False)
COOKIE = "sipas_survey"
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
PROBLEM_PAGES = {TokenProblem.UNKNOWN: 404, TokenProblem.USED: 409, TokenProblem.EXPIRED: 410}
STATIC = {"form.css": "text/css; charset=utf-8", "kiosk.js": "text/javascript; charset=utf-8"}


def _problem_page(request: Request, problem: TokenProblem, lang: Lang) -> Response:
    intake = intake_of(request)
    intake.metrics.responses.labels("online", f"token_{problem.value}").inc()
    return intake.renderer.message(problem.value, lang=lang, status=PROBLEM_PAGES[problem])


async def _limited(request: Request, page: str, lang: Lang) -> Response | None:
    intake = intake_of(request)
    if await intake.limits.allow(page, client_address(request)):
        return None
    intake.metrics.rate_limited.labels(page).inc()
    retry = str(intake.limits.retry_after(page))
    return intake.renderer.message("slow", lang=lang, status=429, headers={"Retry-After": retry})


@router.get("/s/done")
async def thanks(request: Request) -> Response:
    """The thank-you page."""
    lang = pick_lang(request.query_params.get("lang"))
    return intake_of(request).renderer.message("thanks", lang=lang, status=200)


@router.get("/s/{token}")
async def open_link(token: str, request: Request) -> Response:
    """Check the link, keep the token in a cookie, continue at the token-free ``/s``."""
    lang = pick_lang(request.query_params.get("lang"))
    intake = intake_of(request)
    if (limited := await _limited(request, "form", lang)) is not None:
        return limited
    if not TOKEN_SHAPE.match(token):
        return _problem_page(request, TokenProblem.UNKNOWN, lang)
    now = datetime.now(UTC)
    grant = await intake.tokens().grant(intake.token_hash(token), now)
    if isinstance(grant, TokenProblem):
        return _problem_page(request, grant, lang)
    lifetime = min(
        intake.settings.session_max_age_seconds, (grant.expires_at - now).total_seconds()
    )
    return continue_with_cookie(
        f"/s?lang={lang}",
        name=COOKIE,
        value=token,
        max_age=max(60, int(lifetime)),
        path="/s",
        secure=intake.settings.secure_cookies,
    )


async def _session(request: Request, lang: Lang) -> tuple[str, TokenGrant] | Response:
    intake = intake_of(request)
    token = request.cookies.get(COOKIE, "")
    if not TOKEN_SHAPE.match(token):
        return intake.renderer.message("nocookie", lang=lang, status=400)
    token_hash = intake.token_hash(token)
    grant = await intake.tokens().grant(token_hash, datetime.now(UTC))
    if isinstance(grant, TokenProblem):
        return _problem_page(request, grant, lang)
    return token_hash, grant


def _form(
    request: Request,
    token_hash: str,
    grant: TokenGrant,
    lang: Lang,
    *,
    fields: dict[str, str] | None = None,
    errors: PageErrors | None = None,
) -> Response:
    intake = intake_of(request)
    catalogue = intake.catalogue(grant.instrument_id)
    questionnaire = for_instrument(
        grant.instrument_id, intake.profile(catalogue, grant.campaign_id), lang
    )
    fields = fields or {}
    errors = errors or PageErrors()
    return intake.renderer.page(
        "survey.html",
        lang=lang,
        status=422 if errors.summary else 200,
        switch_url=switch_url("/s", lang),
        q=questionnaire,
        unit_name=intake.renderer.unit_name(grant.unit, lang),
        csrf=intake.csrf.issue(token_hash),
        values={k[2:]: v for k, v in fields.items() if k.startswith("a.")},
        comment=fields.get("comment", ""),
        callback=fields.get("callback") == "yes",
        callback_phone=fields.get("callback_phone", ""),
        callback_email=fields.get("callback_email", ""),
        errors=errors.summary,
        field_errors=errors.by_field,
    )


@router.get("/s")
async def show_form(request: Request) -> Response:
    """The form of the invitation whose token the cookie holds."""
    lang = pick_lang(request.query_params.get("lang"))
    if (limited := await _limited(request, "form", lang)) is not None:
        return limited
    session = await _session(request, lang)
    if isinstance(session, Response):
        return session
    return _form(request, *session, lang)


def _answers_event(
    request: Request, grant: TokenGrant, fields: dict[str, str], lang: Lang
) -> ResponseRecorded | PageErrors:
    """The response the form describes, or the errors to show on the form."""
    intake = intake_of(request)
    catalogue = intake.catalogue(grant.instrument_id)

    def sealed_callback() -> str | None:
        if fields.get("callback") != "yes":
            return None
        contact = callback_contact(fields.get("callback_phone"), fields.get("callback_email"))
        return intake.seal_callback(contact)

    return event_or_errors(
        fields,
        catalogue=catalogue,
        items=intake.form_items(catalogue, grant.campaign_id),
        lang=lang,
        context=lambda: ResponseContext.invited(grant),
        sealed_callback=sealed_callback,
    )


@router.post("/s")
async def submit_form(request: Request) -> Response:
    """Validate, consume the invitation once, publish; or re-show the form with errors."""
    fields = await posted_fields(request)
    lang = pick_lang(fields.get("lang"))
    intake = intake_of(request)
    refused = await _limited(request, "submit", lang)
    if refused is None and cross_site(request, intake.settings.survey_base_url):
        refused = intake.renderer.message("forbidden", lang=lang, status=403)
    session = refused or await _session(request, lang)
    if isinstance(session, Response):
        return session
    token_hash, grant = session
    if intake.csrf.check(token_hash, fields.get("csrf")) is None:
        return intake.renderer.message("forbidden", lang=lang, status=403)
    event = _answers_event(request, grant, fields, lang)
    if isinstance(event, PageErrors):
        intake.metrics.responses.labels("online", "invalid").inc()
        return _form(request, token_hash, grant, lang, fields=fields, errors=event)
    problem = await intake.tokens().consume(token_hash, event, intake.outbox(), event.occurred_at)
    if problem is not None:
        return _problem_page(request, problem, lang)
    await intake.publish_responses([event])
    intake.metrics.responses.labels("online", "recorded").inc()
    # The cookie stays: a later post (another tab, the back button) then gets the clear
    # "already sent" page. It holds a used token only, and expires with the invitation.
    return RedirectResponse(f"/s/done?lang={lang}", status_code=303, headers=SECURITY_HEADERS)


@router.get("/static/{name}")
async def static(name: str) -> Response:
    """The pages' stylesheet and the kiosk script (served by intake: no CDN)."""
    if name not in STATIC:
        return Response(status_code=404)
    body = (resources.files("sipas_intake.web") / "static" / name).read_bytes()
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(body, media_type=STATIC[name], headers=headers)
