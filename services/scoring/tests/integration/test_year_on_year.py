"""Year-on-year comparison across the 2025 reorganisation, through the succession map."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sipas_scoring.testing import C2640, answers_for, resp

pytestmark = [pytest.mark.nats, pytest.mark.mongo]

HIERARCHY = """
province: p
units:
  - {code: p, name_vi: "Tỉnh Thử", kind: province, valid_from: 2015-01-01}
  - {code: d, name_vi: "Huyện Cũ", kind: district, valid_from: 2015-01-01, valid_to: 2025-07-01}
  - {code: xa-a, name_vi: "Xã A", kind: commune, valid_from: 2015-01-01, valid_to: 2025-07-01}
  - {code: xa-b, name_vi: "Xã B", kind: commune, valid_from: 2015-01-01, valid_to: 2025-07-01}
  - {code: xa-c, name_vi: "Xã C (hợp nhất A, B)", kind: commune, valid_from: 2025-07-01}
  - {code: xa-k, name_vi: "Xã K", kind: commune, valid_from: 2015-01-01}
links:
  - {child: d, parent: p, valid_from: 2015-01-01, valid_to: 2025-07-01}
  - {child: xa-a, parent: d, valid_from: 2015-01-01, valid_to: 2025-07-01}
  - {child: xa-b, parent: d, valid_from: 2015-01-01, valid_to: 2025-07-01}
  - {child: xa-k, parent: d, valid_from: 2015-01-01, valid_to: 2025-07-01}
  - {child: xa-k, parent: p, valid_from: 2025-07-01}
  - {child: xa-c, parent: p, valid_from: 2025-07-01}
successions:
  - {predecessor: xa-a, successor: xa-c, effective: 2025-07-01}
  - {predecessor: xa-b, successor: xa-c, effective: 2025-07-01}
"""
IN_2024 = datetime(2024, 10, 1, 3, tzinfo=UTC)
IN_2026 = datetime(2026, 10, 1, 3, tzinfo=UTC)


def answered(campaign: str, unit: str, level: int, at: datetime):
    return resp(answers_for(C2640, level), campaign_id=campaign, unit=unit, occurred_at=at)


async def test_merged_communes_are_compared_with_their_predecessors_history(
    settings, make_harness, wait, tmp_path: Path
):
    path = tmp_path / "province.yaml"
    path.write_text(HIERARCHY, encoding="utf-8")
    harness = await make_harness(settings.model_copy(update={"hierarchy_file": path}))
    before = [answered("c2024", "xa-a", 5, IN_2024) for _ in range(3)]
    before += [answered("c2024", "xa-b", 1, IN_2024) for _ in range(3)]
    before += [answered("c2024", "xa-k", 4, IN_2024) for _ in range(3)]
    now = [answered("c2026", "xa-c", 5, IN_2026) for _ in range(3)]
    now += [answered("c2026", "xa-k", lv, IN_2026) for lv in (5, 5, 1)]
    await harness.publish(*before)
    await harness.http.put("/v1/campaigns/c2026/profile", json={"previous_campaign": "c2024"})
    seqs = await harness.publish(*now)
    await wait(lambda: (harness.latest("c2026", "p") or {}).get("version") == seqs[-1])
    # xa-c's own figure is published in a leaf round, apart from the roll-up's.
    await wait(lambda: (harness.latest("c2026", "xa-c") or {}).get("version", 0) >= seqs[2])

    table = (await harness.http.get("/v1/indices", params={"campaign": "c2026"})).json()

    rows = {r["unit"]: r for r in table["rows"]}
    merged = rows["xa-c"]
    assert merged["previous"]["value"] == 50  # xa-a + xa-b counts of 2024: 3 of 6
    assert merged["previous_rank"] == 2
    assert merged["rank"] == 1
    assert merged["rank_change"] == 1
    assert rows["xa-k"]["rank_change"] == -1
    assert "d" not in rows  # no district level on the 2026 hierarchy date
    assert table["compared_with"] == {"campaign_id": "c2024", "period": "campaign"}
    event = harness.latest("c2026", "xa-c")
    assert event["previous_campaign"] == "c2024"
    assert event["previous"]["value"] == 50
    old = (await harness.http.get("/v1/indices", params={"campaign": "c2024"})).json()
    assert {r["unit"] for r in old["rows"]} == {"xa-a", "xa-b", "xa-k", "d", "p"}
