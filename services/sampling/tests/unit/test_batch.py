from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from sipas_sampling.campaigns import shipped_campaign
from sipas_sampling.domain.audit import chain, next_substitute, verify_export
from sipas_sampling.domain.batch import lists_document, normalise, order, run_draw
from sipas_sampling.domain.campaign import Allocation, SampleSize
from sipas_sampling.domain.continuous import draw

PLAN = shipped_campaign("ha-tinh-nghi-xuan-2020")


def population(organisations_in_first: int = 40) -> dict:
    units = [f"u{i:02d}" for i in range(17)]
    return normalise(
        {
            u: {
                "individual": [f"{u}-I{j:03d}" for j in range(60)],
                "organisation": [
                    f"{u}-O{j:03d}" for j in range(organisations_in_first if i == 0 else 40)
                ],
            }
            for i, u in enumerate(units)
        }
    )


def export(pop: dict, substitutions: list | None = None) -> dict:
    result = run_draw(PLAN.seed, pop, PLAN.allocation, PLAN.sample_size, PLAN.reserve)
    return {
        "campaign": PLAN.model_dump(mode="json"),
        "population": pop,
        "lists": lists_document(PLAN.id, PLAN.seed, pop, result),
        "substitutions": substitutions or [],
    }


def test_seed_002_draws_425_official_with_transfers_where_organisations_are_few():
    pop = population(organisations_in_first=4)

    result = run_draw(PLAN.seed, pop, PLAN.allocation, PLAN.sample_size, PLAN.reserve)

    assert result.official_count() == 425
    assert result.quotas["u00"] == {"individual": 21, "organisation": 4}
    assert result.transfers["u00"] == {"individual": 6}
    assert len(result.lists["u00"]["individual"]["reserve"]) == 11  # ceil(21 × 0.5)
    assert result.lists["u00"]["organisation"]["reserve"] == []


def test_each_stratum_is_taken_in_hash_order():
    pop = population()

    result = run_draw(PLAN.seed, pop, PLAN.allocation, PLAN.sample_size, PLAN.reserve)

    ranked = sorted(pop["u05"]["individual"], key=lambda d: (draw(PLAN.seed, d), d))
    assert result.lists["u05"]["individual"]["official"] == ranked[:15]
    assert result.lists["u05"]["individual"]["reserve"] == ranked[15:23]


@settings(max_examples=25)
@given(ids=st.lists(st.from_regex(r"D[0-9]{1,6}", fullmatch=True), unique=True, max_size=80))
def test_the_order_does_not_depend_on_how_the_snapshot_was_listed(ids):
    assert order("s", ids) == order("s", list(reversed(ids)))


def test_an_honest_draw_verifies():
    report = verify_export(export(population()))

    assert report.ok, report.problems
    assert report.official == 425


def test_a_tampered_list_is_detected_and_located():
    document = export(population())
    forged = copy.deepcopy(document)
    official = forged["lists"]["lists"]["u03"]["individual"]["official"]
    official[2] = forged["lists"]["lists"]["u03"]["individual"]["reserve"][0]

    report = verify_export(forged)

    assert not report.ok
    assert "lists.u03.individual.official[2]" in report.problems[0]


def test_a_changed_population_breaks_the_recorded_digest():
    document = export(population())
    document["population"]["u01"]["individual"].append("u01-I999")

    assert any("does not match the digest" in p for p in verify_export(document).problems)


def test_substitutions_take_the_next_reserve_and_the_log_is_tamper_evident():
    document = export(population(organisations_in_first=12))
    strata = document["lists"]["lists"]["u00"]
    used = {d for s in strata.values() for d in s["official"]}
    entries = []
    for replaced in strata["organisation"]["official"][:3]:
        substitute, kind = next_substitute(strata, "organisation", used, transfer=True)
        used.add(substitute)
        entries.append(
            {
                "unit": "u00",
                "kind": "organisation",
                "replaced": replaced,
                "substitute": substitute,
                "substitute_kind": kind,
                "reason": "refused",
            }
        )
    document["substitutions"] = chain(entries)

    assert verify_export(document).ok
    assert entries[-1]["substitute_kind"] == "individual"  # 2 organisation reserves, then transfer

    document["substitutions"][1]["reason"] = "unreachable"
    assert "hash chain broken" in verify_export(document).problems[0]


def test_a_substitute_out_of_order_is_caught():
    document = export(population())
    strata = document["lists"]["lists"]["u02"]
    skipped = strata["individual"]["reserve"][1]
    document["substitutions"] = chain(
        [
            {
                "unit": "u02",
                "kind": "individual",
                "replaced": strata["individual"]["official"][0],
                "substitute": skipped,
                "substitute_kind": "individual",
                "reason": "refused",
            }
        ]
    )

    assert "is not the next reserve in order" in verify_export(document).problems[0]


def test_a_batch_basis_that_leaves_out_a_unit_still_draws_the_whole_total():
    allocation = Allocation.model_validate({"proportional": {"basis": {"u00": 100}}})
    pop = normalise(
        {
            "u00": {"individual": [f"A{j:02d}" for j in range(5)]},
            "u01": {"individual": [f"B{j:02d}" for j in range(30)]},
        }
    )

    result = run_draw("s", pop, allocation, SampleSize(total=20), PLAN.reserve)

    assert result.official_count() == 20
    assert result.quotas["u00"]["individual"] == 5
    assert result.quotas["u01"]["individual"] == 15
    assert result.shortfall == 0


def test_a_population_smaller_than_the_total_is_taken_whole_and_the_shortfall_reported():
    allocation = Allocation.model_validate({"proportional": {"floor": 2}})
    pop = normalise({"u00": {"individual": ["A1", "A2", "A3"], "organisation": ["O1"]}})

    result = run_draw("s", pop, allocation, SampleSize(total=10), PLAN.reserve)

    assert result.official_count() == 4
    assert result.shortfall == 6


def test_whether_an_entry_was_announced_is_not_covered_by_the_chain():
    document = export(population())
    strata = document["lists"]["lists"]["u04"]["individual"]
    entry = {
        "unit": "u04",
        "kind": "individual",
        "replaced": strata["official"][0],
        "substitute": strata["reserve"][0],
        "substitute_kind": "individual",
        "reason": "unreachable",
    }
    [chained] = chain([entry])

    document["substitutions"] = [{**chained, "announced": False}]
    written = verify_export(document)
    document["substitutions"] = [{**chained, "announced": True}]
    marked = verify_export(document)

    assert written.problems == marked.problems == []
