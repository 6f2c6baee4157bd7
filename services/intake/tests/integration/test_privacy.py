"""No personal data in logs, dead letters, the raw stream written by intake, or its database."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from sipas_contracts import subjects
from sipas_intake.web.screens import form_of
from sipas_runtime.testing import bearer

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
FEED = bearer("tthc-feed", name="Một cửa (thử)")
PHONE, EMAIL, NAME, ID_NUMBER = (
    "0912 777 888",
    "canary.pii@example.vn",
    "Trần Thị Canary",
    "042099887766",
)
COMMENT_STEP = len(form_of("sipas-1001-2023", "tthc_user", "vi")[1]) - 1
CANARIES = ("0912777888", "912777888", "0912 777 888", EMAIL, NAME, ID_NUMBER, "canary")


def record(i: int, **overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "dossier_id": f"PII-{i}",
        "unit": "Xã Xuân Hội",
        "procedure_code": "1.001193",
        "applicant_kind": "individual",
        "applicant_id": ID_NUMBER,
        "submission_channel": "direct",
        "received_at": (now - timedelta(days=1)).isoformat(),
        "delivered_at": now.isoformat(),
        "contact": {"phone": PHONE, "email": EMAIL, "name": NAME},
        **overrides,
    }


def leaks(text: str) -> list[str]:
    return [c for c in CANARIES if c.casefold() in text.casefold()]


async def test_personal_data_leaves_no_trace_outside_the_sealed_contact(intake, eventually_fn):
    with capture_logs() as logs:
        await intake.http.post("/v1/dossiers", json=record(1), headers=FEED)
        await intake.http.post("/v1/dossiers", json=record(2, unit="Xã Ma"), headers=FEED)
        js = intake.nc.jetstream()
        await js.publish(subjects.raw_dossier("tinh"), json.dumps(record(3)).encode())
        await js.publish(
            subjects.raw_dossier("tinh"), json.dumps(record(4, applicant_kind="x")).encode()
        )
        await js.publish(
            subjects.raw_dossier("tinh"),
            json.dumps(
                record(5, contact={"phone": PHONE, "email": "broken@", "zalo_id": "?"})
            ).encode(),
        )
        token, _ = await intake.invite()
        await intake.http.get(f"/s/{token}")
        await intake.http.post(
            "/v1/responses",
            json={"token": token, "answers": {"HL.DV.E1.1": 2}, "callback_phone": PHONE},
        )
        drafting, _ = await intake.invite()  # answered halfway: a draft stays behind
        await intake.http.get(f"/s/{drafting}")
        form = (await intake.http.get("/s", params={"step": COMMENT_STEP})).text
        saved = await intake.http.post(
            "/s",
            data={
                "csrf": re.search(r'name="csrf" value="([^"]+)"', form).group(1),
                "step": str(COMMENT_STEP),
                "comment": f"{NAME} {ID_NUMBER}",
                "callback": "yes",
                "callback_phone": PHONE,
                "callback_email": EMAIL,
            },
        )
        assert saved.status_code == 303
        await eventually_fn(lambda: len(intake.collected("dossier.completed")) == 3)
        await eventually_fn(lambda: len(intake.collected("response.recorded")) == 1)

    assert {entry["event"] for entry in logs} >= {"dead_lettered", "response_recorded"}
    assert leaks(json.dumps(logs, default=str, ensure_ascii=False)) == []
    assert token not in json.dumps(logs, default=str)
    assert drafting not in json.dumps(logs, default=str)
    letters = await intake.stream("SIPAS_DLQ")
    assert letters
    for letter in letters:
        assert leaks(json.dumps(dict(letter.headers), ensure_ascii=False)) == []
        assert letter.headers["Sipas-Dlq-Body"] == "withheld"  # a raw TTHC record
        assert not letter.data
    for event in intake.collected("dossier.completed") + intake.collected("response.recorded"):
        assert leaks(json.dumps(event, ensure_ascii=False)) == []
    for message in await intake.stream("SIPAS_RAW_DOSSIERS"):
        if message.headers and message.headers.get("Sipas-Format") == "prepared":
            assert leaks(message.data.decode()) == []  # what intake itself queued
    for name in await intake.db.list_collection_names():
        documents = [d async for d in intake.db[name].find({})]
        dump = json.dumps(documents, default=str, ensure_ascii=False)
        assert leaks(dump) == [], name
        assert token not in dump, name
        assert drafting not in dump, name
    assert await intake.db["drafts"].count_documents({}) == 1
