"""The shipped seed 002 plan (Nghi Xuân, 17 communes, 15 + 10 forms each), run end to end on
a fresh machine: loaded for today, the one-stop export posted to intake, the draw,
enumerators' interviews, and scoring ranks all 17 communes on their 25 forms.

Four service processes on a real nats-server and Mongo-wire server; the test talks to them
over HTTP and NATS only.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import httpx
import nats
import pytest

from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.demo.replay import FieldTeam, PeriodReplay
from sipas_runtime.testing import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.mongo, pytest.mark.slow]
HIERARCHY = load_sample_hierarchy()
COMMUNES = HIERARCHY.leaves("ht", datetime.now(UTC).date())


@pytest.mark.timeout(300)  # five processes start, then 884 dossiers and 425 interviews
async def test_the_shipped_seed_002_plan_ranks_all_17_communes_on_25_forms(stack_factory):
    running = stack_factory({"SIPAS_SAMPLING_CAMPAIGN_FILES": "ha-tinh-nghi-xuan-2020"})
    team = FieldTeam.of(running.dev_keys)
    urls = {name: running.url(name) for name in running.services}
    year = (datetime.now(UTC) + timedelta(hours=7)).year
    campaign = f"ht-nx-{year}"
    rng = random.Random(2020)
    nc = await nats.connect(running.nats_url)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            replay = PeriodReplay(
                http=http,
                nc=nc,
                urls=urls,
                tthc_key=running.dev_keys["tthc"],
                team=team,
                hierarchy=HIERARCHY,
                quality={c: rng.uniform(0.6, 0.97) for c in COMMUNES},
                rng=rng,
            )

            progress = await replay.run(campaign)

            assert (progress.drawn, progress.interviewed) == (425, 425)

            async def communes_ranked() -> list[dict]:
                table = (
                    await http.get(
                        f"{urls['scoring']}/v1/indices",
                        params={"campaign": campaign, "level": "commune"},
                        headers={"Authorization": f"Bearer {running.dev_keys['supervisor']}"},
                    )
                ).json()
                rows = table.get("rows", [])
                return rows if sum(r["responses"] for r in rows) == 425 else []

            await eventually(communes_ranked, 90)
            rows = await communes_ranked()
    finally:
        await nc.close()

    assert sorted(r["unit"] for r in rows) == sorted(COMMUNES)
    assert all(r["responses"] == 25 for r in rows)
    assert all(r["sipas"]["sufficient"] for r in rows)
    assert all(r["rank"] is not None for r in rows)
    assert min(r["rank"] for r in rows) == 1
