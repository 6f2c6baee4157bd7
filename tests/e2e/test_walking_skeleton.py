"""End to end: 200 dossiers -> invitations -> responses -> index-updated, through the four
service processes on a real nats-server and Mongo-wire server.

Everything the test expects is computed here, independently of the services' code:
which dossiers the campaign seed draws (SHA-256, as documented), and each unit's counts
and index from the answers the test itself submitted.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from statistics import fmean
from typing import Any

import httpx
import pytest
from nats.aio.client import Client
from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

from sipas_contracts.instrument import load_catalogue
from sipas_runtime.dlq.letters import decode_reason
from sipas_runtime.testing import eventually, post_dossier

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.mongo]

SEED = "e2e-seed"
RATE = 0.5
CAMPAIGN = "e2e-2026"
N_MIN = 3
UNITS = [
    "ht-nx-tien-dien", "ht-nx-xuan-an", "ht-nx-xuan-hoi", "ht-nx-dan-truong", "ht-nx-xuan-hai",
    "ht-nx-xuan-pho", "ht-nx-xuan-giang", "ht-nx-xuan-yen", "ht-nx-xuan-lam", "ht-nx-xuan-hong",
    "ht-nx-xuan-linh", "ht-nx-xuan-vien", "ht-nx-xuan-my", "ht-nx-xuan-thanh", "ht-nx-co-dam",
    "ht-nx-xuan-lien", "ht-nx-cuong-gian",
]  # fmt: skip
CATALOGUE = load_catalogue("sipas-1001-2023")
SERVICE_ITEMS = [
    i for e in CATALOGUE.aspects["HL.DV"].elements for i in CATALOGUE.elements[e].items
]


def drawn(dossier_id: str) -> bool:
    digest = hashlib.sha256(f"{SEED}\x1f{dossier_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / float(1 << 64) < RATE


def record(i: int, unit: str, now: datetime) -> dict[str, Any]:
    return {
        "dossier_id": f"000.00.00.H42-261120-{i:04d}",
        "unit": unit,
        "procedure_code": "1.001193",
        "applicant_kind": "organisation" if i % 3 == 0 else "individual",
        "applicant_id": f"{i:012d}",
        "submission_channel": "direct",
        "received_at": (now - timedelta(days=2)).isoformat(),
        "delivered_at": (now - timedelta(minutes=5)).isoformat(),
        "contact": {"phone": f"09{i:08d}"},
    }


def expected_index(
    answer_sets: list[dict[str, Any]],
) -> tuple[dict[str, dict[str, int]], float | None]:
    """Counts per item and the SIPAS value, computed from first principles."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for answers in answer_sets:
        for item, level in answers.items():
            counts[item][str(level)] += 1
    element_values = []
    for element_id in CATALOGUE.aspects["HL.DV"].elements:
        shares = []
        for item in CATALOGUE.elements[element_id].items:
            valid = [lvl for lvl, n in counts[item].items() for _ in range(n) if lvl != "na"]
            if len(valid) >= N_MIN:
                shares.append(100 * sum(lvl in {"4", "5"} for lvl in valid) / len(valid))
        if shares:
            element_values.append(fmean(shares))
    # HL.CS is not asked here, so SIPAS (mean of aspects with data) is the HL.DV aspect.
    sipas = fmean(element_values) if element_values else None
    return {k: dict(v) for k, v in counts.items()}, sipas


