"""Seed 002 (Nghi Xuân 2020) end to end: 17 communes, 15 + 10 each, transfers, exclusions,
official + reserve lists, substitutions, XLSX lists, and an observer re-running the draw."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime
from uuid import UUID

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from sipas_contracts import subjects
from sipas_contracts.units import load_sample_hierarchy
from sipas_sampling.campaigns import shipped_path
from sipas_sampling.cli import app as cli

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
CAMPAIGN = "ht-nx-2020"
COMMUNES = load_sample_hierarchy().leaves("ht-nx", date(2020, 6, 1))
FEW_ORGS = COMMUNES[0]
WHEN = datetime(2020, 5, 4, 3, tzinfo=UTC)
PLAN_DAY = "2020-09-01"  # the plan as written (its dates move with the day it is loaded for)


def population(tools) -> tuple[list, int]:
    events, eligible = [], 0
    for u, unit in enumerate(COMMUNES):
        organisations = 4 if unit == FEW_ORGS else 16
        for i in range(30 + organisations):
            kind = "individual" if i < 30 else "organisation"
            events.append(tools.completed(u * 1000 + i, unit, delivered_at=WHEN, kind=kind))
            eligible += 1
        # excluded by the plan: online, postal, non-resident, another field, outside the window
        events.append(
            tools.completed(u * 1000 + 900, unit, delivered_at=WHEN, submission_channel="online")
        )
        events.append(
            tools.completed(u * 1000 + 901, unit, delivered_at=WHEN, result_delivery="postal")
        )
        events.append(
            tools.completed(u * 1000 + 902, unit, delivered_at=WHEN, resident_in_province=False)
        )
        events.append(
            tools.completed(u * 1000 + 903, unit, delivered_at=WHEN, procedure_field="Xây dựng")
        )
        events.append(
            tools.completed(u * 1000 + 904, unit, delivered_at=datetime(2020, 9, 15, tzinfo=UTC))
        )
        # the same applicant twice in one commune: only the first dossier counts
        events.append(
            tools.completed(u * 1000 + 905, unit, delivered_at=WHEN, applicant=f"{unit}:{u * 1000}")
        )
    return events, eligible


async def test_seed_002_yields_425_official_invitations_with_transfers_and_a_verifiable_draw(
    tools, harness, tmp_path
):
    h = await harness(
        campaign_files=str(shipped_path("ha-tinh-nghi-xuan-2020")), campaign_as_of=PLAN_DAY
    )
    events, eligible = population(tools)
    await h.publish(events)

    async def all_seen() -> bool:
        counts = await h.sampling.stores.population.counts(CAMPAIGN)
        return sum(counts.values()) == len(events)

    await h.eventually(all_seen)
    counts = await h.sampling.stores.population.counts(CAMPAIGN)
    assert counts["eligible"] == eligible
    for reason in (
        "online",
        "postal",
        "non_resident",
        "other_field",
        "outside_window",
        "duplicate_applicant",
    ):
        assert counts[reason] == 17, reason

    before = await campaign_page(h, tools)
    assert before["total_quota"] is None
    assert before["draw"] is None
    assert {u["unit"]: u["eligible"] for u in before["units"]} == {
        unit: 34 if unit == FEW_ORGS else 46 for unit in COMMUNES
    }
    assert all(u["quota"] is None and u["invited"] == 0 for u in before["units"])

    answer = await h.http.post(f"/v1/campaigns/{CAMPAIGN}/draw", headers=tools.auth("operator"))
    assert answer.status_code == 201, answer.text
    assert answer.json()["official"] == 425
    await h.eventually(lambda: len(h.sent) == 425)
    assert {e.draw_list for e in h.sent} == {"official"}
    assert {e.channel for e in h.sent} == {"enumerator"}
    few = [e for e in h.sent if e.unit == FEW_ORGS]
    assert sum(e.stratum == "organisation" for e in few) == 4
    assert sum(e.stratum == "individual" for e in few) == 21  # 15 + the 6 organisations missing

    again = await h.http.post(f"/v1/campaigns/{CAMPAIGN}/draw", headers=tools.auth("operator"))
    assert again.status_code == 409

    export = (
        await h.http.get(f"/v1/campaigns/{CAMPAIGN}/draw", headers=tools.auth("observer"))
    ).json()
    assert export["lists"]["transfers"][FEW_ORGS] == {"individual": 6}
    assert not re.search(r"\b09\d{8}\b", json.dumps(export))  # dossier numbers only, no phones

    refused = export["lists"]["lists"][FEW_ORGS]["individual"]["official"][0]
    sub = await h.http.post(
        f"/v1/campaigns/{CAMPAIGN}/substitutions",
        headers=tools.auth("enumerator"),
        json={"dossier_id": refused, "reason": "refused"},
    )
    assert sub.status_code == 201, sub.text
    assert (
        sub.json()["substitute"] == export["lists"]["lists"][FEW_ORGS]["individual"]["reserve"][0]
    )
    await h.eventually(lambda: len(h.sent) == 426)
    assert h.sent[-1].draw_list == "reserve"
    assert sub.json()["substitute_invitation_id"] == str(h.sent[-1].invitation_id)
    assert sub.json()["repeated"] is False
    synced_twice = await h.http.post(
        f"/v1/campaigns/{CAMPAIGN}/substitutions",
        headers=tools.auth("enumerator"),
        json={"dossier_id": refused, "reason": "refused"},
    )
    assert synced_twice.status_code == 200
    assert synced_twice.json() | {"repeated": False} == sub.json()
    other_reason = await h.http.post(
        f"/v1/campaigns/{CAMPAIGN}/substitutions",
        headers=tools.auth("enumerator"),
        json={"dossier_id": refused, "reason": "unreachable"},
    )
    assert other_reason.status_code == 409
    # A repeat re-publishes the same events (their ids: JetStream keeps one), nothing new.
    assert len({e.event_id for e in h.sent}) == 426
    # Intake is told the refused member's token is closed: once, in the invitations stream.
    closures = await h.stream_events(subjects.INVITATIONS_CLOSED)
    assert [(c.reason, str(c.replaced_by)) for c in closures] == [
        ("refused", sub.json()["substitute_invitation_id"])
    ]
    assert closures[0].unit == FEW_ORGS

    after = await campaign_page(h, tools)
    assert after["total_quota"] == 425
    assert after["draw"]["official"] == 425
    units = {u["unit"]: u for u in after["units"]}
    assert set(units) == set(COMMUNES)
    assert all(u["quota"] == 25 for u in units.values())
    assert units[FEW_ORGS] | {"unit": None} == {
        "unit": None,
        "quota": 25,
        "eligible": 34,
        "reachable": 34,
        "reserve": 9,  # half the official list, as far as the population has dossiers left
        "invited": 26,
        "reserved": 25,
        "answered": 0,
        "lapsed": 0,
        "substituted": 1,
    }
    assert after["delivery"] == {"enumerator": {"listed": 425, "substituted": 1}}

    unreachable = export["lists"]["lists"][COMMUNES[5]]["organisation"]["official"][2]
    [listed] = await h.sampling.stores.invitations.by_campaign(CAMPAIGN, dossier_id=unreachable)
    by_list_id = await h.http.post(
        f"/v1/campaigns/{CAMPAIGN}/substitutions",
        headers=tools.auth("enumerator"),
        json={"invitation_id": str(listed["_id"]), "reason": "unreachable"},
    )
    assert by_list_id.status_code == 201, by_list_id.text
    assert by_list_id.json()["replaced"] == unreachable
    assert by_list_id.json()["seq"] == 2

    export = (
        await h.http.get(f"/v1/campaigns/{CAMPAIGN}/draw", headers=tools.auth("observer"))
    ).json()
    path = tmp_path / "draw.json"
    path.write_text(json.dumps(export, ensure_ascii=False))
    runner = CliRunner()
    result = runner.invoke(cli, ["verify", str(path)])
    assert result.exit_code == 0, result.output
    assert "KHỚP / MATCH" in result.output

    forged = json.loads(path.read_text())
    official = forged["lists"]["lists"][COMMUNES[3]]["organisation"]["official"]
    official[0] = (
        forged["population"][COMMUNES[3]]["organisation"][-1]
        if official[0] != forged["population"][COMMUNES[3]]["organisation"][-1]
        else forged["population"][COMMUNES[3]]["organisation"][0]
    )
    path.write_text(json.dumps(forged))
    result = runner.invoke(cli, ["verify", str(path)])
    assert result.exit_code == 1
    assert "MISMATCH" in result.output


async def test_lists_carry_invitation_ids_reserves_in_order_and_addresses_for_field_roles(
    tools, harness
):
    h = await harness(
        campaign_files=str(shipped_path("ha-tinh-nghi-xuan-2020")), campaign_as_of=PLAN_DAY
    )
    events = [
        tools.completed(
            i,
            COMMUNES[1],
            delivered_at=WHEN,
            kind="individual",
            contact={"phone": f"09{i:08d}", "name": f"Người dân {i}", "address": f"Thôn {i}"},
        )
        for i in range(40)
    ]
    await h.publish(events)
    await h.eventually(async_eq(h, 40))
    assert (
        await h.http.post(f"/v1/campaigns/{CAMPAIGN}/draw", headers=tools.auth("operator"))
    ).status_code == 201
    export = (
        await h.http.get(f"/v1/campaigns/{CAMPAIGN}/draw", headers=tools.auth("observer"))
    ).json()
    drawn = export["lists"]["lists"][COMMUNES[1]]["individual"]

    enumerator = await lists(h, tools, "enumerator")
    observer = await lists(h, tools, "observer")

    assert [r[7] for r in enumerator] == drawn["official"] + drawn["reserve"]
    assert len(drawn["official"]) == 25  # no organisations: their 10 forms go to individuals
    assert [(r[4], r[5]) for r in enumerator] == [("Chính thức", n) for n in range(1, 26)] + [
        ("Dự phòng", n) for n in range(1, len(drawn["reserve"]) + 1)
    ]
    assert {r[14] for r in enumerator[:25]} == {"Chờ khảo sát"}
    assert {r[14] for r in enumerator[25:]} == {"Dự phòng, chưa dùng"}
    assert all(UUID(r[6]) for r in enumerator)
    number = {f"000.00.00.H42-{COMMUNES[1][-12:]}-{i:06d}": i for i in range(40)}
    assert all(
        (r[8], r[9], r[10]) == (f"Người dân {n}", f"Thôn {n}", f"09{n:08d}")
        for r in enumerator
        for n in [number[r[7]]]
    )
    assert all(str(r[12]).startswith("https://ks.example.gov.vn/s/") for r in enumerator[:25])
    assert all(r[12] in {None, ""} for r in enumerator[25:])  # no link before it is needed
    assert all(r[8] == r[9] == r[10] == r[12] == "—" for r in observer)
    assert [r[6] for r in observer] == [r[6] for r in enumerator]

    refused = drawn["official"][0]
    sub = await h.http.post(
        f"/v1/campaigns/{CAMPAIGN}/substitutions",
        headers=tools.auth("enumerator"),
        json={"dossier_id": refused, "reason": "refused"},
    )
    after = await lists(h, tools, "enumerator")
    await h.eventually(lambda: len(h.sent) == 26)

    assert sub.json()["substitute_invitation_id"] == enumerator[25][6]  # printed from the start
    assert str(h.sent[-1].invitation_id) == enumerator[25][6]
    assert (after[0][14], after[25][14]) == ("Đã thay thế", "Chờ khảo sát")
    assert str(after[25][12]).startswith("https://ks.example.gov.vn/s/")
    assert (await h.http.get(f"/v1/campaigns/{CAMPAIGN}/lists.xlsx")).status_code == 401
    # An enumerator of another commune: this commune's list and substitutions are refused,
    # and without a unit filter the workbook holds none of this commune's people.
    elsewhere = tools.auth("enumerator", units=(COMMUNES[2],))
    listed = f"/v1/campaigns/{CAMPAIGN}/lists.xlsx"
    refused_list = await h.http.get(listed, headers=elsewhere, params={"unit": COMMUNES[1]})
    unfiltered = await h.http.get(listed, headers=elsewhere)
    refused_sub = await h.http.post(
        f"/v1/campaigns/{CAMPAIGN}/substitutions",
        headers=elsewhere,
        json={"dossier_id": drawn["official"][1], "reason": "refused"},
    )
    assert (refused_list.status_code, refused_sub.status_code) == (403, 403)
    rows = load_workbook(io.BytesIO(unfiltered.content)).active.iter_rows(values_only=True)
    assert not {str(r[7]) for r in rows} & set(drawn["official"] + drawn["reserve"])
    assert (
        await h.http.post(f"/v1/campaigns/{CAMPAIGN}/draw", headers=tools.auth("observer"))
    ).status_code == 403


async def lists(h, tools, role: str) -> list[tuple]:
    answer = await h.http.get(
        f"/v1/campaigns/{CAMPAIGN}/lists.xlsx",
        headers=tools.auth(role),
        params={"unit": COMMUNES[1]},
    )
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.content)).active
    return list(sheet.iter_rows(min_row=4, values_only=True))


async def campaign_page(h, tools) -> dict:
    answer = await h.http.get(f"/v1/campaigns/{CAMPAIGN}", headers=tools.auth("observer"))
    assert answer.status_code == 200, answer.text
    return answer.json()


def async_eq(h, n):
    async def check() -> bool:
        return (await h.sampling.stores.population.counts(CAMPAIGN)).get("eligible") == n

    return check


async def test_the_plan_for_today_is_announced_and_kept_when_restarted_another_day(harness):
    plan_file = str(shipped_path("ha-tinh-nghi-xuan-2020"))
    first = await harness(campaign_files=plan_file, campaign_as_of="2026-12-07")
    await first.eventually(lambda: any(p.campaign_id == "ht-nx-2026" for p in first.planned))
    announced = next(p for p in first.planned if p.campaign_id == "ht-nx-2026")
    assert (announced.window_start, announced.window_end) == (date(2026, 4, 8), date(2026, 12, 6))
    assert len(announced.units) == 17
    assert (announced.planned_per_unit, announced.n_min_unit) == (25, 25)
    assert (await first.sampling.stores.campaigns.get("ht-nx-2026"))[1] == "active"
    await first.sampling.runtime.stop()

    second = await harness(campaign_files=plan_file, campaign_as_of="2026-12-08")

    campaign, status = await second.sampling.stores.campaigns.get("ht-nx-2026")
    assert campaign.window.end == date(2026, 12, 6)  # the first instance, not re-dated
    assert status == "active"
    await second.eventually(lambda: len(second.planned) == 1)  # announced again at start
    assert second.planned[-1].design_digest == announced.design_digest
