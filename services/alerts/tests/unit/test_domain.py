from __future__ import annotations

from sipas_alerts.domain import evaluate
from sipas_contracts.instrument import load_catalogue
from sipas_contracts.testing import response

CATALOGUE = load_catalogue("sipas-1001-2023")


def test_a_rating_of_one_raises_a_critical_alert_on_the_unit():
    event = response(unit="ht-nx-co-dam", answers={"HL.DV.E3.1": 1, "HL.DV.E1.1": 5})

    [alert] = evaluate(event, CATALOGUE, threshold=2)

    assert alert.unit == "ht-nx-co-dam"
    assert alert.severity == "critical"
    assert alert.details["items"] == "HL.DV.E3.1"


def test_ratings_of_three_or_more_raise_nothing():
    assert (
        evaluate(response(answers={"HL.DV.E1.1": 3, "HL.DV.E1.2": "na"}), CATALOGUE, threshold=2)
        == []
    )


def test_low_codes_on_non_satisfaction_items_are_not_ratings():
    assert evaluate(response(answers={"ND.5": 1, "NC.1": 1}), CATALOGUE, threshold=2) == []


def test_the_alert_id_is_stable_for_the_same_response():
    event = response(answers={"HL.DV.E1.1": 2})

    assert (
        evaluate(event, CATALOGUE, threshold=2)[0].alert_id
        == evaluate(event, CATALOGUE, threshold=2)[0].alert_id
    )
