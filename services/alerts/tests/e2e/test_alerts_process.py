"""The alerts service as a process, as deployed: people come with tokens the console issued."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from nats.aio.client import Client
from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

from sipas_contracts import subjects
from sipas_contracts.testing import response
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.testing import Identities

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.mongo]


async def test_a_rating_of_one_reaches_the_units_handler_through_the_deployed_service(
    stack_factory: Any, nc: Client
) -> None:
    stack = stack_factory(services=("alerts",))
    ids = await Identities.on(nc)  # the console's part: keys the alerts process trusts
    event = response(unit="ht-nx-co-dam", answers={"HL.DV.E1.1": 1})
    await nc.jetstream().publish(
        subjects.response_recorded(event.unit), encode(event), headers=event_headers(event)
    )

    async with httpx.AsyncClient(base_url=stack.url("alerts"), timeout=10) as http:
        mine = ids.headers("handler", units=["ht-nx-co-dam"], subject="codam")
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(30), wait=wait_fixed(0.2), reraise=True
        ):
            with attempt:
                items = (await http.get("/v1/cases", headers=mine)).json()["items"]
                assert len(items) == 1
        [case] = items
        other = await http.get(
            f"/v1/cases/{case['case_id']}",
            headers=ids.headers("handler", units=["ht-nx-xuan-hoi"], subject="xuanhoi"),
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
