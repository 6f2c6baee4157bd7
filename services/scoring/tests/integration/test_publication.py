"""Publication: draft -> approved (four eyes) -> published; only published figures are public."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from sipas_runtime.audit import verify
from sipas_scoring.domain.publication import digest
from sipas_scoring.testing import C2640, answers_for, resp

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
AT = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def people(harness) -> tuple[dict[str, str], dict[str, str]]:
    """Two supervisors: Minh drafts, Lan approves (four eyes)."""
    minh = harness.ids.headers("supervisor", subject="minh", name="Lê Văn Minh")
    lan = harness.ids.headers("supervisor", subject="lan", name="Phạm Thị Lan")
    return minh, lan


async def seed(harness, wait, levels: list[int]) -> int:
    seqs = await harness.publish(
        *[resp(answers_for(C2640, lv), unit="ht-nx-co-dam", occurred_at=AT) for lv in levels]
    )
    await wait(lambda: (harness.latest("c2026", "ht") or {}).get("version") == seqs[-1])
    return seqs[-1]


async def test_figures_reach_the_public_only_once_published(harness, wait):
    through = await seed(harness, wait, [5, 5, 5, 1])
    http = harness.http
    MINH, LAN = people(harness)  # noqa: N806 - two people, named as in the story
    assert (await http.get("/v1/public/indices", params={"campaign": "c2026"})).status_code == 404

    draft = await http.post("/v1/publications", json={"campaign_id": "c2026"}, headers=MINH)
    assert draft.status_code == 201, draft.text
    record = draft.json()
    assert record["state"] == "draft"
    assert record["through_seq"] == through
    own = await http.post(f"/v1/publications/{record['id']}/approve", json={}, headers=MINH)
    assert own.status_code == 409
    assert "another person must approve" in own.json()["detail"]
    early = await http.post(f"/v1/publications/{record['id']}/publish", json={}, headers=LAN)
    assert early.status_code == 409
    assert (
        await http.post(f"/v1/publications/{record['id']}/approve", json={}, headers=LAN)
    ).json()["state"] == "approved"
    await seed(harness, wait, [1, 1, 1, 1])  # later responses do not change the frozen draft
    published = await http.post(
        f"/v1/publications/{record['id']}/publish", json={"note": "QĐ số 12"}, headers=MINH
    )

    assert published.json()["state"] == "published"
    assert [h["state"] for h in published.json()["history"]] == ["draft", "approved", "published"]
    public = (await http.get("/v1/public/indices", params={"campaign": "c2026"})).json()
    co_dam = next(r for r in public["rows"] if r["unit"] == "ht-nx-co-dam")
    assert co_dam["sipas"]["display"] == "75.00"
    assert public["publication"]["digest"] == record["digest"]
    full = (await http.get(f"/v1/publications/{record['id']}")).json()
    assert digest(full["snapshot"]) == record["digest"]
    live = (await http.get("/v1/indices")).json()
    assert (
        next(r for r in live["rows"] if r["unit"] == "ht-nx-co-dam")["sipas"]["display"] == "37.50"
    )


async def test_open_data_serves_the_published_snapshot_and_a_new_one_supersedes_it(harness, wait):
    await seed(harness, wait, [5, 5, 5, 1])
    http = harness.http
    MINH, LAN = people(harness)  # noqa: N806 - two people, named as in the story

    async def publish() -> dict:
        draft = (
            await http.post("/v1/publications", json={"campaign_id": "c2026"}, headers=MINH)
        ).json()
        await http.post(f"/v1/publications/{draft['id']}/approve", json={}, headers=LAN)
        return (
            await http.post(f"/v1/publications/{draft['id']}/publish", json={}, headers=LAN)
        ).json()

    first = await publish()
    await seed(harness, wait, [1, 1, 1, 1])
    second = await publish()

    listing = {p["id"]: p["state"] for p in (await http.get("/v1/publications")).json()}
    assert listing == {first["id"]: "superseded", second["id"]: "published"}
    answer = await http.get("/v1/public/open-data/c2026.csv")
    assert answer.headers["x-sipas-digest"] == second["digest"]
    lines = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert next(r for r in lines if r["unit"] == "ht-nx-co-dam")["sipas_display"] == "37.50"
    assert (await http.get("/v1/public/publications")).json()[0]["id"] == second["id"]
    document = (await http.get("/v1/public/open-data/c2026.json")).json()
    assert document["snapshot_sha256"] == second["digest"]
    assert document["licence"]["id"] == "CC-BY-4.0"
    book = load_workbook(io.BytesIO((await http.get("/v1/public/open-data/c2026.xlsx")).content))
    words = {row[0]: row for row in book["Từ điển dữ liệu"].iter_rows(values_only=True)}
    assert words["sipas_display"][1:] == ("SIPAS làm tròn", "SIPAS rounded", "number")
    assert words["element_E1"][1].startswith("Tiếp cận dịch vụ")
    about = {row[0]: row[1] for row in book["Thông tin"].iter_rows(values_only=True)}
    assert about["giấy phép / licence"] == document["licence"]["vi"]
    assert about["sha256"] == second["digest"]
    listed = (await http.get("/v1/public/open-data/dictionary")).json()
    assert {c["key"] for c in listed["columns"]} >= {"unit", "name", "sipas", "ci_low", "rank"}


async def test_routes_follow_roles_and_the_history_names_the_people(harness, wait):
    await seed(harness, wait, [5, 5, 5])
    http, ids = harness.http, harness.ids
    operator = ids.headers("operator", subject="minh", name="Lê Văn Minh")
    viewer, approver = ids.headers("viewer"), ids.headers("approver", subject="lan")

    anonymous = await http.get("/v1/indices", headers={"Authorization": ""})
    wrong = await http.get("/v1/indices", headers={"Authorization": "Bearer nope"})
    read = await http.get("/v1/indices", headers=viewer)
    refused = await http.post("/v1/publications", json={"campaign_id": "c2026"}, headers=viewer)
    draft = await http.post("/v1/publications", json={"campaign_id": "c2026"}, headers=operator)

    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="sipas"'
    assert wrong.status_code == 401
    assert read.status_code == 200
    assert refused.status_code == 403
    assert draft.json()["drafted_by"] == "minh"
    assert draft.json()["history"][0]["name"] == "Lê Văn Minh"
    publication = draft.json()["id"]
    operator_approves = await http.post(
        f"/v1/publications/{publication}/approve", json={}, headers=operator
    )
    assert operator_approves.status_code == 403  # approving is not an operator's role
    approved = await http.post(f"/v1/publications/{publication}/approve", json={}, headers=approver)
    assert approved.json()["history"][-1]["actor"] == "lan"
    log = harness.scoring.runtime.audit
    decisions = [(e.action, e.actor, e.target) for e in await log.entries()]
    assert decisions == [
        ("publication_drafted", "minh", publication),
        ("publication_approved", "lan", publication),
    ]
    assert verify(await log.entries(), await log.head()) == []
    assert (
        await http.get("/v1/public/publications", headers={"Authorization": ""})
    ).status_code == 200


async def test_the_publication_report_renders_with_its_state(harness, wait):
    await seed(harness, wait, [5, 5, 5, 1])
    draft = (await harness.http.post("/v1/publications", json={"campaign_id": "c2026"})).json()

    html = await harness.http.get(f"/v1/publications/{draft['id']}/report.html")

    assert html.status_code == 200
    assert "Dự thảo" in html.text
    assert "Xã Cổ Đạm" in html.text
    assert draft["digest"] in html.text
    assert (await harness.http.get("/v1/public/reports/c2026.html")).status_code == 404
