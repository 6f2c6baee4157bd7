from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipas_contracts.events import DossierCompleted
from sipas_intake.domain.dossiers import (
    PreparedDossier,
    construct_event,
    nest,
    parse_record,
    recheck,
)
from sipas_intake.domain.errors import DossierRejectedError

NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)


def test_a_record_becomes_a_prepared_event_with_the_unit_resolved(prepare_record):
    result = prepare_record()

    assert result.candidate.unit == "ht-nx-xuan-hoi"
    assert result.candidate.contact_channels == ["sms", "zalo"]
    assert result.warnings == []


def test_the_sealed_contact_holds_exactly_the_agreed_keys(prepare_record, unseal_contact):
    result = prepare_record(
        contact={
            "phone": "0237 3851 234 / 0987.654.321 / 0912345678",
            "email": "Nguoi.Dan@Example.VN",
            "zalo_id": "4421234567890123456",
            "name": "Nguyễn Văn An",
        }
    )

    sealed = unseal_contact(result.candidate.sealed_contact)

    assert sealed == {
        "phone": "0987654321",
        "phone_alternates": "0912345678",
        "email": "nguoi.dan@example.vn",
        "zalo_id": "4421234567890123456",
        "name": "Nguyễn Văn An",
    }
    assert result.candidate.contact_channels == ["sms", "zalo", "email"]


def test_no_contact_value_appears_in_clear_in_the_event(prepare_record):
    result = prepare_record(contact={"phone": "0912 345 678", "email": "a.b@example.vn"})

    text = result.candidate.model_dump_json()

    # Whole values only: short digit runs occur by chance in ids, hashes and the sealed blob.
    assert "912345678" not in text
    assert "0912 345 678" not in text
    assert "a.b@example" not in text


def test_a_landline_gives_no_channel_and_a_warning_without_the_number(prepare_record):
    result = prepare_record(contact={"phone": "0237 3851 234"})

    assert result.candidate.contact_channels == []
    assert result.candidate.sealed_contact is None
    assert result.warnings == [
        {
            "field": "contact.phone",
            "reason": "only a landline: it cannot receive SMS or Zalo",
            "code": "invalid",
        }
    ]


def test_a_bad_email_is_a_warning_not_a_rejection(prepare_record):
    result = prepare_record(contact={"email": "not-an-email"})

    assert result.candidate.contact_channels == []
    assert [w["field"] for w in result.warnings] == ["contact.email"]


def test_a_zalo_id_alone_opens_the_zalo_channel(prepare_record):
    assert prepare_record(contact={"zalo_id": "123456789"}).candidate.contact_channels == ["zalo"]


def test_the_name_is_sealed_only_with_a_usable_contact(prepare_record):
    result = prepare_record(contact={"name": "Công ty ABC"})

    assert result.candidate.sealed_contact is None


def test_an_address_is_sealed_with_the_name_for_visits_but_opens_no_channel(
    prepare_record, unseal_contact
):
    result = prepare_record(contact={"name": "Lê Thị Hoa", "address": "  Thôn 3,\n xã Xuân Hội  "})

    assert unseal_contact(result.candidate.sealed_contact) == {
        "address": "Thôn 3, xã Xuân Hội",
        "name": "Lê Thị Hoa",
    }
    assert result.candidate.contact_channels == []
    assert "Thôn 3" not in result.candidate.model_dump_json()


def test_the_same_applicant_gets_the_same_pseudonym_whatever_the_spelling_of_the_id(prepare_record):
    first = prepare_record(applicant_id="042090001234").candidate.applicant_pseudonym
    second = prepare_record(applicant_id=" 0420 9000 1234 ").candidate.applicant_pseudonym

    assert first == second


def test_without_an_id_number_the_mobile_identifies_the_applicant(prepare_record):
    by_phone = prepare_record(applicant_id=None, contact={"phone": "+84 912 345 678"})
    same = prepare_record(applicant_id=None, contact={"phone": "0912345678"})
    placeholder = prepare_record(applicant_id="000000001", contact={"phone": "0912345678"})

    assert by_phone.candidate.applicant_pseudonym == same.candidate.applicant_pseudonym
    assert placeholder.candidate.applicant_pseudonym == same.candidate.applicant_pseudonym


def test_the_fingerprint_changes_with_the_content_and_not_with_the_seal(prepare_record):
    assert prepare_record().fingerprint == prepare_record().fingerprint
    assert (
        prepare_record().fingerprint != prepare_record(contact={"phone": "0987654321"}).fingerprint
    )
    assert prepare_record().fingerprint != prepare_record(procedure_code="1.000001").fingerprint


def test_the_revision_is_part_of_the_event_id(prepare_record):
    result = prepare_record()

    first, second = result.finalise(1), result.finalise(2)

    assert (first.revision, second.revision) == (1, 2)
    assert first.event_id != second.event_id
    assert result.finalise(1).event_id == first.event_id


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"reception_point": "UBND xã Xuân Hội", "procedure_name": "Chứng thực", "due_at": None},
        {"contact": {"email": "a.b@example.vn", "zalo_id": "4421234567890123456"}},
        {"applicant_kind": "organisation", "contact": {}, "handling_officer": "Lê Thị Hoa"},
    ],
)
def test_the_event_built_without_validation_is_the_validated_one(prepare_record, overrides):
    event = prepare_record(**overrides).finalise(3)

    assert DossierCompleted.model_validate(event.model_dump()) == event
    assert DossierCompleted.model_validate_json(event.model_dump_json()) == event


