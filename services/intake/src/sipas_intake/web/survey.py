"""The survey form at ``/s/<token>``, one screen at a time, kept against the token until sent.

GET ``/s/<token>`` checks the token (clear pages for unknown, used, expired and closed
links: a member replaced from the reserve list),
sets an HttpOnly SameSite=Strict cookie holding it and redirects to the token-free ``/s``.
``GET /s?step=N`` shows a screen (without ``step``: the one the respondent stopped at).
Each screen posts to ``/s`` with a CSRF token bound to the token's hash and ``go`` =
``next``/``back``: its answers go into the draft (sealed for the token's holder, see
``security.DraftCipher``) and the browser is redirected to the next screen, so closing the
page and opening the link again resumes where it stopped, with every answer kept. The
review's ``go=submit`` builds the response from the draft and consumes the invitation
atomically (two tabs sending at once record one response). Nothing here needs JavaScript.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from sipas_contracts.events import ResponseRecorded
from sipas_intake.api import service_of
from sipas_intake.domain.responses import ResponseContext, TokenGrant, callback_contact
from sipas_intake.steps import Draft, Step, check, merge, step_at
from sipas_intake.store.tokens import TokenProblem
from sipas_intake.web import screens
from sipas_intake.web.forms import PageErrors, continue_with_cookie, event_or_errors, localise
from sipas_intake.web.forms import posted_fields as read_posted
from sipas_intake.web.render import switch_url
from sipas_runtime.guards import client_address, cross_site
from sipas_runtime.i18n import Lang, choose_language
from sipas_runtime.pages import SECURITY_HEADERS

router = APIRouter(include_in_schema=False)
COOKIE = "sipas_survey"
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
PROBLEM_PAGES = {
    TokenProblem.UNKNOWN: 404,
    TokenProblem.USED: 409,
    TokenProblem.EXPIRED: 410,
    TokenProblem.CLOSED: 409,
}
SAVE_ATTEMPTS = 5


@dataclass(frozen=True)
class Session:
    """The invitation a respondent's cookie opens."""

    token: str
    token_hash: str
    grant: TokenGrant


def _lang(request: Request, explicit: str | None) -> Lang:
    return choose_language(explicit, None, request.headers.get("accept-language"))


def _problem_page(request: Request, problem: TokenProblem, lang: Lang) -> Response:
    intake = service_of(request)
    intake.metrics.responses.labels("online", f"token_{problem.value}").inc()
    return intake.renderer.message(problem.value, lang=lang, status=PROBLEM_PAGES[problem])


async def _limited(request: Request, page: str, lang: Lang) -> Response | None:
    intake = service_of(request)
    if await intake.limits.allow(page, client_address(request)):
        return None
    intake.metrics.rate_limited.labels(page).inc()
    retry = str(intake.limits.retry_after(page))
    return intake.renderer.message("slow", lang=lang, status=429, headers={"Retry-After": retry})


@router.get("/s/done")
async def thanks(request: Request) -> Response:
    """The thank-you page."""
    lang = _lang(request, request.query_params.get("lang"))
    return service_of(request).renderer.message("thanks", lang=lang, status=200)


@router.get("/s/{token}")
async def open_link(token: str, request: Request) -> Response:
    """Check the link, keep the token in a cookie, continue at the token-free ``/s``."""
    lang = _lang(request, request.query_params.get("lang"))
    intake = service_of(request)
    if (limited := await _limited(request, "form", lang)) is not None:
        return limited
    if not TOKEN_SHAPE.match(token):
        return _problem_page(request, TokenProblem.UNKNOWN, lang)
    now = datetime.now(UTC)
    grant = await intake.stores.tokens.grant(intake.token_hash(token), now)
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


async def _session(request: Request, lang: Lang) -> Session | Response:
    intake = service_of(request)
    token = request.cookies.get(COOKIE, "")
    if not TOKEN_SHAPE.match(token):
        return intake.renderer.message("nocookie", lang=lang, status=400)
    token_hash = intake.token_hash(token)
    grant = await intake.stores.tokens.grant(token_hash, datetime.now(UTC))
    if isinstance(grant, TokenProblem):
        return _problem_page(request, grant, lang)
    return Session(token, token_hash, grant)


async def _load(request: Request, session: Session) -> tuple[Draft, int]:
    """The respondent's draft and the version it was read at."""
    intake = service_of(request)
    stored = await intake.stores.drafts.get(session.token_hash)
    plain = intake.draft_cipher.open(session.token, stored.sealed) if stored.sealed else None
    if plain is None:
        return Draft(), stored.version
    return Draft.model_validate_json(plain), stored.version


async def _save(request: Request, session: Session, change: Callable[[Draft], Draft]) -> bool:
    """Apply ``change`` to the stored draft; re-read and re-apply if another tab saved first."""
    intake = service_of(request)
    for _attempt in range(SAVE_ATTEMPTS):
        draft, version = await _load(request, session)
        sealed = intake.draft_cipher.seal(session.token, change(draft).model_dump_json().encode())
        if await intake.stores.drafts.put(
            session.token_hash,
            sealed,
            read_at=version,
            expires_at=session.grant.expires_at,
            now=datetime.now(UTC),
        ):
            return True
    return False


