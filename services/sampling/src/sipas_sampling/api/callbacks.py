"""Delivery reports from the gateways (eSMS GET callback, Zalo signed webhook).

The eSMS callback URL carries a per-deployment token derived from sampling's secret key
(eSMS does not sign its callbacks); Zalo events are checked against ``X-ZEvent-Signature``.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request

from sipas_runtime.channels import (
    ChannelError,
    ReportError,
    parse_esms_report,
    parse_zalo_event,
)
from sipas_runtime.i18n import _
from sipas_runtime.openapi import problem_responses
from sipas_runtime.problems import ProblemError
from sipas_sampling.api import service_of

router = APIRouter(prefix="/v1/callbacks", tags=["delivery reports"])


@router.get(
    "/esms/{token}",
    summary="eSMS delivery report (GET, as eSMS calls it)",
    responses=problem_responses(400),
)
async def esms(request: Request, token: str) -> dict[str, Any]:
    """Record delivered / failed for the invitation named by ``RequestId``."""
    sampling = service_of(request)
    if not hmac.compare_digest(token.encode(), sampling.callback_token.encode()):
        raise ProblemError(404, _("Unknown callback."))
    try:
        report = parse_esms_report(dict(request.query_params))
    except ReportError as exc:
        errors = [{"field": exc.field, "reason": exc.reason}]
        raise ProblemError(400, str(exc), errors=errors) from exc
    return {"known": await sampling.dispatcher.report(report)}


@router.post(
    "/zalo", summary="Zalo ZNS webhook (user_received_message)", responses=problem_responses(401)
)
async def zalo(
    request: Request, x_zevent_signature: Annotated[str, Header()] = ""
) -> dict[str, Any]:
    """Verify the signature, then record the delivery."""
    sampling = service_of(request)
    body = await request.body()
    try:
        report = parse_zalo_event(
            sampling.settings.zalo_app_id,
            sampling.settings.zalo_oa_secret,
            body,
            x_zevent_signature,
        )
    except ChannelError as exc:
        raise ProblemError(401, str(exc)) from exc
    known = await sampling.dispatcher.report(report) if report else False
    return {"known": known}