def test_an_agency_code_is_tried_before_the_unit_name(prepare_record):
    with pytest.raises(DossierRejectedError) as info:
        prepare_record(unit="Xã Không Tồn Tại", agency_code="000.99.99.H42")

    assert info.value.errors[0]["field"] == "unit"
    assert "'000.99.99.H42' or 'Xã Không Tồn Tại'" in info.value.errors[0]["reason"]
    assert info.value.code == "unknown_unit"


def test_unit_or_agency_code_is_required():
    with pytest.raises(DossierRejectedError) as info:
        parse_record(
            {
                "dossier_id": "X-1",
                "procedure_code": "1",
                "applicant_kind": "individual",
                "submission_channel": "direct",
                "received_at": NOW.isoformat(),
                "delivered_at": NOW.isoformat(),
            }
        )

    assert info.value.errors[0]["reason"] == "unit or agency_code is required"


def test_dates_out_of_order_and_in_the_future_are_rejected_each_by_name(prepare_record):
    with pytest.raises(DossierRejectedError) as info:
        prepare_record(
            received_at=NOW,
            processed_at=NOW - timedelta(days=1),
            delivered_at=NOW + timedelta(days=1),
        )

    assert [(e["field"], e["code"]) for e in info.value.errors] == [
        ("processed_at", "date_order"),
        ("delivered_at", "future_date"),
    ]


def test_a_few_minutes_of_clock_skew_are_tolerated(prepare_record):
    assert prepare_record(delivered_at=NOW + timedelta(minutes=3)).candidate


def test_a_unit_closed_on_the_delivery_date_is_refused(prepare_record):
    with pytest.raises(DossierRejectedError, match="no unit valid on 2026"):
        prepare_record(unit="Huyện Nghi Xuân")


def test_a_prepared_record_from_the_raw_stream_is_checked_again(prepare_record, hierarchy):
    result = prepare_record()
    moved = PreparedDossier.model_validate(
        {**result.model_dump(mode="json"), "candidate": {
            **result.candidate.model_dump(mode="json"), "unit": "ht-nx"}}
    )  # fmt: skip

    recheck(result, hierarchy=hierarchy, now=NOW)
    with pytest.raises(DossierRejectedError, match="'ht-nx' is not valid on"):
        recheck(moved, hierarchy=hierarchy, now=NOW)


def test_generic_records_name_missing_and_wrong_fields():
    with pytest.raises(DossierRejectedError) as info:
        parse_record({"dossier_id": "X", "unit": "u", "applicant_kind": 7, "bogus": 1})

    fields = {e["field"]: e["code"] for e in info.value.errors}
    assert fields["procedure_code"] == "missing"
    assert fields["applicant_kind"] == "invalid"
    assert fields["bogus"] == "unexpected"


def test_spreadsheet_columns_with_dots_nest_and_blank_cells_are_absent():
    assert nest({"contact.phone": "0912", "unit": "", "x": None, "a": 1}) == {
        "contact": {"phone": "0912"},
        "a": 1,
    }


@given(
    document=st.dictionaries(st.text(max_size=20), st.one_of(st.none(), st.text(), st.integers()))
)
def test_any_json_object_is_accepted_or_rejected_with_field_errors(
    document, outcome, well_formed_errors
):
    result = outcome(lambda: parse_record(document))

    assert well_formed_errors(result) or result.dossier_id


def record(**fields):
    return {
        "dossier_id": "X-1",
        "unit": "ht-nx-xuan-hoi",
        "procedure_code": "1.001193",
        "applicant_kind": "individual",
        "submission_channel": "direct",
        "received_at": NOW.isoformat(),
        "delivered_at": NOW.isoformat(),
        **fields,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dossier_id", "H42-\x00-1"),
        ("dossier_id", "H42\r\n-1"),
        ("dossier_id", "H42-\u202e1-"),
        ("dossier_id", "H42\u200b-1"),
        ("procedure_code", "1.00\x071193"),
        ("handling_officer", "Trần\x1bThị C"),
    ],
)
def test_control_and_invisible_characters_are_refused_naming_the_field(field, value):
    with pytest.raises(DossierRejectedError) as info:
        parse_record(record(**{field: value}))

    assert info.value.errors[0]["field"] == field
    assert "control or invisible character" in info.value.errors[0]["reason"]


def test_decomposed_vietnamese_is_composed_in_every_field():
    decomposed = "Ho\u0302\u0300 so\u031b-Xa\u0303 Co\u0302\u0309 Đa\u0323m"

    parsed = parse_record(record(dossier_id=decomposed, procedure_name=decomposed))

    assert parsed.dossier_id == "Hồ sơ-Xã Cổ Đạm"
    assert parsed.procedure_name == "Hồ sơ-Xã Cổ Đạm"


def test_a_record_without_any_usable_contact_is_accepted_with_a_warning(prepare_record):
    result = prepare_record(contact={})

    assert result.candidate.contact_channels == []
    assert result.warnings == [
        {
            "field": "contact",
            "reason": "no mobile number, e-mail, Zalo id or address: the applicant cannot "
            "be invited",
            "code": "missing",
        }
    ]


def test_a_constructed_event_is_what_model_construct_would_build(prepare_record):
    event = prepare_record().finalise(2, sealed_contact="c2VhbGVk")
    given = {name: getattr(event, name) for name in event.model_fields_set}

    built = construct_event(**given)
    reference = DossierCompleted.model_construct(**given)

    assert built.model_dump_json() == reference.model_dump_json()
    assert list(built.__dict__) == list(reference.__dict__)
    assert built.model_fields_set == reference.model_fields_set
    assert built == reference


def test_an_event_cannot_be_constructed_without_a_required_field(prepare_record):
    given = dict(prepare_record().candidate.__dict__)
    del given["unit"]

    with pytest.raises(TypeError, match="unit"):
        construct_event(**given)