async def test_dossiers_flow_to_published_indices(stack_factory: Any, nc: Client) -> None:
    stack = stack_factory(
        {
            "SIPAS_SAMPLING_DEV_OUTBOX": "true",
            "SIPAS_SAMPLING_SEED": SEED,
            "SIPAS_SAMPLING_SAMPLING_RATE": str(RATE),
            "SIPAS_SAMPLING_CAMPAIGN_ID": CAMPAIGN,
            "SIPAS_SCORING_N_MIN": str(N_MIN),
            # every respondent answers from this test's address: the per-address limit is
            # for one person's device, not for a hundred people
            "SIPAS_INTAKE_SUBMIT_RATE": "100000/minute",
        }
    )
    events: dict[str, list[dict[str, Any]]] = defaultdict(list)

    async def collect(msg: Any) -> None:
        events[".".join(msg.subject.split(".")[1:3])].append(
            json.loads(msg.data) if msg.data[:1] == b"{" else {}
        )

    await nc.subscribe("sipas.>", cb=collect)
    rng = random.Random(42)
    now = datetime.now(UTC)
    records = [record(i, UNITS[i % len(UNITS)], now) for i in range(200)]
    api_key = stack.dev_keys["tthc"]
    js = nc.jetstream()
    async with httpx.AsyncClient(timeout=10) as http:
        for i, rec in enumerate(records):
            if i % 2:
                await js.publish("sipas.raw.dossier.e2e", json.dumps(rec).encode())
            else:
                answer = await post_dossier(
                    http,
                    f"{stack.url('intake')}/v1/dossiers",
                    rec,
                    {"Authorization": f"Bearer {api_key}"},
                )
                assert answer.status_code == 202, answer.text

        invited = [r for r in records if drawn(r["dossier_id"])]

        async def all_invited() -> bool:
            outbox = (
                await http.get(f"{stack.url('sampling')}/dev/outbox", params={"limit": 1000})
            ).json()
            return len(outbox) == len(invited)

        await eventually(all_invited, 60)
        outbox = (
            await http.get(f"{stack.url('sampling')}/dev/outbox", params={"limit": 1000})
        ).json()
        answers_by_unit: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for message in outbox:
            answers: dict[str, Any] = {
                item: rng.choice([1, 2, 3, 4, 5, 5, 4, "na"]) for item in SERVICE_ITEMS
            }
            token = message["link"].rsplit("/", 1)[-1]
            async for attempt in AsyncRetrying(
                stop=stop_after_delay(10), wait=wait_fixed(0.1), reraise=True
            ):
                with attempt:  # the token is registered once intake has consumed invitation-sent
                    answer = await http.post(
                        f"{stack.url('intake')}/v1/responses",
                        json={"token": token, "answers": answers},
                    )
                    assert answer.status_code != 404
            assert answer.status_code == 201, answer.text
            answers_by_unit[message["unit"]].append(answers)

    assert {m["unit"] for m in outbox} <= set(UNITS)
    assert sorted(m["recipient"] for m in outbox) == sorted(r["contact"]["phone"] for r in invited)

    def latest_index() -> dict[str, dict[str, Any]]:
        latest: dict[str, dict[str, Any]] = {}
        for event in events["index.updated"]:
            if event["unit"] not in latest or event["version"] > latest[event["unit"]]["version"]:
                latest[event["unit"]] = event
        return latest

    async def indices_complete() -> bool:
        latest = latest_index()
        return all(
            unit in latest and latest[unit]["responses"] == len(sets)
            for unit, sets in answers_by_unit.items()
        )

    await eventually(indices_complete, 60)
    latest = latest_index()
    for unit, answer_sets in answers_by_unit.items():
        counts, sipas = expected_index(answer_sets)
        published = latest[unit]
        assert published["campaign_id"] == CAMPAIGN
        assert published["counts"] == counts, unit
        if sipas is None:
            assert published["sipas"]["value"] is None
        else:
            assert published["sipas"]["value"] == pytest.approx(sipas, abs=1e-9), unit

    assert len(events["dossier.completed"]) == 200
    assert len(events["invitation.sent"]) == len(invited)
    # No contact in events: neither the field nor any invited number, in either form
    # (a bare prefix such as "0912" would also match the hex of ids and token hashes).
    numbers = {r["contact"]["phone"] for r in invited}
    numbers |= {"84" + n[1:] for n in numbers}
    for sent in map(json.dumps, events["invitation.sent"]):
        assert "phone" not in sent
        assert not any(n in sent for n in numbers), sent
    low = sum(
        any(v in (1, 2) for v in a.values()) for sets in answers_by_unit.values() for a in sets
    )
    # Index rules (e.g. below threshold) may raise alerts too: count the rating alerts.
    await eventually(lambda: _count(events, "alert.raised", low, rule="low_rating"), 60)


async def _count(
    events: dict[str, list[Any]], kind: str, expected: int, *, rule: str | None = None
) -> bool:
    await asyncio.sleep(0)
    return sum(rule is None or e.get("rule") == rule for e in events[kind]) == expected


async def test_bad_payloads_get_clear_errors_and_nothing_else_is_lost(
    stack_factory: Any, nc: Client
) -> None:
    stack = stack_factory(services=("intake",))
    now = datetime.now(UTC)
    js = nc.jetstream()
    completed: list[str] = []

    async def collect(msg: Any) -> None:
        completed.append(json.loads(msg.data)["dossier_id"])

    await nc.subscribe("sipas.dossier.completed.>", cb=collect)
    good = record(1, "ht-nx-co-dam", now)
    missing_field = {
        k: v for k, v in record(2, "ht-nx-co-dam", now).items() if k != "procedure_code"
    }
    wrong_type = {**record(3, "ht-nx-co-dam", now), "applicant_kind": 7}
    unknown_unit = record(4, "Xã Không Có", now)

    async with httpx.AsyncClient(timeout=10) as http:
        headers = {"Authorization": f"Bearer {stack.dev_keys['tthc']}"}
        answer = await http.post(
            f"{stack.url('intake')}/v1/dossiers", json=missing_field, headers=headers
        )
        assert answer.status_code == 422
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["errors"] == [{"field": "procedure_code", "reason": "Field required"}]
        answer = await http.post(
            f"{stack.url('intake')}/v1/dossiers", json=unknown_unit, headers=headers
        )
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["field"] == "unit"
        answer = await http.post(f"{stack.url('intake')}/v1/dossiers", json=good, headers={})
        assert answer.status_code == 401

    for payload in (
        b"{broken",
        json.dumps(missing_field).encode(),
        json.dumps(wrong_type).encode(),
    ):
        await js.publish("sipas.raw.dossier.e2e", payload)
    await js.publish("sipas.raw.dossier.e2e", json.dumps(unknown_unit).encode())
    await js.publish("sipas.raw.dossier.e2e", json.dumps(good).encode())

    async def four_dead_letters() -> bool:
        return (await js.stream_info("SIPAS_DLQ")).state.messages == 4

    await eventually(four_dead_letters, 60)
    headers = [(await js.get_msg("SIPAS_DLQ", seq)).headers for seq in range(1, 5)]
    assert [h["Sipas-Dlq-Kind"] for h in headers] == ["malformed", "schema", "schema", "rejected"]
    reasons = [decode_reason(h["Sipas-Dlq-Reason"]) for h in headers]
    assert "procedure_code: Field required" in reasons[1]
    assert "applicant_kind: Input should be 'individual' or 'organisation'" in reasons[2]
    assert reasons[3].startswith("unit: no unit valid on")
    assert "'Xã Không Có'" in reasons[3]

    async def good_one_through() -> bool:
        return completed == [good["dossier_id"]]

    await eventually(good_one_through, 60)
