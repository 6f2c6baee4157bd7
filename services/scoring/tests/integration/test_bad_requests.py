"""Requests that could answer 500 each get a clear 4xx problem document."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.nats, pytest.mark.mongo]


@pytest.mark.parametrize("params", [{"campaign": ""}, {"campaign": " "}, {"campaign": "a\x00b"}])
async def test_an_empty_or_broken_campaign_in_the_funnel_is_a_client_error(harness, params):
    answer = await harness.http.get("/v1/funnel", params=params)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["field"] == "campaign"


@pytest.mark.parametrize("method", ["GET", "PUT"])
async def test_a_campaign_id_outside_the_id_alphabet_is_refused_not_a_server_error(harness, method):
    answer = await harness.http.request(method, "/v1/campaigns/%C3%81/profile", json={})

    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "campaign"
