"""The case API with roles: scope (403), lifecycle (409), bad input (422), call-backs, KPIs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sipas_contracts.testing import NOW, response
from sipas_runtime.audit import verify
from sipas_runtime.privacy import seal

pytestmark = [pytest.mark.nats, pytest.mark.mongo]


async def open_cases(harness, *units):
    for unit in units:
        await harness.publish(response(unit=unit, answers={"HL.DV.E1.1": 1}))

    async def all_open():
        found = (await harness.get("/v1/cases", "snv")).json()["items"]
        return {c["unit"]: c for c in found} if len(found) == len(units) else None

    return await harness.eventually(all_open)


async def move(harness, case_id, who, action, *, note=None, version=None):
    body = {"action": action, "note": note, "version": version}
    return await harness.post(f"/v1/cases/{case_id}/transitions", who, body)


async def test_requests_without_a_known_key_are_refused(harness):
    missing = await harness.http.get("/v1/cases")
    wrong = await harness.http.get("/v1/cases", headers={"Authorization": "Bearer sipas_nobody"})

    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 401
    assert wrong.json()["detail"].startswith("Mã truy cập hoặc khóa không hợp lệ")


async def test_a_commune_handler_cannot_see_another_communes_cases(harness):
    by_unit = await open_cases(harness, "ht-nx-co-dam", "ht-nx-xuan-hoi")
    other = by_unit["ht-nx-xuan-hoi"]["case_id"]

    mine = (await harness.get("/v1/cases", "handler-co-dam")).json()["items"]
    filtered = await harness.get("/v1/cases", "handler-co-dam", unit="ht-nx-xuan-hoi")
    direct = await harness.get(f"/v1/cases/{other}", "handler-co-dam")
    acting = await move(harness, other, "handler-co-dam", "acknowledge")
    alerts = await harness.get(f"/v1/cases/{other}/alerts", "handler-co-dam")

    assert [c["unit"] for c in mine] == ["ht-nx-co-dam"]
    for answer in (filtered, direct, acting, alerts):
        assert answer.status_code == 403, answer.text
        assert answer.json()["type"] == "urn:sipas:problem:out-of-scope"
    assert "ht-nx-xuan-hoi" in direct.json()["detail"]
    stored = await harness.service.stores.cases.get(other)
    assert stored.state == "open"


async def test_supervisors_and_observers_see_every_unit(harness):
    await open_cases(harness, "ht-nx-co-dam", "ht-nx-xuan-hoi")

    for who in ("snv", "mttq"):
        found = (await harness.get("/v1/cases", who)).json()["items"]
        assert {c["unit"] for c in found} == {"ht-nx-co-dam", "ht-nx-xuan-hoi"}
    province = (await harness.get("/v1/cases", "snv", unit="ht")).json()["items"]
    assert len(province) == 2  # the province's subtree holds both communes


async def test_an_illegal_transition_is_a_clear_409(harness):
    case = (await open_cases(harness, "ht-nx-co-dam"))["ht-nx-co-dam"]

    answer = await move(harness, case["case_id"], "handler-co-dam", "resolve", note="xong")
    english = await harness.http.post(
        f"/v1/cases/{case['case_id']}/transitions",
        headers={**harness.auth("handler-co-dam"), "Accept-Language": "en"},
        json={"action": "resolve", "note": "done"},
    )

    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "urn:sipas:problem:illegal-transition"
    assert problem["detail"].startswith(
        "Không thể 'resolve' hồ sơ cảnh báo đang ở trạng thái 'open'"
    )
    assert (
        english.json()["detail"]
        == "Cannot resolve a case in state 'open' (allowed from: in_progress)."
    )
    assert problem["instance"] == f"/v1/cases/{case['case_id']}/transitions"


async def test_the_whole_lifecycle_through_the_api(harness):
    case = (await open_cases(harness, "ht-nx-co-dam"))["ht-nx-co-dam"]
    case_id = case["case_id"]
    assert case["allowed_actions"] == ["acknowledge", "dismiss"]

    harness.clock.advance(hours=2)
    acked = await move(harness, case_id, "handler-co-dam", "acknowledge", version=1)
    stale = await move(harness, case_id, "handler-co-dam", "start", version=1)
    started = await move(harness, case_id, "handler-co-dam", "start", version=2)
    no_note = await move(harness, case_id, "handler-co-dam", "resolve")
    resolved = await move(harness, case_id, "handler-co-dam", "resolve", note="Đã gọi lại, xin lỗi")
    handler_close = await move(harness, case_id, "handler-co-dam", "close")
    closed = await move(harness, case_id, "snv", "close")

    assert acked.status_code == 200
    assert stale.status_code == 409
    assert stale.json()["type"] == "urn:sipas:problem:stale-case"
    assert started.json()["state"] == "in_progress"
    assert no_note.status_code == 422
    assert no_note.json()["errors"][0]["field"] == "note"
    assert resolved.json()["resolution"] == "Đã gọi lại, xin lỗi"
    assert handler_close.status_code == 403
    detail = closed.json()
    assert detail["state"] == "closed"
    assert detail["allowed_actions"] == []
    assert [(e["actor"], e["action"]) for e in detail["audit"]] == [
        ("system", "opened"),
        ("handler-co-dam", "acknowledged"),
        ("handler-co-dam", "started"),
        ("handler-co-dam", "resolved"),
        ("snv", "closed"),
    ]
    changes = await harness.eventually(
        lambda: (
            [e["change"] for e in harness.events("case.updated")]
            if len(harness.events("case.updated")) == 5
            else None
        )
    )
    assert changes == ["opened", "acknowledged", "started", "resolved", "closed"]
    time = harness.service.runtime.registry.get_sample_value(
        "sipas_alerts_time_to_acknowledge_seconds_sum", {"rule": "low_rating"}
    )
    assert time == 2 * 3600


async def test_observers_read_but_change_nothing(harness):
    case = (await open_cases(harness, "ht-nx-co-dam"))["ht-nx-co-dam"]

    read = await harness.get(f"/v1/cases/{case['case_id']}", "mttq")
    acted = await move(harness, case["case_id"], "mttq", "acknowledge")
    noted = await harness.post(f"/v1/cases/{case['case_id']}/notes", "mttq", {"note": "x"})

    assert read.status_code == 200
    assert read.json()["allowed_actions"] == []
    assert acted.status_code == 403
    assert noted.status_code == 403


async def test_bad_requests_name_the_field(harness):
    case = (await open_cases(harness, "ht-nx-co-dam"))["ht-nx-co-dam"]

    unknown_action = await harness.post(
        f"/v1/cases/{case['case_id']}/transitions", "snv", {"action": "delete"}
    )
    extra_field = await harness.post(
        f"/v1/cases/{case['case_id']}/transitions", "snv", {"action": "start", "state": "closed"}
    )
    bad_id = await harness.get("/v1/cases/not-a-case", "snv")
    no_case = await harness.get("/v1/cases/01234567-89ab-7def-8123-456789abcdef", "snv")
    bad_state = await harness.get("/v1/cases", "snv", state="lost")

    assert unknown_action.status_code == 422
    assert unknown_action.json()["errors"][0]["field"] == "action"
    assert extra_field.json()["errors"][0] == {
        "field": "state",
        "reason": "Không phải trường được hỗ trợ.",
    }
    assert bad_id.status_code == 422
    assert no_case.status_code == 404
    assert bad_state.json()["errors"][0]["field"] == "state.0"


async def test_only_the_units_handler_sees_the_call_back_contact(harness):
    sealed = seal(harness.public_key, {"phone": "0912345678", "name": "Nguyễn Văn A"})
    await harness.publish(
        response(unit="ht-nx-co-dam", answers={"HL.DV.E1.1": 1}, sealed_callback=sealed)
    )
    [case] = await harness.eventually(lambda: _items(harness))
    assert case["callbacks_available"] == 1
    path = f"/v1/cases/{case['case_id']}/callbacks"

    handler = await harness.get(path, "handler-co-dam")
    supervisor = await harness.get(path, "snv")
    observer = await harness.get(path, "mttq")
    other_handler = await harness.get(path, "handler-xuan-hoi")
    alerts = await harness.get(f"/v1/cases/{case['case_id']}/alerts", "handler-co-dam")

    assert handler.status_code == 200
    assert handler.json()["callbacks"][0]["contact"] == {
        "phone": "0912345678",
        "name": "Nguyễn Văn A",
    }
    assert supervisor.status_code == observer.status_code == other_handler.status_code == 403
    assert "0912345678" not in alerts.text
    assert sealed not in alerts.text
    detail = (await harness.get(f"/v1/cases/{case['case_id']}", "snv")).json()
    assert detail["audit"][-1]["action"] == "callbacks_viewed"
    assert detail["audit"][-1]["actor"] == "handler-co-dam"
    log = harness.service.runtime.audit
    [revealed] = [e for e in await log.entries() if e.action == "contacts_revealed"]
    assert (revealed.actor, revealed.target) == ("handler-co-dam", case["case_id"])
    assert "0912345678" not in str(revealed)
    assert verify(await log.entries(), await log.head()) == []


async def _items(harness):
    return (await harness.get("/v1/cases", "snv")).json()["items"]


async def test_kpis_report_timeliness_per_unit(harness):
    by_unit = await open_cases(harness, "ht-nx-co-dam", "ht-nx-xuan-hoi")
    harness.clock.advance(hours=3)
    await move(harness, by_unit["ht-nx-co-dam"]["case_id"], "handler-co-dam", "acknowledge")
    harness.clock.advance(days=1)
    await harness.service.sweeper.deadlines()

    report = (await harness.get("/v1/kpis", "snv")).json()
    mine = (await harness.get("/v1/kpis", "handler-co-dam")).json()
    total = (await harness.get("/v1/kpis", "snv", group_by="total")).json()

    rows = {r["key"]: r for r in report["rows"]}
    assert rows["ht-nx-co-dam"]["acknowledge_on_time_rate"] == 1.0
    assert rows["ht-nx-co-dam"]["time_to_acknowledge"]["median_hours"] == 2.5  # lunch excluded
    assert rows["ht-nx-co-dam"]["name"] == "Xã Cổ Đạm"
    assert rows["ht-nx-xuan-hoi"]["breaches"] == {"acknowledge": 1}
    assert rows["ht-nx-xuan-hoi"]["overdue_now"] == 1
    assert [r["key"] for r in mine["rows"]] == ["ht-nx-co-dam"]
    assert total["rows"][0]["opened"] == 2


async def test_overdue_and_escalated_filters(harness):
    by_unit = await open_cases(harness, "ht-nx-co-dam", "ht-nx-xuan-hoi")
    await move(harness, by_unit["ht-nx-co-dam"]["case_id"], "handler-co-dam", "acknowledge")
    harness.clock.advance(days=1, seconds=1)
    await harness.service.sweeper.deadlines()

    overdue = (await harness.get("/v1/cases", "snv", overdue="true")).json()["items"]
    escalated = (await harness.get("/v1/cases", "snv", escalated="true")).json()["items"]
    acked = (await harness.get("/v1/cases", "snv", state="acknowledged")).json()["items"]

    assert [c["unit"] for c in overdue] == ["ht-nx-xuan-hoi"]
    assert [c["unit"] for c in escalated] == ["ht-nx-xuan-hoi"]
    assert [c["unit"] for c in acked] == ["ht-nx-co-dam"]


async def test_pages_of_cases(harness):
    for minutes in range(5):
        at = NOW + timedelta(minutes=minutes)
        unit = [
            "ht-nx-co-dam",
            "ht-nx-xuan-an",
            "ht-nx-xuan-hoi",
            "ht-nx-xuan-my",
            "ht-nx-xuan-lam",
        ][minutes]
        await harness.publish(response(unit=unit, occurred_at=at, answers={"HL.DV.E1.1": 1}))
    await harness.eventually(lambda: _count(harness, 5))

    first = (await harness.get("/v1/cases", "snv", limit=3)).json()
    second = (await harness.get("/v1/cases", "snv", limit=3, before=first["next"])).json()

    assert len(first["items"]) == 3
    assert first["items"][0]["unit"] == "ht-nx-xuan-lam"
    assert len(second["items"]) == 2
    assert second["next"] is None


async def _count(harness, n):
    return len(await _items(harness)) == n
