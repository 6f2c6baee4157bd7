"""Property tests over the HTTP parsers: whatever arrives, never a 500, always field errors.

Real intake app (real nats-server and Mongo-wire server); hypothesis drives the webhook,
the batch endpoint, the survey-form API and the paper import with hostile input.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from sipas_runtime.testing import bearer

pytestmark = [
    pytest.mark.nats,
    pytest.mark.mongo,
    pytest.mark.slow,
    # The intake under test runs in a thread of this process, and its NATS client draws on
    # the global `random` while hypothesis generates data: not a strategy using `random`.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]
JSON = {"content-type": "application/json"}
FEED = {**bearer("tthc-feed"), **JSON}
OPERATOR = bearer("operator")
NOW = datetime.now(UTC)
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
GENERIC = {
    "dossier_id": "X-1",
    "unit": "Xã Xuân Hội",
    "procedure_code": "1.001193",
    "applicant_kind": "individual",
    "submission_channel": "direct",
    "received_at": (NOW - timedelta(days=1)).isoformat(),
    "delivered_at": NOW.isoformat(),
    "contact": {"phone": "0912345678"},
}
HOSO = {
    "MaHoSo": "000.22.31.H42-261120-0031",
    "MaTTHC": "1.001229",
    "KenhThucHien": "1",
    "LoaiDoiTuong": "1",
    "SoDienThoai": "0912 345 678",
    "NgayTiepNhan": "20261110081512",
    "NgayTra": "20261111081512",
    "TrangThaiHoSo": "10",
    "DonViXuLy": "UBND xã Cổ Đạm",
}
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", "$ne", "\u0000", "2026-02-30", "ＭａＨｏＳｏ", "x" * 600]),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)


def mutated(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    changes = st.dictionaries(st.sampled_from([*base, "extra", "$where"]), json_values, max_size=4)
    drops = st.sets(st.sampled_from(list(base)), max_size=3)
    return st.builds(
        lambda c, d: {k: v for k, v in {**base, **c}.items() if k not in d}, changes, drops
    )


records = st.one_of(mutated(GENERIC), mutated(HOSO), json_values)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Hundreds of submits from the test's one address: above the per-address limit."""
    return {"submit_rate": "100000/minute"}


@pytest.fixture
def client(served_intake) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served_intake.url, timeout=30) as http:
        yield http


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def assert_problem(response: Any) -> None:
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == response.status_code
    assert body["errors"]
    assert all(e["field"] and e["reason"] for e in body["errors"])


@FUZZ
@given(body=records, fmt=st.sampled_from(["auto", "generic", "hoso", "motcua-excel"]))
def test_the_webhook_answers_every_body_with_acceptance_or_field_errors(client, body, fmt):
    response = client.post(
        "/v1/dossiers", params={"format": fmt, "dry_run": "true"}, content=dumps(body), headers=FEED
    )

    assert response.status_code in {202, 422}, response.text
    if response.status_code == 422:
        assert_problem(response)


@FUZZ
@given(data=st.binary(max_size=300))
def test_raw_bytes_never_crash_the_webhook(client, data):
    response = client.post(
        "/v1/dossiers", content=data, headers={**FEED, "content-type": "application/json"}
    )

    assert response.status_code in {202, 400, 422}
    if response.status_code != 202:
        assert_problem(response)


@FUZZ
@given(batch=st.lists(records, max_size=8))
def test_every_record_of_a_batch_gets_its_own_outcome(client, batch):
    response = client.post(
        "/v1/dossiers/batch", params={"dry_run": "true"}, json=batch, headers=FEED
    )

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(len(batch)))
    for result in results:
        assert result["status"] in {"accepted", "ignored", "rejected"}
        assert (result["status"] == "rejected") == bool(result["errors"])


@FUZZ
@given(body=json_values)
def test_the_responses_api_never_crashes(client, body):
    response = client.post("/v1/responses", content=dumps(body), headers=JSON)

    assert response.status_code in {404, 422}
    assert_problem(response) if response.status_code == 422 else None


def workbook(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.worksheets[0]
    sheet.title = "Phieu"
    sheet.append(
        ["so_phieu", "campaign_id", "unit", "applicant_kind", "C01", "HL.DV.E1.1", "comment"]
    )
    sheet.append(["labels"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


writable = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=20)  # what Excel stores
cells = st.one_of(st.none(), st.integers(-5, 10), st.floats(allow_nan=False), writable)


@FUZZ
@given(rows=st.lists(st.lists(cells, min_size=7, max_size=7), max_size=6))
def test_any_paper_workbook_gets_a_row_level_report(client, rows):
    response = client.post("/v1/paper/import", content=workbook(rows), headers=OPERATOR)

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["recorded"] + report["duplicates"] + report["rejected"] == report["rows"]
    assert all(e["row"] >= 3 and e["field"] and e["reason"] for e in report["errors"])


@FUZZ
@given(data=st.binary(max_size=400))
def test_any_uploaded_bytes_get_a_clear_refusal(client, data):
    response = client.post("/v1/paper/import", content=b"PK\x03\x04" + data, headers=OPERATOR)

    assert response.status_code == 422
    assert_problem(response)
