"""A proportional batch draw through the API: a unit the basis leaves out still takes what the
others cannot, and a floor the population cannot honour is refused, not a server error."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from sipas_contracts.units import load_sample_hierarchy

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
COMMUNES = load_sample_hierarchy().leaves("ht-nx", date(2020, 6, 1))
WHEN = datetime(2020, 5, 4, 3, tzinfo=UTC)


def campaign(campaign_id: str, proportional: dict, total: int) -> dict:
    return {
        "id": campaign_id,
        "name_vi": "Khảo sát phân bổ tỷ lệ",
        "instrument_id": "sipas-2640-2017",
        "mode": "batch",
        "seed": f"{campaign_id}/seed",
        "window": {"start": "2020-05-01", "end": "2020-05-31"},
        "scope": {"units": list(COMMUNES[:2])},
        "sample_size": {"total": total},
        "allocation": {"proportional": proportional},
        "channels": ["enumerator"],
    }


async def test_a_proportional_draw_places_the_total_or_says_why_it_cannot(tools, harness):
    h = await harness()
    left_out = campaign("pp-left-out", {"basis": {COMMUNES[0]: 100}}, total=20)
    too_high = campaign("pp-floor", {"floor": 15}, total=12)
    for document in (left_out, too_high):
        saved = await h.http.post("/v1/campaigns", json=document, headers=tools.auth("operator"))
        assert saved.status_code == 200, saved.text
    events = [tools.completed(i, COMMUNES[0], delivered_at=WHEN) for i in range(5)]
    events += [tools.completed(100 + i, COMMUNES[1], delivered_at=WHEN) for i in range(30)]
    await h.publish(events)

    async def seen() -> bool:
        counts = await h.sampling.stores.population.counts("pp-floor")
        return counts.get("eligible") == len(events)

    await h.eventually(seen)
    drawn = await h.http.post("/v1/campaigns/pp-left-out/draw", headers=tools.auth("operator"))
    refused = await h.http.post("/v1/campaigns/pp-floor/draw", headers=tools.auth("operator"))

    assert drawn.status_code == 201, drawn.text
    assert drawn.json()["official"] == 20
    assert drawn.json()["shortfall"] == 0

    def drawn_units() -> list[str]:
        return [e.unit for e in h.sent if e.campaign_id == "pp-left-out"]

    await h.eventually(lambda: len(drawn_units()) == 20)
    assert drawn_units().count(COMMUNES[0]) == 5  # all it has: its share would be the 20
    assert refused.status_code == 409, refused.text
    assert "allocation.proportional.floor" in refused.json()["detail"]