def _screen(
    request: Request,
    session: Session,
    lang: Lang,
    step: Step,
    draft: Draft,
    *,
    errors: PageErrors | None = None,
) -> Response:
    """One screen of the form, with the draft's answers (and errors, when a post failed)."""
    intake = service_of(request)
    questionnaire, steps = screens.form_of(*_profile_key(request, session, lang))
    errors = errors or PageErrors()

    def text(message: str, **params: object) -> str:
        return intake.renderer.text(lang, message, **params)

    return intake.renderer.page(
        screens.TEMPLATES[step.kind],
        lang=lang,
        status=422 if errors.summary else 200,
        switch_url=switch_url(f"/s?step={step.number}", lang),
        unit_name=intake.renderer.unit_name(session.grant.unit, lang),
        csrf=intake.csrf.issue(session.token_hash),
        errors=errors.summary,
        field_errors=errors.by_field,
        variables=screens.context(questionnaire, steps, step, draft, text),
    )


def _profile_key(request: Request, session: Session, lang: Lang) -> tuple[str, str, Lang]:
    intake = service_of(request)
    grant = session.grant
    profile = intake.profile(intake.catalogue(grant.instrument_id), grant.campaign_id)
    return grant.instrument_id, profile, lang


@router.get("/s")
async def show_step(request: Request) -> Response:
    """A screen of the form (the one the respondent stopped at, unless ``step`` says)."""
    lang = _lang(request, request.query_params.get("lang"))
    if (limited := await _limited(request, "form", lang)) is not None:
        return limited
    session = await _session(request, lang)
    if isinstance(session, Response):
        return session
    draft, _version = await _load(request, session)
    _questionnaire, steps = screens.form_of(*_profile_key(request, session, lang))
    step = step_at(steps, request.query_params.get("step") or draft.step)
    return _screen(request, session, lang, step, draft)


async def _refused(request: Request, fields: dict[str, str], lang: Lang) -> Session | Response:
    """The session a post belongs to, or why the post is refused (rate, origin, CSRF)."""
    intake = service_of(request)
    page = "submit" if fields.get("go") == "submit" else "form"
    if (limited := await _limited(request, page, lang)) is not None:
        return limited
    if cross_site(request, intake.settings.survey_base_url):
        return intake.renderer.message("forbidden", lang=lang, status=403)
    session = await _session(request, lang)
    if (
        isinstance(session, Session)
        and intake.csrf.check(session.token_hash, fields.get("csrf")) is None
    ):
        return intake.renderer.message("forbidden", lang=lang, status=403)
    return session


@router.post("/s")
async def post_step(request: Request) -> Response:
    """Keep one screen's answers and move on; on the review, send the response once."""
    fields = await read_posted(request)
    lang = _lang(request, fields.get("lang"))
    session = await _refused(request, fields, lang)
    if isinstance(session, Response):
        return session
    intake = service_of(request)
    _questionnaire, steps = screens.form_of(*_profile_key(request, session, lang))
    step = step_at(steps, fields.get("step"))
    if fields.get("go") == "submit":
        return await _submit(request, session, steps, lang)
    catalogue = intake.catalogue(session.grant.instrument_id)
    if problems := check(step, fields, catalogue):
        labels = {i: getattr(catalogue.items[i], lang) for i in step.item_ids()}
        errors = localise(problems, lambda m: intake.renderer.text(lang, m), labels)
        draft, _version = await _load(request, session)
        return _screen(request, session, lang, step, merge(draft, step, fields), errors=errors)
    target = step_at(steps, step.number - 1 if fields.get("go") == "back" else step.number + 1)

    def change(draft: Draft) -> Draft:
        return merge(draft, step, fields).model_copy(update={"step": target.number})

    if not await _save(request, session, change):
        return intake.renderer.message("busy", lang=lang, status=409)
    return RedirectResponse(
        f"/s?step={target.number}&lang={lang}", status_code=303, headers=SECURITY_HEADERS
    )


def _answers_event(
    request: Request, grant: TokenGrant, fields: dict[str, str], lang: Lang
) -> ResponseRecorded | PageErrors:
    """The response the draft describes, or the errors to show on the review."""
    intake = service_of(request)
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
        text=lambda m: intake.renderer.text(lang, m),
        lang=lang,
        context=lambda: ResponseContext.invited(grant),
        seal_comment=intake.seal_comment,
        sealed_callback=sealed_callback,
    )


async def _submit(request: Request, session: Session, steps: list[Step], lang: Lang) -> Response:
    intake = service_of(request)
    draft, _version = await _load(request, session)
    event = _answers_event(request, session.grant, draft.fields(), lang)
    if isinstance(event, PageErrors):
        intake.metrics.responses.labels("online", "invalid").inc()
        errors = PageErrors()
        for anchor, message in event.summary:
            errors.add(anchor, screens.review_anchor(steps, anchor), message)
        return _screen(request, session, lang, steps[-1], draft, errors=errors)
    problem = await intake.stores.tokens.consume(
        session.token_hash, event, intake.stores.outbox, event.occurred_at
    )
    if problem is not None:
        return _problem_page(request, problem, lang)
    await intake.stores.drafts.delete(session.token_hash)
    await intake.publish_responses([event])
    intake.metrics.responses.labels("online", "recorded").inc()
    # The cookie stays: a later post (another tab, the back button) then gets the clear
    # "already sent" page. It holds a used token only, and expires with the invitation.
    return RedirectResponse(f"/s/done?lang={lang}", status_code=303, headers=SECURITY_HEADERS)
