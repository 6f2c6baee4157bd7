"""Machine keys: made, listed and revoked at run time, in the browser and through the API.

A key is shown once, when it is made; every instance of every service accepts it within
seconds and refuses it within seconds of its revocation (the identity bucket). Made and
revoked keys go to the console's audit log. ``/v1/keys`` is the same for scripts, with a
token or key that holds ``keys.manage``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from nats.js.kv import KeyValue
from pydantic import BaseModel, Field, ValidationError, field_validator

from sipas_console.web.forms import posted
from sipas_console.web.menu import MenuItem
from sipas_console.web.page import field_errors, render, service_of
from sipas_console.web.people import unit_choices
from sipas_runtime.i18n import _
from sipas_runtime.identity import Principal, allow
from sipas_runtime.identity.bucket import create_key, list_records, revoke_key
from sipas_runtime.identity.keys import KEY_ID, KeyRecord
from sipas_runtime.identity.roles import KEYS_MANAGE, MACHINE_ROLES, PEOPLE_ROLES, ROLES

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/v1/keys", tags=["keys"])
MANAGE = allow(KEYS_MANAGE)
PERMISSIONS = {
    ("GET", "/keys"): MANAGE,
    ("GET", "/keys/new"): MANAGE,
    ("POST", "/keys"): MANAGE,
    ("POST", "/keys/{key_id}/revoke"): MANAGE,
    ("GET", "/v1/keys"): MANAGE,
    ("POST", "/v1/keys"): MANAGE,
    ("POST", "/v1/keys/{key_id}/revoke"): MANAGE,
}
MENU = [
    MenuItem(
        85, _("Machine keys"), "/keys",
        _("Keys of the TTHC system, downstream readers and Alertmanager."),
        permission=KEYS_MANAGE,
    )
]  # fmt: skip


class NewKey(BaseModel):
    """What a key is for: who uses it, its roles and units, how long it lasts."""

    name: str = Field(min_length=1, max_length=120)
    roles: list[str] = Field(min_length=1)
    units: list[str] = []
    days: int = Field(default=365, ge=1, le=3650)

    @field_validator("roles")
    @classmethod
    def _known(cls, roles: list[str]) -> list[str]:
        unknown = sorted(set(roles) - set(ROLES))
        if unknown:
            msg = f"unknown roles {unknown}; known: {', '.join(ROLES)}"
            raise ValueError(msg)
        return roles


def _bucket(request: Request) -> KeyValue:
    kv = service_of(request).runtime.identity_bucket
    if kv is None:  # pragma: no cover - the console serves only once the bucket is open
        raise HTTPException(503)
    return kv


async def _make(request: Request, wanted: NewKey, caller: Principal) -> tuple[str, KeyRecord]:
    key, record = await create_key(
        _bucket(request), name=wanted.name, roles=wanted.roles, units=wanted.units,
        created_by=caller.subject, lifetime=timedelta(days=wanted.days),
    )  # fmt: skip
    await service_of(request).desk.audit.record(
        "key_created", actor=caller.subject, target=record.id, name=record.name,
        roles=",".join(record.roles), units=",".join(record.units),
    )  # fmt: skip
    return key, record


async def _revoke(request: Request, key_id: str, caller: Principal) -> KeyRecord:
    if re.fullmatch(KEY_ID, key_id) is None:
        raise HTTPException(404)
    revoked = await revoke_key(_bucket(request), key_id, by=caller.subject)
    if revoked is None:
        raise HTTPException(404)
    await service_of(request).desk.audit.record("key_revoked", actor=caller.subject, target=key_id)
    return revoked


def _caller(request: Request) -> Principal:
    caller: Principal | None = getattr(request.state, "principal", None)
    if caller is None:  # pragma: no cover - the gate let an authenticated caller through
        raise HTTPException(401)
    return caller


def role_choices() -> list[tuple[str, str]]:
    """Machine roles first (what keys are for), then people's roles (scripts acting as one)."""
    return [(name, ROLES[name].label) for name in (*MACHINE_ROLES, *PEOPLE_ROLES)]


@router.get("/keys", response_class=HTMLResponse)
async def keys(request: Request) -> Response:
    """Every key: who uses it, its roles and units, whether it still works."""
    records = await list_records(_bucket(request))
    now = datetime.now(UTC)
    rows = [(r, r.status(now)) for r in reversed(records)]
    roles = {name: role.label for name, role in ROLES.items()}
    return render(
        request, "keys/list.html", rows=rows, units=dict(unit_choices(request)), roles=roles
    )


@router.get("/keys/new", response_class=HTMLResponse)
async def new_key(request: Request) -> Response:
    """The form for a new key."""
    return _form(request, values={}, errors=[])


def _form(request: Request, *, values: dict[str, object], errors: list[tuple[str, str]],
          status: int = 200) -> Response:  # fmt: skip
    said = field_errors(request, errors)
    return render(
        request, "keys/form.html", status=status, values=values, errors=said,
        roles=role_choices(), units=unit_choices(request), field_error=dict(said),
    )  # fmt: skip


@router.post("/keys", response_class=HTMLResponse)
async def make_key(request: Request) -> Response:
    """Make the key and show it once."""
    form = await request.form()
    values: dict[str, object] = {
        "name": str(form.get("name", "")),
        "roles": [v for v in form.getlist("roles") if isinstance(v, str)],
        "units": [v for v in form.getlist("units") if isinstance(v, str)],
        "days": str(form.get("days", "365")),
    }
    try:
        wanted = NewKey.model_validate(values)
    except ValidationError as exc:
        fields = sorted({str(e["loc"][0]) for e in exc.errors()})
        errors = [(f, FIELD_RULES.get(f, _("Check this field."))) for f in fields]
        return _form(request, values=values, errors=errors, status=422)
    key, record = await _make(request, wanted, _caller(request))
    return render(request, "keys/made.html", key=key, record=record)


@router.post("/keys/{key_id}/revoke", response_class=HTMLResponse)
async def revoke(request: Request, key_id: str) -> Response:
    """Revoke a key: every service refuses it within seconds."""
    await posted(request)
    await _revoke(request, key_id, _caller(request))
    return RedirectResponse("/keys", status_code=303)


FIELD_RULES = {
    "name": _("Say who uses the key, e.g. the one-stop system of the province."),
    "roles": _("Choose at least one role."),
    "days": _("Between 1 and 3650 days."),
}


@api.get("", summary="Every machine key's record (never the key itself)")
async def api_list(request: Request) -> list[KeyRecord]:
    """Records of every key, oldest first."""
    return await list_records(_bucket(request))


@api.post("", summary="Make a machine key: the answer is the only time it is shown")
async def api_make(request: Request, wanted: NewKey) -> JSONResponse:
    """The key and its record."""
    key, record = await _make(request, wanted, _caller(request))
    return JSONResponse({"key": key, "record": record.model_dump(mode="json")}, status_code=201)


@api.post("/{key_id}/revoke", summary="Revoke a machine key")
async def api_revoke(request: Request, key_id: str) -> KeyRecord:
    """The key's record, revoked."""
    return await _revoke(request, key_id, _caller(request))


router.include_router(api)
