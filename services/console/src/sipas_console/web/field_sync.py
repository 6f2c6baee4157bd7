"""Sending what an enumerator's device queued: each item recorded exactly once, or said why not.

A queued item is ``{"id", "kind": "interview" | "outcome", "campaign", "invitation",
"fields": {...}}``. Outcomes go first (a refusal brings in the reserve the next interview
may be about), then interviews, each in the order recorded. The item's id, made once on
the device, is the interview's ``submission_id``: intake answers a repeat with the response
recorded the first time. An outcome is idempotent by itself (sampling answers a repeated
refusal with the logged substitution).

Each result is ``done`` (recorded now or before: remove it), ``retry`` (keep it: the
network, a service, or an invitation intake has not heard of yet, as after a substitution
made a moment ago) or ``conflict`` (recorded otherwise, or refused: show it to the
enumerator, never drop it silently). An interview for a person sampling has replaced from
the reserve list (refused or not reachable, recorded on another device) is such a conflict:
it is not sent when sampling's list says so already, and intake, which sampling tells of the
substitution, refuses it otherwise (``invitation-replaced``). A result's message is an English
msgid the console translates into the enumerator's language (the services' own details are
for developers): the page shows it as is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from sipas_console.clients import Caller, ServiceCallError, ServiceClients
from sipas_console.web.field_views import interview_body
from sipas_runtime.i18n import _

MAX_ITEMS = 200
UUID_SHAPE = re.compile(r"^[0-9a-fA-F]{8}(-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}$")
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SIGNED_OUT = 401
NOT_YET = 404
SERVER_ERROR = 500
OUTCOMES = frozenset({"refused", "unreachable"})
MALFORMED = _("This entry could not be read on the server; record it again.")
UNAVAILABLE = _("The service could not be reached; it will be sent again.")
NOT_OPEN_YET = _("This person's invitation is not open for interviews yet; it will be sent again.")
CONFLICTS = {
    ("interview", 403): _("This person is not on your lists; the interview was not recorded."),
    ("interview", 404): _("No open invitation for this person; the interview was not recorded."),
    ("interview", 409): _(
        "Answers were already recorded for this person (on another device or online); "
        "this interview was not recorded again."
    ),
    ("interview", 410): _("This person's invitation has expired; the interview was not recorded."),
    ("interview", 422): _(
        "The answers were refused; open the interview again with a network to see why."
    ),
    ("outcome", 403): _("This person is not on your lists; the outcome was not recorded."),
    ("outcome", 404): _("This person is not on the lists of this campaign."),
    ("outcome", 409): _(
        "This person could not be replaced: they have answered already, "
        "or the reserve list is used up."
    ),
}
OTHER_CONFLICT = _("This entry was refused; ask your supervisor.")
REPLACED = _(
    "This person has been replaced from the reserve list (refused or not reachable, recorded "
    "meanwhile); this interview was not sent."
)
SUBSTITUTED = "substituted"
REPLACED_PROBLEM = "urn:sipas:problem:invitation-replaced"


def problems(exc: ServiceCallError) -> list[tuple[str, str]]:
    """A service's refusal as (field, message) pairs for a form's error summary."""
    found = [
        (str(e.get("field") or "main"), str(e.get("reason") or exc.detail))
        for e in exc.problem.get("errors") or []
    ]
    return found or [("main", exc.detail)]


def _valid(item: object) -> TypeGuard[Mapping[str, Any]]:
    return (
        isinstance(item, Mapping)
        and item.get("kind") in {"interview", "outcome"}
        and isinstance(item.get("id"), str)
        and bool(UUID_SHAPE.match(item["id"]))
        and isinstance(item.get("campaign"), str)
        and bool(CODE.match(item["campaign"]))
        and isinstance(item.get("invitation"), str)
        and bool(UUID_SHAPE.match(item["invitation"]))
        and isinstance(item.get("fields"), Mapping)
    )


def _result(item: Mapping[str, Any], status: str, message: str = "") -> dict[str, str]:
    return {"id": str(item.get("id", "")), "status": status, "message": message}


def result_of_refusal(item: Mapping[str, Any], exc: ServiceCallError) -> dict[str, str]:
    """The result of a service's error answer: sent again later, or a conflict to show."""
    if exc.status >= SERVER_ERROR:  # a service down or unreachable (503) included
        return _result(item, "retry", UNAVAILABLE)
    if exc.status == NOT_YET and item["kind"] == "interview":  # a reserve brought in just now
        return _result(item, "retry", NOT_OPEN_YET)
    if exc.problem.get("type") == REPLACED_PROBLEM:
        return _result(item, "conflict", REPLACED)
    return _result(item, "conflict", CONFLICTS.get((item["kind"], exc.status), OTHER_CONFLICT))


async def _send_one(
    clients: ServiceClients, caller: Caller, item: Mapping[str, Any]
) -> dict[str, str]:
    fields = {str(k): str(v) for k, v in item["fields"].items()}
    if item["kind"] == "outcome":
        reason = fields.get("reason", "")
        if reason not in OUTCOMES:
            return _result(item, "conflict", MALFORMED)
        await clients.sampling.post_json(
            f"/v1/campaigns/{item['campaign']}/substitutions",
            {"invitation_id": item["invitation"], "reason": reason},
            as_=caller,
        )
        return _result(item, "done")
    answers = [k.removeprefix("a.") for k in fields if k.startswith("a.")]
    body = interview_body({**fields, "submission_id": item["id"]}, item["invitation"], answers)
    await clients.intake.post_json("/v1/interviews", body, as_=caller)
    return _result(item, "done")


async def replaced(clients: ServiceClients, caller: Caller, campaign_id: str) -> frozenset[str]:
    """The invitations of ``campaign_id`` a substitution replaced (none known if unreadable)."""
    try:
        rows = await clients.sampling.get_json(
            f"/v1/campaigns/{campaign_id}/assignments", as_=caller
        )
    except ServiceCallError as exc:
        if exc.status == SIGNED_OUT:
            raise
        return frozenset()  # intake, which records the interview, still decides
    return frozenset(str(r["invitation_id"]) for r in rows["rows"] if r["state"] == SUBSTITUTED)


async def _attempt(
    clients: ServiceClients, caller: Caller, item: Mapping[str, Any]
) -> dict[str, str]:
    try:
        return await _send_one(clients, caller, item)
    except ServiceCallError as exc:
        if exc.status == SIGNED_OUT:
            raise
        return result_of_refusal(item, exc)


async def send(
    clients: ServiceClients, caller: Caller, items: Sequence[object]
) -> list[dict[str, str]]:
    """Send ``items``: outcomes first, then interviews of persons not replaced meanwhile.

    One result per item. Raises the service's 401 (the person's session ended): nothing
    more can be sent.
    """
    taken = list(items[:MAX_ITEMS])
    results = [
        _result(i if isinstance(i, Mapping) else {}, "conflict", MALFORMED)
        for i in taken
        if not _valid(i)
    ]
    valid = [i for i in taken if _valid(i)]
    interviews = [i for i in valid if i["kind"] == "interview"]
    results += [await _attempt(clients, caller, i) for i in valid if i["kind"] == "outcome"]
    gone: set[str] = set()
    for campaign_id in sorted({i["campaign"] for i in interviews}):
        gone |= await replaced(clients, caller, campaign_id)
    for item in interviews:
        if item["invitation"] in gone:
            results.append(_result(item, "conflict", REPLACED))
        else:
            results.append(await _attempt(clients, caller, item))
    return results
