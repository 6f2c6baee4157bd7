"""A unit nobody can be told about still gets its cases; the API and a metric say so."""

from __future__ import annotations

import pytest
import yaml

from sipas_contracts.testing import response

pytestmark = [pytest.mark.nats, pytest.mark.mongo]


@pytest.fixture
def settings(settings, tmp_path):
    """The shared policy without its default contacts: only Cổ Đạm has someone to tell."""
    policy = yaml.safe_load(settings.policy_file.read_text(encoding="utf-8"))
    policy["routing"]["default"] = []
    path = tmp_path / "policy-without-default.yaml"
    path.write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    return settings.model_copy(update={"policy_file": path})


async def test_a_unit_without_contact_gets_its_case_flagged_and_counted(harness):
    await harness.publish(response(unit="ht-nx-xuan-hoi", answers={"HL.DV.E1.1": 1}))
    await harness.publish(response(unit="ht-nx-co-dam", answers={"HL.DV.E1.1": 1}))

    async def both() -> dict[str, dict]:
        answer = await harness.get("/v1/cases", "snv")
        found = {c["unit"]: c for c in answer.json()["items"]}
        return found if len(found) == 2 else {}

    found = await harness.eventually(both)
    assert found["ht-nx-xuan-hoi"]["unit_has_contact"] is False
    assert found["ht-nx-co-dam"]["unit_has_contact"] is True
    own = await harness.get("/v1/cases", "handler-xuan-hoi")
    assert [c["unit"] for c in own.json()["items"]] == ["ht-nx-xuan-hoi"]
    detail = await harness.get(f"/v1/cases/{found['ht-nx-xuan-hoi']['case_id']}", "snv")
    assert detail.json()["notifications"] == []
    assert detail.json()["unit_has_contact"] is False
    registry = harness.service.runtime.registry
    name = "sipas_alerts_cases_opened_without_contact_total"
    assert registry.get_sample_value(name, {"unit": "ht-nx-xuan-hoi"}) == 1
    assert registry.get_sample_value(name, {"unit": "ht-nx-co-dam"}) is None
