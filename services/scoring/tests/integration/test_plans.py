"""Scoring follows the campaign's plan: title, window, units, and the number of respondents
a unit needs to be ranked (seed 002 samples 25 per commune; the default is 30)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sipas_contracts.testing import plan as planned
from sipas_scoring.testing import C2640, answers_for, resp

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
AT = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
COMMUNES = ["ht-nx-co-dam", "ht-nx-xuan-an"]


def plan(*, n_min_unit: int | None = None, at: datetime = AT, name: str = "Khảo sát 2026"):
    return planned(
        occurred_at=at, name_vi=name, name_en="Survey 2026", units=COMMUNES, n_min_unit=n_min_unit
    )


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"n_min_unit": 6})  # the plan samples 5 per unit


async def test_a_unit_that_answered_every_form_of_its_plan_is_ranked(harness, wait):
    await harness.publish(plan())
    await wait(lambda: harness.scoring.stores.profiles.plan("c2026"))
    events = [resp(answers_for(C2640, 5), unit=u, occurred_at=AT) for u in COMMUNES * 5]
    seqs = await harness.publish(*events)
    await wait(lambda: (harness.latest("c2026", "ht") or {}).get("version") == seqs[-1])

    table = (await harness.http.get("/v1/indices", params={"campaign": "c2026"})).json()

    rows = {r["unit"]: r for r in table["rows"]}
    assert table["profile"]["n_min_unit"] == 5  # min(default 6, plan's 5 per unit)
    assert table["profile"]["title_vi"] == "Khảo sát 2026"
    assert table["profile"]["planned_units"] == COMMUNES
    assert rows["ht-nx-co-dam"]["rank"] == 1
    assert rows["ht-nx-xuan-an"]["rank"] == 1
    assert harness.latest("c2026", "ht-nx-co-dam")["sipas"]["sufficient"]
    listed = (await harness.http.get("/v1/campaigns")).json()
    assert [(c["title_vi"], c["title_en"]) for c in listed] == [("Khảo sát 2026", "Survey 2026")]


async def test_an_operator_cannot_ask_for_more_respondents_than_the_plan_samples(harness, wait):
    await harness.publish(plan())
    await wait(lambda: harness.scoring.stores.profiles.plan("c2026"))

    refused = await harness.http.put("/v1/campaigns/c2026/profile", json={"n_min_unit": 30})
    lowered = await harness.http.put("/v1/campaigns/c2026/profile", json={"n_min_unit": 4})

    assert refused.status_code == 422
    problem = refused.json()
    assert problem["errors"][0]["field"] == "n_min_unit"
    assert "30 respondents" in problem["detail"]
    assert "samples 5 per unit" in problem["detail"]
    assert lowered.status_code == 200
    assert lowered.json()["n_min_unit"] == 4
    assert lowered.json()["title_vi"] == "Khảo sát 2026"  # the rest still follows the plan


async def test_a_later_plan_replaces_an_earlier_one_and_an_older_one_is_ignored(harness, wait):
    await harness.publish(plan(name="Bản đầu"))
    await harness.publish(plan(name="Bản sửa", at=datetime(2026, 11, 21, tzinfo=UTC)))
    await harness.publish(plan(name="Bản cũ", at=datetime(2026, 11, 19, tzinfo=UTC)))

    async def named() -> str | None:
        found = await harness.scoring.stores.profiles.plan("c2026")
        return found.name_vi if found else None

    await wait(lambda: _is(named, "Bản sửa"))
    profile = (await harness.http.get("/v1/campaigns/c2026/profile")).json()
    assert profile["title_vi"] == "Bản sửa"
    assert profile["n_min_unit"] == 5
    assert profile["window_start"] == "2026-04-08"


async def _is(check, expected) -> bool:
    return await check() == expected
