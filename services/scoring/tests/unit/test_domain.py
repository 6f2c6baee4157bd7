from __future__ import annotations

from fractions import Fraction

import pytest

from sipas_scoring.domain.counting import fold
from sipas_scoring.domain.indices import Rules, compute_index, mean_score_figure, share_figure
from sipas_scoring.domain.stats import round_half_up
from sipas_scoring.testing import C1001, C2640, answers_for, resp, tally_of


def item_counts(**levels: int) -> dict[str, int]:
    return {("na" if k == "na" else k.removeprefix("l")): v for k, v in levels.items()}


def test_item_index_is_the_share_of_levels_4_and_5_among_valid_answers():
    counts = item_counts(l5=3, l4=3, l3=2, l1=2, na=5)

    figure = share_figure(C2640.items["C01"], C2640.scales["satisfaction_5"], counts, Rules())

    assert figure.value == 60
    assert figure.n == 10
    assert figure.sufficient


def test_not_applicable_and_blank_answers_never_count():
    with_na = tally_of(C2640, [{"C01": 5}, {"C01": "na"}, {"C02": 1}, {"C01": 2}])

    index = compute_index(C2640, with_na, Rules(n_min_item=1, n_min_unit=1))

    assert index.items["C01"].value == 50
    assert index.items["C01"].n == 2


def test_below_n_min_an_item_is_marked_insufficient_and_left_out_of_the_element():
    tally = tally_of(C2640, [{"C01": 5, "C02": 1}] * 12 + [{"C01": 5}] * 3)

    index = compute_index(C2640, tally, Rules(n_min_item=13, n_min_unit=1))

    assert index.items["C01"].sufficient
    assert not index.items["C02"].sufficient
    assert index.elements["E1"].value == 100
    assert index.elements["E1"].basis == ("C01",)


def test_mean_score_switch_is_100_times_mean_minus_1_over_4_from_the_same_counts():
    counts = item_counts(l5=2, l4=1, l1=1, na=7)

    figure = mean_score_figure(C2640.scales["satisfaction_5"], counts, Rules())

    # mean = (10 + 4 + 1) / 4 = 3.75 -> 100 * 2.75 / 4 = 68.75
    assert figure.value == Fraction(6875, 100)
    assert figure.low is not None
    assert figure.high is not None
    assert figure.low < 68.75 < figure.high


def test_2640_published_element_indices_give_the_published_sipas_84_45():
    # SIPAS 2019 (methodology §3.2): elements 86.48, 86.54, 85.62, 88.56, 75.05 -> 84.45
    # under the 2640 mean-of-elements rule. 10,000 constructed respondents.
    targets = {"E1": 8648, "E2": 8654, "E3": 8562, "E4": 8856, "E5": 7505}
    events = []
    for r in range(10_000):
        answers = {
            item: (5 if r < target else 2)
            for element_id, target in targets.items()
            for item in C2640.elements[element_id].items
        }
        events.append((r + 1, resp(answers)))

    (tally,) = fold(events).values()
    index = compute_index(C2640, tally, Rules())

    assert [index.elements[e].display for e in targets] == [
        "86.48",
        "86.54",
        "85.62",
        "88.56",
        "75.05",
    ]
    assert index.sipas.value == Fraction(8445, 100)
    assert index.sipas.display == "84.45"
    assert index.sipas.n == 10_000
    assert index.complete


def test_1001_sipas_of_a_service_only_survey_is_labelled_with_the_aspect_it_used():
    answers = answers_for(C1001, "na") | dict.fromkeys(
        [i for e in C1001.aspects["HL.DV"].elements for i in C1001.elements[e].items], 4
    )
    tally = tally_of(C1001, [answers] * 40)

    index = compute_index(C1001, tally, Rules())

    assert index.aspects["HL.CS"].value is None
    assert index.sipas.value == 100
    assert index.sipas.basis == ("HL.DV",)
    assert not index.complete


