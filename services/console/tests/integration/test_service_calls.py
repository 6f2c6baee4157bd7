"""The console calls the services with the signed-in person's token: their scope applies."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from sipas_console.people.accounts import AccountStore, Person
from sipas_console.people.signin import hash_password
from sipas_contracts import subjects
from sipas_contracts.testing import response
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.testing import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.mongo]
SIGNED_IN_COPY = "vụ việc chưa được giải quyết trong phạm vi đơn vị của bạn"


async def add_handler(mongo, database: str, username: str, unit: str) -> str:
    password = "mật-khẩu-thử-" + username
    now = datetime.now(UTC)
    await AccountStore(mongo[database]).add(
        Person(
            id=username, username=username, name=f"Cán bộ {unit}", roles=("handler",),
            units=(unit,), password=hash_password(password), created_at=now, updated_at=now,
        )
    )  # fmt: skip
    return password


async def signed_in(http: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    """The Cookie header of a fresh session (sent by hand: the cookie is Secure)."""
    form = await http.get("/sign-in")
    csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    signed = await http.post(
        "/sign-in",
        data={"csrf": csrf, "username": username, "password": password},
        headers={"Cookie": f"sipas_csrf={http.cookies['sipas_csrf']}"},
    )
    assert signed.status_code == 303, signed.text
    return {"Cookie": signed.headers["set-cookie"].split(";", 1)[0]}


async def test_each_person_sees_the_cases_of_their_own_units(console_stack, nc, mongo):
    stack = console_stack("alerts")
    database = stack.env["SIPAS_CONSOLE_DATABASE"]
    co_dam = await add_handler(mongo, database, "cb-codam", "ht-nx-co-dam")
    xuan_hoi = await add_handler(mongo, database, "cb-xuanhoi", "ht-nx-xuan-hoi")
    rated_one = response(unit="ht-nx-co-dam", answers={"HL.DV.E1.1": 1})
    await nc.jetstream().publish(
        subjects.response_recorded(rated_one.unit),
        encode(rated_one),
        headers=event_headers(rated_one),
    )
    password = (stack.workdir / "dev-supervisor.txt").read_text().splitlines()[1]

    async with httpx.AsyncClient(base_url=stack.url("console"), timeout=15) as http:
        supervisor = await signed_in(http, "dev-supervisor", password)

        async def supervisor_sees_it() -> bool:
            return f"1 {SIGNED_IN_COPY}" in (await http.get("/", headers=supervisor)).text

        await eventually(supervisor_sees_it, seconds=30, interval=0.5)
        codam_home = await http.get("/", headers=await signed_in(http, "cb-codam", co_dam))
        xuanhoi_home = await http.get("/", headers=await signed_in(http, "cb-xuanhoi", xuan_hoi))

    assert f"1 {SIGNED_IN_COPY}" in codam_home.text
    assert f"0 {SIGNED_IN_COPY}" in xuanhoi_home.text
