"""The dossier webhook (single, batch, status) against a real nats-server and Mongo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sipas_intake.app import create_app
from sipas_runtime.privacy import unseal
from sipas_runtime.testing import bearer

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
NOW = datetime.now(UTC)
FEED = bearer("tthc-feed", name="Một cửa (thử)")
OPERATOR = bearer("operator")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"max_upload_bytes": 64 * 1024, "max_batch_records": 50}


def record(i: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "dossier_id": f"000.00.00.H42-261121-{i:04d}",
        "unit": "Xã Cổ Đạm",
        "procedure_code": "1.001193",
        "applicant_kind": "organisation",
        "submission_channel": "online",
        "result_delivery": "electronic",
        "received_at": (NOW - timedelta(days=3)).isoformat(),
        "delivered_at": (NOW - timedelta(hours=3)).isoformat(),
        "contact": {"phone": "0237 3851 234", "email": "ketoan@abc.vn"},
        **overrides,
    }


async def test_a_valid_record_is_accepted_with_contact_warnings_and_flows_sealed(
    intake, eventually_fn
):
    answer = await intake.http.post("/v1/dossiers", json=record(), headers=FEED)

    assert answer.status_code == 202
    assert answer.json()["status"] == "accepted"
    assert answer.json()["warnings"] == [
        {"field": "contact.phone", "reason": "only a landline: it cannot receive SMS or Zalo"}
    ]
    await eventually_fn(lambda: len(intake.collected("dossier.completed")) == 1)
    [event] = intake.collected("dossier.completed")
    assert event["contact_channels"] == ["email"]
    assert unseal(intake.keys.sampling.secret_key, event["sealed_contact"]) == {
        "email": "ketoan@abc.vn"
    }
    [raw] = await intake.stream("SIPAS_RAW_DOSSIERS")
    assert raw.headers["Sipas-Format"] == "prepared"
    assert b"ketoan" not in raw.data
    assert b"02373851234" not in raw.data  # not the normalised landline
    assert b"3851 234" not in raw.data  # nor the number as typed


@pytest.mark.parametrize(
    ("body", "status", "errors"),
    [
        ({k: v for k, v in record().items() if k != "procedure_code"}, 422,
         [{"field": "procedure_code", "reason": "Field required"}]),
        (record(applicant_kind=1), 422,
         [{"field": "applicant_kind", "reason": "Input should be 'individual' or 'organisation'"}]),
        (record(unit="Phường Ma"), 422, None),
        (record(delivered_at=(NOW + timedelta(days=2)).isoformat()), 422,
         [{"field": "delivered_at", "reason": "is in the future"}]),
        (record(received_at="2026-13-01"), 422, None),
        (record(extra="x"), 422, [{"field": "extra", "reason": "Extra inputs are not permitted"}]),
        ([record()], 422, [{"field": "(body)", "reason": "expected a JSON object, got list"}]),
    ],
)  # fmt: skip
async def test_bad_records_get_a_problem_naming_the_field(intake, body, status, errors):
    answer = await intake.http.post("/v1/dossiers", json=body, headers=FEED)

    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == status
    assert problem["errors"]
    if errors is not None:
        assert problem["errors"] == errors
    assert await intake.stream("SIPAS_RAW_DOSSIERS") == []


async def test_malformed_json_oversized_bodies_and_missing_keys_are_refused(intake):
    broken = await intake.http.post(
        "/v1/dossiers",
        content=b'{"dossier_id": ',
        headers={**FEED, "content-type": "application/json"},
    )
    huge = await intake.http.post(
        "/v1/dossiers", json=record(procedure_name="x" * 70_000), headers=FEED
    )
    anonymous = await intake.http.post("/v1/dossiers", json=record())
    wrong_key = await intake.http.post(
        "/v1/dossiers", json=record(), headers={"Authorization": "Bearer nope"}
    )

    assert broken.status_code == 400
    assert broken.json()["errors"][0]["field"] == "(body)"
    assert huge.status_code == 413
    assert huge.json()["type"] == "urn:sipas:problem:payload-too-large"
    assert (anonymous.status_code, wrong_key.status_code) == (401, 401)
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="sipas"'


async def test_a_batch_reports_each_record_and_queues_only_the_valid_ones(intake, eventually_fn):
    hoso_in_progress = {"MaHoSo": "H42-9", "TrangThaiHoSo": "4", "KenhThucHien": "1"}
    records = [record(1), record(2, unit="Xã Ma"), hoso_in_progress, record(3), "text"]

    answer = await intake.http.post("/v1/dossiers/batch", json=records, headers=OPERATOR)

    assert answer.status_code == 200
    body = answer.json()
    assert (body["accepted"], body["ignored"], body["rejected"]) == (2, 1, 2)
    assert [r["status"] for r in body["results"]] == [
        "accepted", "rejected", "ignored", "accepted", "rejected"
    ]  # fmt: skip
    assert body["results"][1]["errors"][0]["field"] == "unit"
    assert body["results"][2]["reason"] == "TrangThaiHoSo 4 (Đang xử lý)"
    await eventually_fn(lambda: len(intake.collected("dossier.completed")) == 2)


async def test_a_dvcqg_style_envelope_is_accepted_as_a_batch(intake, eventually_fn):
    envelope = {"service": "DongBoHoSoMC", "isUpdating": "False", "data": [record(5), record(6)]}

    answer = await intake.http.post("/v1/dossiers/batch", json=envelope, headers=FEED)

    assert answer.json()["accepted"] == 2
    await eventually_fn(lambda: len(intake.collected("dossier.completed")) == 2)


async def test_a_dry_run_validates_without_queueing(intake):
    answer = await intake.http.post(
        "/v1/dossiers/batch", params={"dry_run": "true"}, json=[record(8)], headers=FEED
    )

    assert answer.json()["accepted"] == 1
    assert await intake.stream("SIPAS_RAW_DOSSIERS") == []


async def test_too_many_records_in_one_batch_is_413(intake):
    answer = await intake.http.post(
        "/v1/dossiers/batch", json=[record(i) for i in range(51)], headers=FEED
    )

    assert answer.status_code == 413
    assert answer.json()["errors"] == [
        {"field": "(body)", "reason": "51 records; at most 50 per request"}
    ]


async def test_an_unknown_format_is_named(intake):
    answer = await intake.http.post(
        "/v1/dossiers", params={"format": "xml"}, json=record(), headers=FEED
    )

    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "format"
    assert "motcua-excel" in answer.json()["errors"][0]["reason"]


async def test_re_posting_a_record_is_idempotent_and_the_status_shows_one_revision(
    intake, eventually_fn
):
    for _ in range(3):
        assert (
            await intake.http.post("/v1/dossiers", json=record(9), headers=FEED)
        ).status_code == 202
    await eventually_fn(lambda: len(intake.collected("dossier.completed")) == 1)

    status = await intake.http.get(f"/v1/dossiers/{record(9)['dossier_id']}", headers=FEED)
    missing = await intake.http.get("/v1/dossiers/nope", headers=FEED)

    assert status.json()["revision"] == 1
    assert status.json()["unit"] == "ht-nx-co-dam"
    assert missing.status_code == 404
    assert len(await intake.stream("SIPAS_RAW_DOSSIERS")) == 1  # JetStream dropped the copies


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"source_formats": "motcua=xml"}, "SIPAS_INTAKE_SOURCE_FORMATS names unknown formats"),
        ({"form_profiles": "ht-2026"}, "form_profiles: 'ht-2026' must be written name=value"),
    ],
)
def test_a_misconfigured_service_refuses_to_start_naming_the_setting(
    offline_settings, setting, message
):
    settings = offline_settings(**setting)

    with pytest.raises(ValueError, match=message):
        create_app(settings)


async def test_an_unavailable_queue_is_a_503_to_retry_not_a_500(intake, monkeypatch):
    async def broker_down(*_args, **_kwargs):
        raise TimeoutError  # fault injection: JetStream does not answer

    monkeypatch.setattr(intake.service, "publish_raw", broker_down)

    answer = await intake.http.post("/v1/dossiers", json=record(40), headers=FEED)
    batch = await intake.http.post("/v1/dossiers/batch", json=[record(41)], headers=FEED)

    assert (answer.status_code, batch.status_code) == (503, 503)
    assert answer.headers["retry-after"] == "30"
    assert answer.json()["type"] == "urn:sipas:problem:queue-unavailable"
