"""People: who may sign in, with which roles and units (the supervisor's screen).

Creating a person gives them a temporary password, shown once to the supervisor who hands
it over; resetting does the same (and clears a lock, optionally the second factor). Roles
and units changes are audited and take effect at the person's next page. A supervisor
cannot take away their own supervision, nor leave the province without an active one.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from sipas_console.people.accounts import AccountError, Person
from sipas_console.people.signin import hash_password
from sipas_console.web.forms import posted
from sipas_console.web.menu import MenuItem
from sipas_console.web.page import field_errors, person_of, render, service_of
from sipas_runtime.i18n import _
from sipas_runtime.identity import allow
from sipas_runtime.identity.principal import province_day
from sipas_runtime.identity.roles import PEOPLE_MANAGE, PEOPLE_ROLES, ROLES

router = APIRouter(include_in_schema=False)
MANAGE = allow(PEOPLE_MANAGE, people_only=True)
PERMISSIONS = {
    ("GET", "/people"): MANAGE,
    ("GET", "/people/new"): MANAGE,
    ("POST", "/people"): MANAGE,
    ("GET", "/people/{person_id}"): MANAGE,
    ("POST", "/people/{person_id}"): MANAGE,
    ("POST", "/people/{person_id}/password"): MANAGE,
}
MENU = [
    MenuItem(
        80, _("People"), "/people", _("Who may sign in, with which roles and units."),
        permission=PEOPLE_MANAGE,
    )
]  # fmt: skip
LAST_SUPERVISOR = _("The province needs an active supervisor: keep this one, or add another first.")
NO_ROLE = _("Choose at least one role.")
TAKEN = _("This username is taken: choose another.")
INVALID = _("Check this field.")
FIELD_RULES = {
    "username": _("Use 2 to 64 lower-case letters, digits, dots, dashes, @ or _."),
    "name": _("Enter the person's full name (at most 120 characters)."),
}


def unit_choices(request: Request) -> list[tuple[str, str]]:
    """The units a person may be given today: the province and every unit below it."""
    hierarchy = service_of(request).hierarchy
    day = province_day()
    found, todo = [hierarchy.province], [hierarchy.province]
    while todo:
        for child in hierarchy.children(todo.pop(), day):
            found.append(child)
            todo.append(child)
    return [(code, hierarchy.units[code].name_vi) for code in found]


def role_choices() -> list[tuple[str, str]]:
    """The roles a person may hold (machine roles are for keys)."""
    return [(name, ROLES[name].label) for name in PEOPLE_ROLES]


def _form(
    request: Request,
    *,
    person: Person | None,
    values: dict[str, object],
    errors: list[tuple[str, str]],
    status: int = 200,
) -> Response:
    said = field_errors(request, errors)
    return render(
        request, "people/form.html", status=status, who=person, values=values, errors=said,
        roles=role_choices(), units=unit_choices(request), field_error=dict(said),
    )  # fmt: skip


@router.get("/people", response_class=HTMLResponse)
async def people(request: Request) -> Response:
    """Everyone who may sign in, by name."""
    everyone = await service_of(request).desk.accounts.everyone()
    names = dict(unit_choices(request))
    return render(request, "people/list.html", everyone=everyone, unit_names=names)


@router.get("/people/new", response_class=HTMLResponse)
async def new_person(request: Request) -> Response:
    """The form for a new person."""
    return _form(request, person=None, values={}, errors=[])


@router.post("/people", response_class=HTMLResponse)
async def create_person(request: Request) -> Response:
    """Create the account; show its temporary password once."""
    form = await request.form()
    username, name = str(form.get("username", "")), str(form.get("name", ""))
    roles, units = _strings(form, "roles"), _strings(form, "units")
    values: dict[str, object] = {"username": username, "name": name, "roles": roles, "units": units}
    if not roles:
        return _form(request, status=422, person=None, values=values,
                     errors=[("roles", NO_ROLE)])  # fmt: skip
    temporary = secrets.token_urlsafe(12)
    now = datetime.now(UTC)
    try:
        person = Person(
            id=username.strip().lower(), username=username, name=name, roles=tuple(roles),
            units=tuple(units), password=hash_password(temporary), created_at=now, updated_at=now,
        )  # fmt: skip
        await service_of(request).desk.accounts.add(person)
    except (ValidationError, AccountError) as exc:
        return _form(request, status=422, person=None, values=values,
                     errors=_errors(exc))  # fmt: skip
    await _audit(request, "person_created", person)
    return render(request, "people/password.html", who=person, password=temporary, created=True)


@router.get("/people/{person_id}", response_class=HTMLResponse)
async def person_page(request: Request, person_id: str) -> Response:
    """One person: roles, units, whether they may sign in."""
    person = await _person(request, person_id)
    values = {"roles": person.roles, "units": person.units, "active": person.active}
    return _form(request, person=person, values=values, errors=[])


@router.post("/people/{person_id}", response_class=HTMLResponse)
async def change_person(request: Request, person_id: str) -> Response:
    """New roles, units or status; sessions end when the person may do less."""
    console, person = service_of(request), await _person(request, person_id)
    form = await request.form()
    roles, units = tuple(sorted(_strings(form, "roles"))), tuple(sorted(_strings(form, "units")))
    active = form.get("active") == "1"
    values = {"roles": roles, "units": units, "active": active}
    problem = await _refusal(request, person, roles, active)
    if problem:
        return _form(request, status=422, person=person, values=values,
                     errors=[("roles", problem)])  # fmt: skip
    await console.desk.accounts.change(
        person.id, roles=list(roles), units=list(units), active=active
    )
    changed = person.model_copy(update={"roles": roles, "units": units, "active": active})
    await _audit(request, "roles_changed", changed, before=f"{person.roles}/{person.units}")
    if not active or not set(person.roles) <= set(roles) or not set(person.units) <= set(units):
        await console.desk.sessions.close_all(person.id)
    return RedirectResponse(f"/people/{person.id}", status_code=303)


@router.post("/people/{person_id}/password", response_class=HTMLResponse)
async def reset_password(request: Request, person_id: str) -> Response:
    """A new temporary password (the lock cleared; the second factor too, if asked)."""
    fields = await posted(request)
    console, person = service_of(request), await _person(request, person_id)
    temporary = secrets.token_urlsafe(12)
    changes: dict[str, object] = {"password": hash_password(temporary), "failures": 0}
    changes |= {"locks": 0, "locked_until": None}
    if fields.get("second_factor") == "1":
        changes |= {"totp_secret": None, "totp_step": None, "totp_pending": None}
    await console.desk.accounts.change(person.id, **changes)
    await console.desk.sessions.close_all(person.id)
    await _audit(request, "password_reset", person, second_factor=fields.get("second_factor"))
    return render(request, "people/password.html", who=person, password=temporary, created=False)


def _strings(form: FormData, name: str) -> list[str]:
    return [value for value in form.getlist(name) if isinstance(value, str)]


async def _person(request: Request, person_id: str) -> Person:
    person = await service_of(request).desk.accounts.get(person_id)
    if person is None:
        raise HTTPException(404)
    return person


async def _refusal(
    request: Request, person: Person, roles: tuple[str, ...], active: bool
) -> str | None:
    if not roles:
        return NO_ROLE
    losing = "supervisor" in person.roles and ("supervisor" not in roles or not active)
    if not losing:
        return None
    me = person_of(request)
    others = await service_of(request).desk.accounts.count_active("supervisor") - 1
    return LAST_SUPERVISOR if me.id == person.id or others < 1 else None


def _errors(exc: Exception) -> list[tuple[str, str]]:
    if isinstance(exc, ValidationError):
        fields = {str(e["loc"][0]) for e in exc.errors()}
        return [(f, FIELD_RULES.get(f, INVALID)) for f in sorted(fields)]
    if "taken" in str(exc):
        return [("username", TAKEN)]
    return [("roles", NO_ROLE)]


async def _audit(request: Request, action: str, person: Person, **details: object) -> None:
    await service_of(request).desk.audit.record(
        action, actor=person_of(request).id, target=person.id, roles=",".join(person.roles),
        units=",".join(person.units), active=person.active, **details,
    )  # fmt: skip
