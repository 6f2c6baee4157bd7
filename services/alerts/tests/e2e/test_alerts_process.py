"""The alerts service as a process, configured by files in the environment, as deployed."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest
import yaml
from nats.aio.client import Client
from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

from sipas_contracts import subjects
from sipas_contracts.testing import response
from sipas_runtime.publishing import encode, event_headers

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.mongo]


def user(name: str, role: str, unit: str | None = None) -> dict[str, Any]:
    return {
        "id": name,
        "role": role,
        "unit": unit,
        "key_sha256": hashlib.sha256(f"sak_{name}".encode()).hexdigest(),
    }


async def test_a_rating_of_one_reaches_the_units_handler_through_the_deployed_service(
    stack_factory: Any, nc: Client, tmp_path: Any
) -> None:
    users = tmp_path / "users.yaml"
    users.write_text(
        yaml.safe_dump(
            {
                "users": [
                    user("codam", "handler", "ht-nx-co-dam"),
                    user("xuanhoi", "handler", "ht-nx-xuan-hoi"),
                ]
            }
        )
    )
    stack = stack_factory({"SIPAS_ALERTS_USERS_FILE": str(users)}, services=("alerts",))
    event = response(unit="ht-nx-co-dam", answers={"HL.DV.E1.1": 1})
    await nc.jetstream().publish(
        subjects.response_recorded(event.unit), encode(event), headers=event_headers(event)
    )

    async with httpx.AsyncClient(base_url=stack.url("alerts"), timeout=10) as http:
        mine = {"Authorization": "Bearer sak_codam"}
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(30), wait=wait_fixed(0.2), reraise=True
        ):
            with attempt:
                items = (await http.get("/v1/cases", headers=mine)).json()["items"]
                assert len(items) == 1
        [case] = items
        other = await http.get(
            f"/v1/cases/{case['case_id']}", headers={"Authorization": "Bearer sak_xuanhoi"}
        )
        acked = await http.post(
            f"/v1/cases/{case['case_id']}/transitions",
            headers=mine,
            json={"action": "acknowledge"},
        )
        metrics = (await http.get("/metrics")).text

    assert case["unit"] == "ht-nx-co-dam"
    assert other.status_code == 403
    assert acked.status_code == 200
    assert json.loads(acked.text)["state"] == "acknowledged"
    assert 'sipas_alerts_cases_opened_total{rule="low_rating",unit="ht-nx-co-dam"} 1.0' in metrics