def test_a_campaign_can_restrict_sipas_to_the_components_it_asks():
    answers = answers_for(C1001, 5)
    answers.update(dict.fromkeys(C1001.elements["HL.CS.A"].items, 1))
    tally = tally_of(C1001, [answers] * 40)

    both = compute_index(C1001, tally, Rules())
    service_only = compute_index(C1001, tally, Rules(components=("HL.DV",)))

    assert both.sipas.value is not None
    assert both.sipas.value < 100
    assert service_only.sipas.value == 100
    assert service_only.sipas.basis == ("HL.DV",)


def test_sipas_needs_n_min_unit_respondents_to_be_sufficient():
    tally = tally_of(C2640, [answers_for(C2640, 5)] * 29)

    index = compute_index(C2640, tally, Rules(n_min_item=10, n_min_unit=30))

    assert index.sipas.value == 100
    assert not index.sipas.sufficient
    assert index.sipas.n == 29


def test_interval_of_a_mean_is_the_mean_of_its_parts_bounds():
    tally = tally_of(C2640, [{"C01": 5, "C02": 1}] * 10 + [{"C01": 1, "C02": 5}] * 30)

    index = compute_index(C2640, tally, Rules())

    c01, c02, e1 = index.items["C01"], index.items["C02"], index.elements["E1"]
    assert e1.value == 50
    assert e1.low == pytest.approx((c01.low + c02.low) / 2)
    assert e1.high == pytest.approx((c01.high + c02.high) / 2)
    assert e1.n == 40


def test_perception_index_is_the_share_of_the_favourable_option():
    tally = tally_of(C2640, [{"ND.EXTRA_PAY": 2}] * 9 + [{"ND.EXTRA_PAY": 1}])

    index = compute_index(C2640, tally, Rules())

    assert index.perception["ND.EXTRA_PAY"].value == 90


def test_expectation_index_is_the_share_of_the_two_highest_levels():
    tally = tally_of(C1001, [{"NC.1": 4}, {"NC.1": 3}, {"NC.1": 2}, {"NC.1": 1}])

    index = compute_index(C1001, tally, Rules(n_min_item=1))

    assert index.expectation["NC.1"].value == 50


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Fraction(84445, 1000), "84.45"),
        (Fraction(84444999, 1000000), "84.44"),
        (Fraction(8445, 100), "84.45"),
        (Fraction(2, 3) * 100, "66.67"),
        (Fraction(1, 200), "0.01"),
        (Fraction(100), "100.00"),
        (Fraction(-1, 200), "-0.01"),
    ],
)
def test_display_rounds_half_up_on_the_exact_value(value, shown):
    assert round_half_up(value) == shown


@pytest.mark.parametrize(
    ("reply", "seq"),
    [
        ("$JS.ACK.SIPAS_RESPONSES.scoring-rebuild.1.4711.3.1700000000000000000.0", 4711),
        ("$JS.ACK.hub.ACCHASH.SIPAS_RESPONSES.c.1.42.7.1700000000000000000.0.tok", 42),
    ],
)
def test_the_rebuild_reads_the_stream_sequence_from_both_ack_subject_forms(reply, seq):
    from sipas_scoring.rebuild import stream_sequence

    assert stream_sequence(reply) == seq


def test_index_subjects_keep_the_campaign_figure_apart_from_calendar_periods():
    from sipas_contracts import subjects

    assert subjects.index_updated("c2026", "ht") == "sipas.index.updated.c2026.ht"
    assert subjects.index_updated("c2026", "ht", "campaign") == "sipas.index.updated.c2026.ht"
    assert (
        subjects.index_updated("c2026", "ht", "2026-Q4") == "sipas.index.updated.c2026.ht.2026-Q4"
    )
    with pytest.raises(subjects.SubjectError, match="period"):
        subjects.index_updated("c2026", "ht", "2026.11")
