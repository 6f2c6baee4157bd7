"""Raw dossier records on NATS → dossier-completed, against a real nats-server and Mongo."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sipas_contracts import subjects
from sipas_runtime.dlq.letters import decode_reason
from sipas_runtime.privacy import unseal
from sipas_runtime.testing import bearer

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
NOW = datetime.now(UTC)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"source_formats": "excel=motcua-excel"}


def generic(i: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "dossier_id": f"000.00.00.H42-261120-{i:04d}",
        "unit": "UBND xã Xuân Hội",
        "procedure_code": "1.001193",
        "applicant_kind": "individual",
        "applicant_id": f"{i:012d}",
        "submission_channel": "direct",
        "received_at": (NOW - timedelta(days=2)).isoformat(),
        "delivered_at": (NOW - timedelta(minutes=5)).isoformat(),
        "contact": {"phone": "0912 345 678 / 0987654321", "email": "dan@example.vn"},
        **overrides,
    }


def hoso(**overrides: Any) -> dict[str, Any]:
    delivered = (NOW - timedelta(hours=1)).astimezone().strftime("%Y%m%d%H%M%S")
    return {
        "MaHoSo": "000.22.31.H42-261120-0031",
        "MaTTHC": "1.001229",
        "TenTTHC": "Đăng ký khai sinh",
        "KenhThucHien": "1",
        "ChuHoSo": "Nguyễn Văn An",
        "LoaiDoiTuong": "1",
        "SoDienThoai": "01662345678",
        "NgayTiepNhan": "20261110081512",
        "NgayTra": delivered,
        "TrangThaiHoSo": "10",
        "HinhThuc": "0",
        "DonViXuLy": "UBND xã Cổ Đạm",
        **overrides,
    }


async def publish(intake, record: Any, source: str = "motcua", **headers: str) -> None:
    data = record if isinstance(record, bytes) else json.dumps(record).encode()
    await intake.nc.jetstream().publish(subjects.raw_dossier(source), data, headers=headers or None)


async def test_a_generic_record_becomes_an_event_whose_contact_only_sampling_can_open(
    intake, eventually_fn
):
    await publish(intake, generic())

    await eventually_fn(lambda: len(intake.collected("dossier.completed")) == 1)
    [event] = intake.collected("dossier.completed")
    assert event["unit"] == "ht-nx-xuan-hoi"
    assert event["revision"] == 1
    assert event["contact_channels"] == ["sms", "zalo", "email"]
    assert "912345678" not in json.dumps(event)  # whole numbers: short runs occur in hashes
    assert unseal(intake.keys.sampling.secret_key, event["sealed_contact"]) == {
        "phone": "0912345678",
        "phone_alternates": "0987654321",
        "email": "dan@example.vn",
    }


async def test_a_one_stop_hoso_record_is_read_field_by_field(intake, eventually_fn):
    await publish(intake, hoso())

    await eventually_fn(lambda: len(intake.collected("dossier.completed")) == 1)
    [event] = intake.collected("dossier.completed")
    assert (event["dossier_id"], event["unit"]) == ("000.22.31.H42-261120-0031", "ht-nx-co-dam")
    assert event["received_at"] == "2026-11-10T08:15:12+07:00"
    contact = unseal(intake.keys.sampling.secret_key, event["sealed_contact"])
    assert contact == {"phone": "0362345678", "name": "Nguyễn Văn An"}


async def test_a_source_configured_with_a_field_map_is_read_with_it(intake, eventually_fn):
    row = {
        "Mã hồ sơ": "XL-1",
        "Đơn vị xử lý": "Xã Xuân Lam",
        "Mã thủ tục": "2.000815",
        "Loại đối tượng": "Tổ chức",
        "Hình thức nộp": "Trực tiếp",
        "Ngày tiếp nhận": "10/11/2026 08:00",
        "Ngày trả kết quả": (NOW - timedelta(hours=2)).strftime("%d/%m/%Y"),
    }

    await publish(intake, row, source="excel")

    await eventually_fn(lambda: len(intake.collected("dossier.completed")) == 1)
    event = intake.collected("dossier.completed")[0]
    assert (event["unit"], event["applicant_kind"]) == ("ht-nx-xuan-lam", "organisation")


async def test_bad_records_go_to_the_dlq_with_the_field_and_are_counted_by_reason(
    intake, eventually_fn
):
    bad = [
        b"{not json",
        json.dumps([1, 2]).encode(),
        json.dumps(generic(2, applicant_kind=3)).encode(),
        json.dumps(generic(3, unit="Xã Không Có")).encode(),
        json.dumps(hoso(KenhThucHien="7")).encode(),
        b"[" * 100_000,
    ]
    for payload in bad:
        await publish(intake, payload)
    await publish(intake, generic(4))

    await eventually_fn(lambda: len(intake.collected("dossier.completed")) == 1)
    letters = await intake.stream("SIPAS_DLQ")
    assert len(letters) == len(bad)
    kinds = [m.headers["Sipas-Dlq-Kind"] for m in letters]
    reasons = [decode_reason(m.headers["Sipas-Dlq-Reason"]) for m in letters]
    assert kinds == ["malformed", "malformed", "schema", "rejected", "schema", "malformed"]
    assert "(body): expected a JSON object, got list" in reasons[1]
    assert "applicant_kind: Input should be 'individual' or 'organisation'" in reasons[2]
    assert reasons[3].startswith("unit: no unit valid on")
    assert reasons[4].startswith("KenhThucHien: '7' is not one of 1, 2, 3")
    metric = "sipas_intake_dossier_rejections_total"
    assert intake.metric(metric, entry="nats", reason="malformed") == 3
    assert intake.metric(metric, entry="nats", reason="unknown_unit") == 1
    assert intake.metric("sipas_intake_dossiers_total", entry="nats", outcome="rejected") == 6


async def test_not_completed_statuses_are_acknowledged_without_an_event(intake, eventually_fn):
    await publish(intake, hoso(TrangThaiHoSo="4", NgayTra=""))
    await publish(intake, hoso(MaHoSo="000.22.31.H42-261120-0032"))

    await eventually_fn(lambda: len(intake.collected("dossier.completed")) == 1)
    metric = intake.metric("sipas_intake_dossiers_total", entry="nats", outcome="not_completed")
    assert metric == 1
    assert (await intake.stream("SIPAS_DLQ")) == []


async def test_duplicates_are_dropped_and_corrections_are_new_revisions(intake, eventually_fn):
    first = generic(7)
    corrected = generic(7, contact={"phone": "0987 000 111"})

    for record, msg_id in [(first, "a"), (first, "b"), (corrected, "c"), (corrected, "d")]:
        await publish(intake, record, **{"Nats-Msg-Id": msg_id})
    await eventually_fn(lambda: len(intake.collected("dossier.completed")) == 2)

    revisions = [e["revision"] for e in intake.collected("dossier.completed")]
    assert revisions == [1, 2]
    contact = unseal(
        intake.keys.sampling.secret_key, intake.collected("dossier.completed")[1]["sealed_contact"]
    )
    assert contact["phone"] == "0987000111"
    await eventually_fn(
        lambda: intake.metric("sipas_intake_dossiers_total", entry="nats", outcome="duplicate") == 2
    )
    status = await intake.http.get(
        "/v1/dossiers/000.00.00.H42-261120-0007",
        headers=bearer("tthc-feed"),
    )
    assert status.json()["revision"] == 2


async def test_replaying_the_raw_stream_from_zero_emits_nothing_new(intake, eventually_fn):
    for i in range(5):
        await publish(intake, generic(20 + i))

    async def stored() -> list[Any]:  # core subscribers see a batch before it is committed
        found = await intake.stream("SIPAS_DOSSIERS")
        return found if len(found) == 5 else []

    ids_before = [m.headers["Nats-Msg-Id"] for m in await eventually_fn(stored)]
    js = intake.nc.jetstream()
    runtime = intake.service.runtime

    await runtime.stop()
    await js.delete_consumer("SIPAS_RAW_DOSSIERS", "intake-raw-dossiers")
    await runtime.start()

    await eventually_fn(
        lambda: intake.metric("sipas_intake_dossiers_total", entry="nats", outcome="replayed") == 5
    )
    ids_after = [m.headers["Nats-Msg-Id"] for m in await intake.stream("SIPAS_DOSSIERS")]
    assert ids_after == ids_before
    assert await intake.db["dossiers"].count_documents({"revision": 1}) == 5


async def test_a_prepared_record_is_accepted_only_from_intakes_own_sources(intake, eventually_fn):
    answer = await intake.http.post(
        "/v1/dossiers", params={"dry_run": "true"}, json=generic(30),
        headers=bearer("tthc-feed"),
    )  # fmt: skip
    assert answer.status_code == 202
    forged = json.dumps({"candidate": {}, "fingerprint": "0" * 64}).encode()

    await publish(intake, forged, source="one-stop", **{"Sipas-Format": "prepared"})

    await eventually_fn(lambda: intake.stream("SIPAS_DLQ"))
    [letter] = await intake.stream("SIPAS_DLQ")
    reason = decode_reason(letter.headers["Sipas-Dlq-Reason"])
    assert reason == "Sipas-Format: prepared records come only from intake itself"
