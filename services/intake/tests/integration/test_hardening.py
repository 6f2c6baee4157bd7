"""Intake served over real HTTP as in production: rate limits that a forged header cannot
dodge, and the same security headers on every answer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
BODY = {"token": "x" * 22, "answers": {"HL.DV.E1.1": 5}}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"submit_rate": "3/minute"}


def test_api_submissions_are_rate_limited_whatever_x_forwarded_for_says(served_intake):
    with httpx.Client(base_url=served_intake.url, timeout=30) as http:
        answers = [
            http.post("/v1/responses", json=BODY, headers={"X-Forwarded-For": f"203.0.113.{i}"})
            for i in range(5)
        ]

    assert [a.status_code for a in answers] == [404, 404, 404, 429, 429]
    refused = answers[3]
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0


def test_an_invalid_body_counts_against_the_limit_too(served_intake):
    with httpx.Client(base_url=served_intake.url, timeout=30) as http:
        codes = [http.post("/v1/responses", content=b"{").status_code for _ in range(4)]

    assert codes == [422, 422, 422, 429]


def test_every_answer_carries_the_security_headers_and_pages_keep_their_own(served_intake):
    with httpx.Client(base_url=served_intake.url, timeout=30) as http:
        problem = http.post("/v1/responses", json=BODY)
        health = http.get("/healthz")
        page = http.get("/s/" + "x" * 22)

    for answer in (problem, health):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["X-Frame-Options"] == "DENY"
    assert page.headers["content-type"].startswith("text/html")
    assert "style-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
