from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from sipas_contracts import subjects
from sipas_contracts.events import EVENT_TYPES, DossierCompleted, any_event_adapter
from sipas_contracts.testing import dossier, response


def test_events_round_trip_through_json_unchanged():
    event = response(answers={"HL.DV.E1.1": 5, "HL.DV.E2.1": "na"}, sealed_comment="c2VhbGVk")

    decoded = any_event_adapter.validate_json(event.model_dump_json())

    assert decoded == event


def test_a_version_2_response_cannot_carry_its_comment_in_clear():
    with pytest.raises(ValidationError, match="comment: a version 2 response carries"):
        response(comment="Cán bộ Nguyễn Văn B, 0912345678")


def test_a_version_1_response_with_a_clear_comment_is_still_read():
    event = response(schema_version=1, comment="Tốt")

    assert any_event_adapter.validate_json(event.model_dump_json()).comment == "Tốt"


def test_events_are_frozen():
    event = dossier()

    with pytest.raises(ValidationError):
        event.unit = "other"  # type: ignore[misc]


def test_unknown_fields_are_rejected_by_name():
    payload = json.loads(dossier().model_dump_json())
    payload["phone"] = "0912345678"

    with pytest.raises(ValidationError, match="phone"):
        DossierCompleted.model_validate(payload)


def test_naive_timestamps_are_rejected():
    payload = json.loads(dossier().model_dump_json())
    payload["delivered_at"] = "2026-11-20T09:30:00"

    with pytest.raises(ValidationError, match="delivered_at"):
        DossierCompleted.model_validate(payload)


def test_unit_codes_must_be_subject_tokens():
    with pytest.raises(ValidationError, match="unit"):
        dossier(unit="000.22.31.H56")


@pytest.mark.parametrize("answer", [0, 100, "5", "n/a"])
def test_answers_are_codes_or_na(answer):
    with pytest.raises(ValidationError, match="answers"):
        response(answers={"HL.DV.E1.1": answer})


def test_response_events_carry_no_identity_fields():
    forbidden = {"phone", "email", "name", "zalo_id", "applicant_pseudonym", "dossier_id", "token"}

    fields = set(type(response()).model_fields)

    assert not fields & forbidden


def test_every_event_type_has_a_subject():
    for model in EVENT_TYPES:
        assert model.model_fields["event_type"].default


def test_subjects_carry_the_routing_keys():
    assert (
        subjects.for_event(dossier(unit="ht-nx-co-dam")) == "sipas.dossier.completed.ht-nx-co-dam"
    )
    assert subjects.index_updated("c2026", "ht") == "sipas.index.updated.c2026.ht"
    assert subjects.dead_letter("scoring") == "sipas.dlq.scoring"


@pytest.mark.parametrize("token", ["a.b", "a b", "*", ">", "", "x" * 65])
def test_subject_builders_refuse_tokens_that_would_change_routing(token):
    with pytest.raises(subjects.SubjectError):
        subjects.response_recorded(token)
