from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sipas_alerts.domain.comments import LexiconClassifier
from sipas_alerts.domain.policy import Policy, RuleSet
from sipas_alerts.domain.response_rules import Comment, evaluate_response
from sipas_contracts.instrument import load_catalogue
from sipas_contracts.testing import response

C1001 = load_catalogue("sipas-1001-2023")
C2640 = load_catalogue("sipas-2640-2017")
VN = ZoneInfo("Asia/Ho_Chi_Minh")
RULES = RuleSet()


def hits(event, catalogue=C1001, rules=RULES, comment=None):
    said = Comment(comment, f"sealed:{len(comment)}") if comment else None
    return evaluate_response(
        event, catalogue, rules, comment=said, classifier=LexiconClassifier(), tz=VN
    )


def by_rule(found):
    return {hit.rule: hit for hit in found}


def test_a_rating_of_one_raises_a_critical_alert_on_the_unit():
    event = response(unit="ht-nx-co-dam", answers={"HL.DV.E3.1": 1, "HL.DV.E1.1": 5})

    [hit] = hits(event)

    assert hit.rule == "low_rating"
    assert hit.unit == "ht-nx-co-dam"
    assert hit.severity == "critical"
    assert hit.details["items"] == "HL.DV.E3.1"
    assert hit.source_event_id == event.event_id


def test_a_rating_of_two_is_a_warning():
    [hit] = hits(response(answers={"HL.DV.E1.1": 2, "HL.DV.E1.2": 4}))

    assert hit.severity == "warning"
    assert hit.details == {
        "instrument_id": "sipas-1001-2023",
        "items": "HL.DV.E1.1",
        "lowest": 2,
        "count": 1,
    }


def test_ratings_of_three_or_more_and_not_applicable_raise_nothing():
    assert hits(response(answers={"HL.DV.E1.1": 3, "HL.DV.E1.2": "na"})) == []


def test_the_low_rating_threshold_is_configurable():
    strict = RuleSet.model_validate({"low_rating": {"max_level": 3}})

    [hit] = hits(response(answers={"HL.DV.E1.1": 3}), rules=strict)

    assert hit.rule == "low_rating"


def test_low_codes_on_perception_items_are_not_satisfaction_ratings():
    found = by_rule(hits(response(answers={"ND.1.1": 1, "NC.1": 1})))

    assert "low_rating" not in found


def test_reported_extra_payment_and_harassment_are_critical_on_1001():
    found = by_rule(hits(response(answers={"ND.6": 2, "ND.5": 3})))

    assert found["extra_payment"].severity == "critical"
    assert found["extra_payment"].summary_vi.endswith("Có một số người")
    assert found["harassment"].details["answer"] == 3
    assert found["harassment"].summary_en.endswith("Many")


def test_no_harassment_and_no_extra_payment_raise_nothing():
    assert hits(response(answers={"ND.6": 1, "ND.5": 1})) == []


def test_yes_is_the_unfavourable_answer_for_extra_payment_on_2640():
    found = by_rule(
        hits(
            response(instrument_id="sipas-2640-2017", answers={"ND.EXTRA_PAY": 1, "ND.HARASS": 2}),
            catalogue=C2640,
        )
    )

    assert set(found) == {"extra_payment"}


def test_three_or_more_trips_and_a_late_result_are_warnings():
    found = by_rule(hits(response(answers={"ND.X1": 3, "ND.X2": 2})))

    assert found["too_many_trips"].severity == "warning"
    assert found["late_result"].severity == "warning"
    assert hits(response(answers={"ND.X1": 2, "ND.X2": 1})) == []


def test_allowed_trips_can_be_stricter_per_campaign():
    policy = Policy.model_validate(
        {"campaigns": {"c2026": {"too_many_trips": {"flag_codes": [2, 3]}}}}
    )

    found = by_rule(hits(response(answers={"ND.X1": 2}), rules=policy.rules_for("c2026")))

    assert "too_many_trips" in found
    assert hits(response(answers={"ND.X1": 2}), rules=policy.rules_for("other")) == []


def test_a_negative_comment_is_kept_sealed_and_never_quoted():
    comment = "Cán bộ Trần Văn Bình hách dịch, gọi tôi 0912345678"

    [hit] = hits(response(answers={"HL.DV.E1.1": 4}), comment=comment)

    assert hit.rule == "negative_comment"
    assert hit.severity == "critical"
    assert hit.sealed_comment == f"sealed:{len(comment)}"
    for text in (hit.model_dump_json(), hit.event(hit.alert_id).model_dump_json()):
        assert "0912345678" not in text
        assert "Bình" not in text
    assert hit.summary_en == "Negative comment (keywords: hách dịch)"
    assert "sealed:" not in hit.event(hit.alert_id).model_dump_json()


def test_a_kind_comment_raises_nothing():
    assert hits(response(), comment="Cán bộ nhiệt tình, không gây phiền hà gì.") == []


def test_disabled_rules_stay_silent():
    rules = RuleSet.model_validate(
        {"low_rating": {"enabled": False}, "negative_comment": {"enabled": False}}
    )

    assert hits(response(answers={"HL.DV.E1.1": 1}), rules=rules, comment="rất tệ") == []


def test_hits_are_grouped_by_unit_rule_and_local_week():
    sunday_night_utc = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # Monday 01:00 in Hà Tĩnh

    [hit] = hits(
        response(unit="ht-nx-xuan-an", occurred_at=sunday_night_utc, answers={"HL.DV.E1.1": 1})
    )

    assert hit.window == "2026-W48"
    assert hit.group_key == "ht-nx-xuan-an|low_rating|2026-W48"


def test_the_alert_id_is_stable_for_the_same_response_and_rule():
    event = response(answers={"HL.DV.E1.1": 2})

    first, second = hits(event, comment="chờ quá lâu"), hits(event, comment="chờ quá lâu")

    assert [h.alert_id for h in first] == [h.alert_id for h in second]
    assert len({h.alert_id for h in first}) == 2


def test_the_sealed_callback_travels_with_the_hit_but_not_into_the_event():
    hit = hits(response(answers={"HL.DV.E1.1": 1}, sealed_callback="c2VhbGVk"))[0]

    event = hit.event(hit.alert_id)

    assert hit.sealed_callback == "c2VhbGVk"
    assert "c2VhbGVk" not in event.model_dump_json()
    assert event.case_id == hit.alert_id
