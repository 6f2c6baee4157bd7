"""The operator API: league tables, unit detail, exports, profiles, funnel."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from openpyxl import load_workbook

from sipas_contracts.events import InvitationSent
from sipas_contracts.testing import dossier
from sipas_scoring.testing import C2640, answers_for, resp

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
AT = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def answered(unit: str, level: int, **kw):
    return resp(answers_for(C2640, level), unit=unit, occurred_at=AT, **kw)


async def seed(harness, wait, spec: dict[str, list[int]]) -> int:
    events = [answered(unit, level) for unit, levels in spec.items() for level in levels]
    seqs = await harness.publish(*events)
    await wait(lambda: (harness.latest("c2026", "ht") or {}).get("version") == seqs[-1])
    return seqs[-1]


async def test_the_league_table_ranks_units_within_their_tier_with_n_and_ci(harness, wait):
    through = await seed(
        harness, wait,
        {"ht-nx-co-dam": [5, 5, 5, 1], "ht-nx-xuan-an": [5, 5, 5, 5], "ht-nx-xuan-hoi": [5, 1]},
    )  # fmt: skip

    answer = await harness.http.get("/v1/indices", params={"campaign": "c2026"})

    assert answer.status_code == 200, answer.text
    table = answer.json()
    assert table["through_seq"] == through
    rows = {r["unit"]: r for r in table["rows"]}
    assert rows["ht-nx-xuan-an"]["rank"] == 1
    assert rows["ht-nx-co-dam"]["rank"] == 2
    assert rows["ht-nx-xuan-hoi"]["rank"] is None  # 2 respondents < n_min_unit 3
    assert rows["ht-nx-xuan-hoi"]["sipas"]["label"] == "không đủ dữ liệu"
    assert rows["ht-nx-co-dam"]["sipas"]["display"] == "75.00"
    assert rows["ht-nx-co-dam"]["sipas"]["exact"] == "75"
    assert rows["ht-nx-co-dam"]["sipas"]["n"] == 4
    assert rows["ht"]["tier"] == "province"
    assert rows["ht"]["rank"] == 1
    assert rows["ht"]["responses"] == 10
    assert any("kiosk" in n["en"].lower() for n in table["notes"])


async def test_level_and_unit_filters_and_the_only_campaign_default(harness, wait):
    await seed(harness, wait, {"ht-nx-co-dam": [5, 5, 5]})

    answer = await harness.http.get("/v1/indices", params={"level": "commune"})

    assert [r["unit"] for r in answer.json()["rows"]] == ["ht-nx-co-dam"]


async def test_unit_detail_shows_every_item_and_the_raw_counts(harness, wait):
    await seed(harness, wait, {"ht-nx-co-dam": [5, 4, 1]})

    answer = await harness.http.get("/v1/indices/c2026/units/ht-nx-co-dam")

    detail = answer.json()
    assert detail["unit"]["items"]["C01"]["exact"] == "200/3"
    assert detail["unit"]["items"]["C01"]["display"] == "66.67"
    assert detail["counts"]["counts"]["C01"] == {"1": 1, "4": 1, "5": 1}
    assert (await harness.http.get("/v1/indices/c2026/units/nowhere")).status_code == 404


async def test_a_malformed_period_gets_a_problem_naming_the_formats(harness, wait):
    await seed(harness, wait, {"ht-nx-co-dam": [5, 5, 5]})

    answer = await harness.http.get(
        "/v1/indices", params={"campaign": "c2026", "period": "2026-13"}
    )

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert "YYYY-Qn" in answer.json()["detail"]


async def test_today_counts_only_the_responses_of_the_provinces_current_day(harness, wait):
    now = datetime(2026, 12, 7, 16, 30, tzinfo=UTC)  # 23:30 in Hà Nội
    harness.scoring.counts._clock = harness.scoring.views._clock = lambda: now
    at_counter = {"unit": "ht-nx-co-dam", "collection_mode": "kiosk"}
    events = [
        resp(answers_for(C2640, level), occurred_at=at, **at_counter)
        for level, at in ((5, now), (1, now - timedelta(hours=1)), (1, now + timedelta(hours=1)))
    ]
    seqs = await harness.publish(*events, answered("ht-nx-co-dam", 1))
    await wait(lambda: harness.scoring.responses.applied.highest == seqs[-1])

    answer = await harness.http.get(
        "/v1/indices", params={"campaign": "c2026", "period": "today", "modes": "kiosk"}
    )

    assert answer.status_code == 200, answer.text
    table = answer.json()
    assert table["period"] == "2026-12-07"
    assert table["compared_with"] is None
    co_dam = next(r for r in table["rows"] if r["unit"] == "ht-nx-co-dam")
    assert co_dam["responses"] == 2  # 00:30 on 8 December and 20 November are other days
    assert co_dam["sipas"]["n"] == 2


async def test_an_unknown_campaign_is_not_found(harness, wait):
    await seed(harness, wait, {"ht-nx-co-dam": [5, 5, 5]})

    unknown = await harness.http.get("/v1/indices", params={"campaign": "nope"})

    assert unknown.status_code == 404


async def test_an_unknown_collection_mode_gets_a_problem_naming_the_field(harness, wait):
    await seed(harness, wait, {"ht-nx-co-dam": [5, 5, 5]})

    modes = await harness.http.get("/v1/indices", params={"modes": "fax"})

    assert modes.status_code == 422
    assert modes.json()["errors"][0]["field"].startswith("modes")


async def test_exports_carry_the_same_figures_in_csv_xlsx_and_json(harness, wait):
    await seed(harness, wait, {"ht-nx-co-dam": [5, 5, 5, 1], "ht-nx-xuan-an": [5, 5, 5]})
    table = (await harness.http.get("/v1/indices")).json()

    csv_answer = await harness.http.get("/v1/exports/indices.csv")
    xlsx_answer = await harness.http.get("/v1/exports/indices.xlsx")
    json_answer = await harness.http.get("/v1/exports/indices.json")

    text = csv_answer.content.decode("utf-8-sig")
    lines = list(csv.DictReader(io.StringIO(text)))
    co_dam = next(line for line in lines if line["unit"] == "ht-nx-co-dam")
    assert co_dam["sipas_display"] == "75.00"
    assert co_dam["name"] == "Xã Cổ Đạm"
    assert co_dam["element_E5"] == "75.0"
    sheet = load_workbook(io.BytesIO(xlsx_answer.content))["Chỉ số"]
    assert sheet["A1"].value == "Mã đơn vị"
    assert {sheet.cell(row=r, column=1).value for r in range(3, sheet.max_row + 1)} == {
        r["unit"] for r in table["rows"]
    }
    assert json.loads(json_answer.content)["rows"] == table["rows"]


async def test_a_profile_change_recomputes_and_republishes(harness, wait):
    await seed(harness, wait, {"ht-nx-co-dam": [5, 5, 5, 1]})

    answer = await harness.http.put(
        "/v1/campaigns/c2026/profile",
        json={"method": "mean_score", "n_min_item": 2, "n_min_unit": 3},
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["revision"] == 1

    def republished() -> list[dict]:
        return [
            e for e in harness.indexes
            if e["unit"] == "ht-nx-co-dam" and e["period"] == "campaign" and e["profile_revision"]
        ]  # fmt: skip

    await wait(republished)
    latest = republished()[-1]
    assert latest["method"] == "mean_score"
    assert latest["sipas"]["value"] == pytest.approx(75.0)  # (5+5+5+1)/4 = 4 -> 100*3/4
    bad = await harness.http.put("/v1/campaigns/c2026/profile", json={"sipas_components": ["E9"]})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "sipas_components"


async def test_the_funnel_joins_invitations_and_responses_per_channel(harness, wait):
    invitations = [
        InvitationSent(
            event_id=uuid4(), occurred_at=AT, producer="sampling", invitation_id=uuid4(),
            campaign_id="c2026", unit="ht-nx-co-dam", stratum="individual", channel=channel,
            draw_list="continuous", instrument_id=C2640.id, token_hash="a" * 64,
            expires_at=AT, attempt=1,
        )
        for channel in ("sms", "sms", "sms", "zalo")
    ]  # fmt: skip
    await harness.publish(
        dossier(unit="ht-nx-co-dam", delivered_at=AT),
        dossier(unit="ht-nx-co-dam", delivered_at=AT, submission_channel="online"),
    )
    await harness.publish(answered("ht-nx-co-dam", 5, invitation_id=invitations[0].invitation_id))
    await harness.publish(*invitations)
    await harness.publish(answered("ht-nx-co-dam", 4, invitation_id=invitations[3].invitation_id))
    await harness.publish(answered("ht-nx-co-dam", 4, collection_mode="kiosk"))

    async def complete() -> bool:
        rows = (await harness.http.get("/v1/funnel")).json()["rows"]
        row = next((r for r in rows if r["unit"] == "ht-nx-co-dam"), {})
        return row.get("responded") == 2 and row.get("eligible") == 2 and row.get("responses") == 3

    await wait(complete)
    rows = {r["unit"]: r for r in (await harness.http.get("/v1/funnel")).json()["rows"]}
    co_dam = rows["ht-nx-co-dam"]
    assert co_dam["invited"] == 4
    assert co_dam["channels"]["sms"] == {**co_dam["channels"]["sms"], "invited": 3, "responded": 1}
    assert co_dam["channels"]["zalo"]["rate"]["value"] == 100
    assert co_dam["response_rate"]["display"] == "50.00"
    assert co_dam["eligible_by_channel"] == {"direct": 1, "online": 1}
    assert co_dam["responses_by_mode"] == {"kiosk": 1, "online": 2}
    assert rows["ht"]["invited"] == 4


async def test_the_funnel_counts_eligible_dossiers_of_the_days_the_invited_were_completed(
    harness, wait
):
    # A batch campaign: dossiers completed in May, invitations drawn and sent in September.
    may_4, may_20 = datetime(2020, 5, 4, 3, tzinfo=UTC), datetime(2020, 5, 20, 3, tzinfo=UTC)
    september = datetime(2020, 9, 1, 3, tzinfo=UTC)
    invitations = [
        InvitationSent(
            event_id=uuid4(), occurred_at=september, producer="sampling",
            invitation_id=uuid4(), campaign_id="c2026", unit="ht-nx-co-dam",
            stratum="individual", channel="enumerator", draw_list="official",
            instrument_id=C2640.id, token_hash="b" * 64, expires_at=september,
            dossier_completed_at=completed,
        )
        for completed in (may_4, may_20)
    ]  # fmt: skip
    await harness.publish(
        dossier(unit="ht-nx-co-dam", delivered_at=may_4),
        dossier(unit="ht-nx-co-dam", delivered_at=datetime(2020, 5, 12, 3, tzinfo=UTC)),
        dossier(unit="ht-nx-co-dam", delivered_at=may_20),
        dossier(unit="ht-nx-co-dam", delivered_at=datetime(2020, 6, 2, 3, tzinfo=UTC)),
        dossier(unit="ht-nx-co-dam", delivered_at=september),
    )
    await harness.publish(*invitations)

    async def counted() -> bool:
        rows = (await harness.http.get("/v1/funnel", params={"campaign": "c2026"})).json()["rows"]
        row = next((r for r in rows if r["unit"] == "ht-nx-co-dam"), {})
        return row.get("invited") == 2 and row.get("eligible") == 3

    await wait(counted)
    funnel = (await harness.http.get("/v1/funnel", params={"campaign": "c2026"})).json()
    assert (funnel["window_start"], funnel["window_end"]) == ("2020-05-04", "2020-05-20")


async def test_openapi_documents_the_figures_and_metrics_expose_the_index(harness, wait):
    await seed(harness, wait, {"ht-nx-co-dam": [5, 5, 5, 1]})

    schema = (await harness.http.get("/openapi.json")).json()
    metrics = (await harness.http.get("/metrics")).text

    figure = schema["components"]["schemas"]["FigureOut"]["properties"]
    assert "exact" in figure
    assert "ci_low" in figure
    assert "/v1/public/open-data/{campaign}.{fmt}" in schema["paths"]
    assert 'sipas_scoring_sipas_percent{campaign="c2026",unit="ht-nx-co-dam"} 75.0' in metrics
    assert 'sipas_scoring_index_updates_total{period_kind="campaign"}' in metrics
    assert "sipas_scoring_index_lag_seconds_bucket" in metrics
