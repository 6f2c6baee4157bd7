"""Responses in, index-updated events out: the scoring service on real NATS and Mongo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sipas_scoring.testing import C2640, answers_for, resp

pytestmark = [pytest.mark.nats, pytest.mark.mongo]
AT = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def good(unit: str, **kw):
    return resp(answers_for(C2640, 5), unit=unit, occurred_at=AT, **kw)


def bad(unit: str, **kw):
    return resp(answers_for(C2640, 1), unit=unit, occurred_at=AT, **kw)


async def test_a_units_index_is_published_with_n_ci_and_the_sequence_it_counts(harness, wait):
    events = [good("ht-nx-co-dam") for _ in range(3)] + [bad("ht-nx-co-dam")]
    seqs = await harness.publish(*events)

    await wait(lambda: (harness.latest("c2026", "ht-nx-co-dam") or {}).get("version") == seqs[-1])

    latest = harness.latest("c2026", "ht-nx-co-dam")
    assert latest["responses"] == 4
    assert latest["sipas"]["value"] == pytest.approx(75.0)
    assert latest["sipas"]["n"] == 4
    assert latest["sipas"]["sufficient"]
    assert latest["sipas"]["ci_low"] < 75 < latest["sipas"]["ci_high"]
    assert latest["elements"]["E1"]["value"] == pytest.approx(75.0)
    assert latest["counts"]["C01"] == {"5": 3, "1": 1}
    assert latest["segments"]["individual"]["value"] == pytest.approx(75.0)
    assert latest["level"] == "commune"
    assert latest["modes"] == ["online", "face_to_face", "phone", "paper"]
    assert latest["basis"] == ["E1", "E2", "E3", "E4", "E5"]
    assert latest["schema_version"] == 2


async def test_roll_ups_and_calendar_periods_get_their_own_subjects(harness, wait):
    seqs = await harness.publish(good("ht-nx-co-dam"), bad("ht-nx-xuan-an"))

    await wait(lambda: (harness.latest("c2026", "ht") or {}).get("version") == seqs[-1])
    await wait(lambda: harness.latest("c2026", "ht-nx-co-dam", period="2026-11"))  # own round

    province = harness.latest("c2026", "ht")
    assert province["rollup"]
    assert province["level"] == "province"
    assert province["responses"] == 2
    assert province["sipas"]["value"] == pytest.approx(50.0)
    month = harness.latest("c2026", "ht-nx-co-dam", period="2026-11")
    assert month is not None
    assert month["responses"] == 1
    assert "sipas.index.updated.c2026.ht-nx-co-dam" in harness.index_subjects
    assert "sipas.index.updated.c2026.ht-nx-co-dam.2026-11" in harness.index_subjects


async def test_the_previous_months_figure_travels_with_this_months(harness, wait):
    earlier = AT - timedelta(days=31)
    await harness.publish(
        *[resp(answers_for(C2640, 5), unit="ht-nx-co-dam", occurred_at=earlier) for _ in range(3)]
    )
    seqs = await harness.publish(bad("ht-nx-co-dam"), bad("ht-nx-co-dam"), bad("ht-nx-co-dam"))

    await wait(
        lambda: (
            (harness.latest("c2026", "ht-nx-co-dam", "2026-11") or {}).get("version") == seqs[-1]
        )
    )

    november = harness.latest("c2026", "ht-nx-co-dam", "2026-11")
    assert november["sipas"]["value"] == 0
    assert november["previous_period"] == "2026-10"
    assert november["previous"]["value"] == 100
    assert november["previous"]["sufficient"]


async def test_kiosk_answers_are_kept_apart_from_the_sampled_index(harness, wait):
    seqs = await harness.publish(
        good("ht-nx-co-dam"),
        bad("ht-nx-co-dam", collection_mode="kiosk"),
        good("ht-nx-co-dam"),
        good("ht-nx-xuan-an"),
    )

    # Leaf and roll-up figures are published in separate rounds: wait for both.
    await wait(lambda: (harness.latest("c2026", "ht") or {}).get("version") == seqs[-1])
    await wait(lambda: (harness.latest("c2026", "ht-nx-co-dam") or {}).get("version", 0) >= seqs[2])

    co_dam = harness.latest("c2026", "ht-nx-co-dam")
    assert co_dam["responses"] == 2
    assert co_dam["sipas"]["value"] == 100
    assert "kiosk" not in co_dam["modes"]


async def test_a_burst_gives_a_bounded_number_of_updates(harness, wait):
    started = datetime.now(UTC)
    seqs = await harness.publish(*[good("ht-nx-co-dam") for _ in range(300)])

    await wait(lambda: (harness.latest("c2026", "ht-nx-co-dam") or {}).get("version") == seqs[-1])

    elapsed = (datetime.now(UTC) - started).total_seconds()
    updates = [
        e for e in harness.indexes if e["unit"] == "ht-nx-co-dam" and e["period"] == "campaign"
    ]
    interval = harness.scoring.settings.index_interval
    assert len(updates) <= elapsed / interval + 2
    assert len(updates) < 300
    assert harness.latest("c2026", "ht-nx-co-dam")["responses"] == 300


async def test_a_response_naming_an_unknown_item_is_dead_lettered_with_the_field(harness, wait):
    js = harness.nc.jetstream()
    await harness.publish(
        resp({"C99": 4}, unit="ht-nx-co-dam"), resp({"C01": 7}, unit="ht-nx-co-dam")
    )
    seqs = await harness.publish(good("ht-nx-co-dam"))

    await wait(lambda: (harness.latest("c2026", "ht-nx-co-dam") or {}).get("version") == seqs[-1])

    info = await js.stream_info("SIPAS_DLQ")
    reasons = [
        (await js.get_msg("SIPAS_DLQ", s)).headers["Sipas-Dlq-Reason"]
        for s in range(1, info.state.messages + 1)
    ]
    assert any("answers.C99" in r and "not an item of sipas-2640-2017" in r for r in reasons)
    assert any("answers.C01" in r for r in reasons)
    assert harness.latest("c2026", "ht-nx-co-dam")["responses"] == 1


async def test_of_two_instances_one_owns_the_counts_and_the_other_takes_over_when_it_stops(
    settings, make_harness, wait
):
    first = await make_harness(settings)
    second = await make_harness(settings)
    unit = "ht-nx-co-dam"

    seqs = await first.publish(good(unit), good(unit))
    await wait(lambda: (first.latest("c2026", unit) or {}).get("version") == seqs[-1])
    owner, standby = (first, second) if first.scoring.responses.owner else (second, first)
    assert not standby.scoring.responses.owner  # it waits: its pulls get nothing
    await owner.scoring.runtime.stop()  # a last checkpoint, then the durable is let go

    seqs = await standby.publish(good(unit))
    await wait(lambda: (standby.latest("c2026", unit) or {}).get("version") == seqs[-1], 30)
    assert standby.latest("c2026", unit)["responses"] == 3
    assert standby.scoring.responses.owner


async def test_metrics_give_every_unit_its_sipas_sufficiency_and_name(harness, wait):
    ranked_units = [good("ht-nx-co-dam") for _ in range(3)]
    seqs = await harness.publish(*ranked_units, good("ht-nx-xuan-an"), good("ht-nx-xuan-an"))
    await wait(lambda: (harness.latest("c2026", "ht") or {}).get("version") == seqs[-1])
    registry = harness.scoring.runtime.registry

    def sample(metric: str, **labels: str) -> float | None:
        return registry.get_sample_value(metric, labels)

    await wait(
        lambda: sample("sipas_scoring_sipas_percent", campaign="c2026", unit="ht") is not None
    )
    ranked = {"campaign": "c2026", "unit": "ht-nx-co-dam"}
    short = {"campaign": "c2026", "unit": "ht-nx-xuan-an"}  # 2 respondents < n_min_unit 3
    assert sample("sipas_scoring_sipas_percent", **ranked) == pytest.approx(100.0)
    assert sample("sipas_scoring_sipas_sufficient", **ranked) == 1
    assert sample("sipas_scoring_sipas_percent", **short) == pytest.approx(100.0)
    assert sample("sipas_scoring_sipas_sufficient", **short) == 0
    assert sample(
        "sipas_scoring_unit_info", unit="ht-nx-co-dam", name="Xã Cổ Đạm", tier="commune",
        parent="ht",
    ) == 1  # fmt: skip
