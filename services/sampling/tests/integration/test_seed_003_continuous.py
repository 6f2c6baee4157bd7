"""Seed 003 (Đồng Nai 2025) end to end: 10,000 forms in proportion to dossier counts,
decisions on each completed dossier, invitations through real Zalo ZNS / eSMS / SMTP
protocols (local servers playing the gateways), fallback, reminders, answers, lapses and
crypto-shredding when fieldwork closes."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from pathlib import Path

import pytest

import sipas_contracts
from sipas_contracts.testing import response
from sipas_sampling.campaigns import shipped_campaign, shipped_path
from sipas_sampling.domain.continuous import verify_decision

pytestmark = [pytest.mark.nats, pytest.mark.mongo, pytest.mark.slow]
CAMPAIGN = "dn-2025"
UNIT = "dn-so-tu-phap"
HIERARCHY = Path(sipas_contracts.__file__).parent / "provinces" / "dong-nai-example.yaml"
LATE = datetime(2025, 12, 31, 2, tzinfo=UTC)  # little time left: every reachable dossier is drawn
VN = timezone(timedelta(hours=7))


def next_morning() -> datetime:
    """The next 10:00 in Vietnam (outside the campaign's quiet hours), as the dispatcher's clock."""
    local = datetime.now(VN)
    morning = local.replace(hour=10, minute=0, second=0, microsecond=0)
    return (morning if morning > local else morning + timedelta(days=1)).astimezone(UTC)


def contact(i: int) -> dict[str, str]:
    return [
        {"phone": f"091{i:07d}", "email": f"a{i}@example.vn"},
        {"phone": f"092{i:07d}"},  # not on Zalo -> SMS
        {"email": f"c{i}@example.vn"},  # e-mail only
        {"phone": f"093{i:07d}"},
        {"phone": f"094{i:07d}"},  # not on Zalo, SMS blocked, no e-mail -> undeliverable
    ][i % 5]


def gateway(path: str, body: dict, default) -> dict:
    phone = body.get("phone") or body.get("Phone") or ""
    if "message/template" in path and phone.startswith(("8492", "8494")):
        return {"error": -118, "message": "Zalo account does not exist"}
    if "SendMultiple" in path and phone.startswith("094"):
        return {"CodeResult": "99", "ErrorMessage": "number blocked"}
    return default(path, body)


async def test_seed_003_allocates_10000_in_proportion_and_invites_through_every_channel(
    tools, harness
):
    with (
        tools.http_gateway(lambda p, b: gateway(p, b, tools.default_answer)) as (url, requests),
        tools.smtp_server() as (smtp_port, mailbox),
    ):
        h = await harness(
            campaign_files=str(shipped_path("dong-nai-2025")),
            campaign_as_of="2025-01-01",  # the plan as written
            hierarchy_file=HIERARCHY,
            dev_outbox=False,
            esms_url=url,
            esms_api_key="K",
            esms_secret_key="S",
            esms_brandname="SONOIVU-DN",
            zalo_url=url,
            zalo_oauth_url=url,
            zalo_app_id="app",
            zalo_app_secret="sk",
            zalo_access_token="AT0",
            zalo_refresh_token="RT0",
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_starttls=False,
            smtp_sender="khaosat@snv.dongnai.gov.vn",
        )
        morning = next_morning()
        h.sampling.dispatcher.clock = lambda: morning

        plan = (
            await h.http.get(f"/v1/campaigns/{CAMPAIGN}", headers=tools.auth("observer"))
        ).json()
        quotas = {u["unit"]: u["quota"] for u in plan["units"]}
        basis = shipped_campaign("dong-nai-2025").allocation.proportional.basis
        assert plan["total_quota"] == 10_000
        assert set(quotas) == set(basis)
        lifted = {u for u, q in quotas.items() if q == 30}
        share = (10_000 - 30 * len(lifted)) / sum(b for u, b in basis.items() if u not in lifted)
        for unit, quota in quotas.items():
            assert quota >= 30
            if unit not in lifted:
                assert abs(quota - share * basis[unit]) < 1, unit

        events = [
            tools.completed(i, UNIT, delivered_at=LATE, contact=contact(i)) for i in range(200)
        ]
        await h.publish(events)
        await h.eventually(lambda: len(h.sent) == 200)
        assert {e.channel for e in h.sent} == {"zalo", "email"}

        async def settled() -> bool:
            states = [d["state"] for d in await h.sampling.stores.invitations.by_campaign(CAMPAIGN)]
            return len(states) == len(events) and all(
                s in {"sent", "undeliverable"} for s in states
            )

        await h.eventually(settled)
        docs = {
            d["dossier_id"]: d for d in await h.sampling.stores.invitations.by_campaign(CAMPAIGN)
        }
        for i, event in enumerate(events):
            doc = docs[event.dossier_id]
            used = [a["channel"] for a in doc["attempts"]]
            expected = [["zalo"], ["zalo", "sms"], ["email"], ["zalo"], ["zalo", "sms"]][i % 5]
            assert used == expected, (i, doc["attempts"])
            assert doc["state"] == ("undeliverable" if i % 5 == 4 else "sent")

        zns = [r for r in requests if r["path"] == "/message/template"]
        assert zns[0]["headers"]["access_token"] == "AT0"
        assert zns[0]["body"]["template_id"] == "352468"
        assert zns[0]["body"]["phone"].startswith("84")
        assert zns[0]["body"]["template_data"]["can_bo"] == "Trần Thị C"
        assert zns[0]["body"]["template_data"]["link"].startswith("https://ks.example.gov.vn/s/")
        sms = [r["body"] for r in requests if "SendMultiple" in r["path"]]
        assert len(sms) == 80
        assert all(b["Content"].isascii() and len(b["Content"]) <= 160 for b in sms)
        assert len(mailbox.messages) == 40
        mail = email.message_from_bytes(mailbox.messages[0].content, policy=policy.default)
        assert "Sở Tư pháp" in mail["Subject"]
        assert "https://ks.example.gov.vn/s/" in mail.get_body(("plain",)).get_content()

        progress = {
            u["unit"]: u
            for u in (
                await h.http.get(f"/v1/campaigns/{CAMPAIGN}", headers=tools.auth("operator"))
            ).json()["units"]
        }
        assert progress[UNIT]["reserved"] == 160  # 40 undeliverable released their slots

        log = (
            await h.http.get(f"/v1/campaigns/{CAMPAIGN}/decisions", headers=tools.auth("observer"))
        ).json()
        assert len(log["decisions"]) == 200
        assert all(
            verify_decision(log["seed"], d, v, r, o) == "" for d, _, v, r, o in log["decisions"]
        )

        # reminders after 3 days: attempt 2 through the channel that worked
        h.sampling.dispatcher.clock = lambda: morning + timedelta(days=3, minutes=5)
        while await h.sampling.dispatcher.run_once():
            pass
        await h.eventually(lambda: sum(e.attempt == 2 for e in h.sent) == 160)
        await h.eventually(lambda: len(mailbox.messages) == 80)  # sent after the event

        # ten people answer; then the rest lapse when their tokens expire
        answered = [d for d in docs.values() if d["state"] == "sent"][:10]
        await h.publish(
            [response(invitation_id=d["_id"], campaign_id=CAMPAIGN, unit=UNIT) for d in answered]
        )
        await h.eventually(lambda: _unit(h, "answered", 10))
        h.sampling.maintenance.clock = lambda: datetime.now(UTC) + timedelta(days=15, hours=2)
        assert await h.sampling.maintenance.lapse() == 150
        assert await _unit(h, "reserved", 10)

        closed = await h.http.post(
            f"/v1/campaigns/{CAMPAIGN}/close", headers=tools.auth("operator")
        )
        assert closed.status_code == 200
        remaining = await h.sampling.stores.invitations.by_campaign(CAMPAIGN)
        assert not any("contact" in d or "token" in d for d in remaining)
        assert await h.sampling.stores.campaigns.key(CAMPAIGN) is None


async def _unit(h, field: str, value: int) -> bool:
    table = await h.sampling.stores.decisions.quota_table(CAMPAIGN)
    return next(d for d in table if d["unit"] == UNIT)[field] == value
