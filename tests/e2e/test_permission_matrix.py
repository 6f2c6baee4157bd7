"""Every route of every service, called as every role and then some, answers as its table says.

The expectations are generated from the same route tables the gate enforces and the docs
show (``sipas identity docs``): for every route of every service (intake, sampling, scoring,
alerts, console) and every role (people: a token the console would issue; machines: a
machine key), a route the role may call must get past the gate (neither 401 nor 403, and
never a 5xx), one it may not call must answer exactly 403; with no credential, an expired
token, a revoked key or a forged token, exactly 401; with a token for another unit, exactly
403 on every route that names a unit, and on a case of that unit. Public routes answer the
same whoever calls. Then every log of the run is searched for every credential it used.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats
import pytest

from sipas_contracts import subjects
from sipas_contracts.testing import response
from sipas_runtime.identity.gate import RouteTable, Rule
from sipas_runtime.identity.roles import ROLES
from sipas_runtime.identity.tables import route_tables
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.stack import Stack
from sipas_runtime.testing import Identities, eventually

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.nats,
    pytest.mark.mongo,
    pytest.mark.slow,
    pytest.mark.timeout(300),  # every route × every role and credential: ~2 min on a busy machine
]
UNIT, OTHER_UNIT = "ht-nx-co-dam", "ht-nx-xuan-hoi"
PATH_VALUES = {
    "campaign": "demo",
    "campaign_id": "demo",
    "unit": UNIT,
    "publication_id": str(uuid.UUID(int=1)),
    "dossier_id": "000.00.00.H42-000000-0001",
    "instrument_id": "sipas-1001-2023",
    "device_id": "quay-1",
    "token": "not-a-token-0000000000",
    "key": "not-a-key-0000000000",
    "fmt": "json",
}
FORMATS = {"report.{fmt}": "html", "preview.{fmt}": "html"}
PARAM = re.compile(r"\{(\w+)\}")


USED: set[str] = set()
"""Every credential the tests of this module presented: none may appear in a log."""


@dataclass
class Run:
    """The running system and the identities a test made."""

    stack: Stack
    ids: Identities
    case_id: str
    callers: dict[str, dict[str, str]] = field(default_factory=dict)


@pytest.fixture
async def run(stack: Stack) -> AsyncIterator[Run]:
    nc = await nats.connect(stack.nats_url)
    ids = await Identities.on(nc)
    rated_one = response(unit=UNIT, answers={"HL.DV.E1.1": 1})
    await nc.jetstream().publish(
        subjects.response_recorded(UNIT), encode(rated_one), headers=event_headers(rated_one)
    )
    run = Run(stack, ids, case_id="")
    for name, role in ROLES.items():
        if role.machine:
            credential = await ids.key(name, units=["ht"], name=f"matrix {name}")
        else:
            credential = ids.token(name, units=["ht"], subject=f"matrix-{name}")
        run.callers[name] = bearer(credential)
        USED.add(credential)
    async with httpx.AsyncClient(timeout=30) as http:
        run.case_id = await eventually(lambda: one_case(http, run), seconds=60, interval=0.5)
        for headers in run.callers.values():  # every service knows every key by now
            for service in ("alerts", "console"):
                await eventually(lambda h=headers, s=service: known(http, stack, s, h), seconds=10)
    try:
        yield run
    finally:
        await ids.close()
        await nc.close()


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


async def one_case(http: httpx.AsyncClient, run: Run) -> str | None:
    answer = await http.get(
        f"{run.stack.url('alerts')}/v1/cases", headers=run.callers["supervisor"]
    )
    items = answer.json().get("items", []) if answer.status_code == 200 else []
    return str(items[0]["case_id"]) if items else None


async def known(
    http: httpx.AsyncClient, stack: Stack, service: str, headers: dict[str, str]
) -> bool:
    path = "/v1/kpis" if service == "alerts" else "/account"
    answer = await http.get(f"{stack.url(service)}{path}", headers=headers)
    return answer.status_code not in {401, 303}  # 303: the console's sign-in page


def concrete(path: str, case_id: str, unit: str = UNIT) -> str:
    """A path template with sample values (the real case; ``unit`` where a unit goes)."""
    for suffix, fmt in FORMATS.items():
        if path.endswith(suffix):
            path = path.removesuffix(suffix) + suffix.replace("{fmt}", fmt)
    values = {**PATH_VALUES, "case_id": case_id, "unit": unit}
    return PARAM.sub(lambda m: values.get(m.group(1), "x"), path)


async def call(
    http: httpx.AsyncClient,
    base: str,
    method: str,
    path: str,
    headers: dict[str, str],
    *,
    rule: Rule | None = None,
    unit: str = UNIT,
) -> int:
    params = {rule.unit: unit} if rule and rule.unit and f"{{{rule.unit}}}" not in path else {}
    body = {"json": {}} if method in {"POST", "PUT"} else {}
    async with http.stream(method, base + path, headers=headers, params=params, **body) as answer:
        return answer.status_code  # the body is not read (server-sent events never end)


def allowed(rule: Rule, role: str) -> bool:
    """Whether the table lets ``role`` through (people-only pages exclude machines)."""
    if rule.public:
        return True
    if rule.people_only and ROLES[role].machine:
        return False
    return not rule.permissions.isdisjoint(ROLES[role].permissions)


def as_the_table_says(status: int, rule: Rule, role: str) -> bool:
    """Allowed: past the gate (no 401/403) and no server error; refused: exactly 403.

    A public route carries its own proof (a survey token, a kiosk's cookie, a gateway's
    signature) and may refuse everyone alike: it only must not fail, nor tell callers apart.
    """
    if rule.public:
        return status < 500
    if allowed(rule, role):
        return status < 500 and status not in {401, 403}
    return status == 403


def unauthenticated(service: str, method: str, path: str) -> int:
    """What a caller without a valid credential gets: 401, or the console's sign-in page
    (for the console's pages; its JSON API under /v1/ answers 401 like every service)."""
    page = service == "console" and method == "GET" and not path.startswith("/v1/")
    return 303 if page else 401


def services(stack: Stack) -> list[tuple[RouteTable, str]]:
    return [(table, stack.url(table.service)) for table in route_tables()]


async def test_every_route_answers_every_role_exactly_as_its_table_says(run: Run) -> None:
    wrong: list[str] = []
    async with httpx.AsyncClient(timeout=30) as http:
        for table, base in services(run.stack):
            for (method, template), rule in table:
                path = concrete(template, run.case_id)
                seen = {}
                for role, headers in run.callers.items():
                    status = await call(http, base, method, path, headers, rule=rule)
                    seen[role] = status
                    if not as_the_table_says(status, rule, role):
                        wrong.append(f"{table.service} {method} {template} as {role}: {status}")
                if rule.public and len(set(seen.values())) > 1:
                    wrong.append(f"{table.service} {method} {template} public, but {seen}")

    assert wrong == [], "\n".join(wrong)


async def test_no_valid_credential_gets_401_and_another_units_token_gets_403(run: Run) -> None:
    ids, wrong = run.ids, []
    expired = ids.token("supervisor", now=datetime.now(UTC) - timedelta(minutes=11))
    forged = ids.token("supervisor")[:-6] + "AAAAAA"
    revoked = await ids.key("supervisor", units=["ht"], name="matrix revoked")
    await ids.revoke(revoked)
    USED.update({expired, forged, revoked})
    refused = {"none": {}, "expired": bearer(expired), "forged": bearer(forged)}
    refused["revoked"] = bearer(revoked)
    people = [name for name, role in ROLES.items() if not role.machine]
    elsewhere_token = ids.token(*people, units=[OTHER_UNIT], subject="matrix-elsewhere")
    elsewhere = bearer(elsewhere_token)
    USED.add(elsewhere_token)
    async with httpx.AsyncClient(timeout=30) as http:
        await eventually(
            lambda: call(http, run.stack.url("scoring"), "GET", "/v1/indices", bearer(revoked)),
            seconds=5,
        )
        for table, base in services(run.stack):
            for (method, template), rule in table:
                if rule.public:
                    continue
                path = concrete(template, run.case_id)
                for name, headers in refused.items():
                    status = await call(http, base, method, path, headers, rule=rule)
                    if status != unauthenticated(table.service, method, template):
                        wrong.append(f"{table.service} {method} {template} {name}: {status}")
                if rule.unit:
                    status = await call(http, base, method, path, elsewhere, rule=rule)
                    if status != 403:
                        wrong.append(f"{table.service} {method} {template} elsewhere: {status}")
        case = f"{run.stack.url('alerts')}/v1/cases/{run.case_id}"
        for suffix in ("", "/alerts", "/callbacks"):
            status = (await http.get(case + suffix, headers=elsewhere)).status_code
            if status != 403:
                wrong.append(f"alerts GET /v1/cases/<case of {UNIT}>{suffix} elsewhere: {status}")

    assert wrong == [], "\n".join(wrong)


async def test_no_credential_ever_reaches_a_log(run: Run) -> None:
    stack = run.stack
    password = (stack.workdir / "dev-supervisor.txt").read_text().splitlines()[1]
    async with httpx.AsyncClient(base_url=stack.url("console"), timeout=30) as http:
        form = await http.get("/sign-in")
        csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        for attempt in (password + "x", password):  # a failed and a good sign-in
            await http.post(
                "/sign-in",
                data={"csrf": csrf, "username": "dev-supervisor", "password": attempt},
                headers={"Cookie": f"sipas_csrf={http.cookies['sipas_csrf']}"},
            )
    dev_keys = json.loads((stack.workdir / "dev-keys.json").read_text())
    secrets = USED | {password, password + "x", run.ids.signing.private_jwk["d"]}
    secrets |= {entry["key"] for entry in dev_keys.values()}
    secrets |= {v for k, v in stack.env.items() if "SECRET" in k or "PASSWORD" in k}
    secrets |= {token.split(".")[2] for token in secrets if token.count(".") == 2}  # signatures
    logs = {path.name: path.read_text(errors="replace") for path in _logs(stack.workdir)}

    leaks = [
        f"{name} holds {secret[:10]}…" for name, text in logs.items() for secret in secrets
        if len(secret) >= 16 and secret in text
    ]  # fmt: skip

    assert set(logs) >= {f"{s}.log" for s in stack.services}
    assert leaks == []


def _logs(workdir: Path) -> list[Path]:
    return sorted((workdir / "logs").glob("*.log"))
