from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sipas_contracts.ids import uuid7
from sipas_contracts.instrument import load_catalogue
from sipas_contracts.units import load_sample_hierarchy
from sipas_intake.domain import (
    DossierRecord,
    DossierRejectedError,
    ResponseRejectedError,
    ResponseSubmission,
    TokenGrant,
    contact_channels,
    to_dossier_completed,
    to_response_recorded,
)

NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)
HIERARCHY = load_sample_hierarchy()


def record(**overrides):
    fields = {
        "dossier_id": "000.00.00.H42-261120-0001",
        "unit": "UBND xã Xuân Hội",
        "procedure_code": "1.001193",
        "applicant_kind": "individual",
        "applicant_id": "042090001234",
        "submission_channel": "direct",
        "received_at": NOW - timedelta(days=2),
        "delivered_at": NOW - timedelta(hours=1),
        "contact": {"phone": "0912 345 678"},
    }
    return DossierRecord.model_validate({**fields, **overrides})


def convert(rec, sealed=None):
    return to_dossier_completed(
        rec,
        hierarchy=HIERARCHY,
        seal=lambda contact: (
            sealed.append(contact) or "c2VhbGVk" if sealed is not None else "c2VhbGVk"
        ),
        pseudonymise=lambda _identity: "f" * 64,
        now=NOW,
    )


def test_a_record_becomes_a_dossier_completed_event_with_the_unit_resolved():
    event = convert(record())

    assert event.unit == "ht-nx-xuan-hoi"
    assert event.contact_channels == ["zalo", "sms"]
    assert event.sealed_contact == "c2VhbGVk"


def test_the_contact_is_sealed_and_not_copied_into_the_event():
    sealed: list[dict[str, str]] = []

    event = convert(record(), sealed)

    assert sealed == [{"phone": "0912 345 678"}]
    assert "0912" not in event.model_dump_json()


def test_the_same_dossier_always_gets_the_same_event_id():
    assert convert(record()).event_id == convert(record()).event_id


def test_unknown_unit_is_rejected_naming_the_field():
    with pytest.raises(DossierRejectedError) as info:
        convert(record(unit="Xã Không Tồn Tại"))

    assert info.value.errors[0]["field"] == "unit"


def test_dates_out_of_order_and_in_the_future_are_rejected():
    with pytest.raises(DossierRejectedError) as info:
        convert(record(received_at=NOW, delivered_at=NOW + timedelta(days=1)))

    fields = [e["field"] for e in info.value.errors]
    assert fields == ["delivered_at"] * 1 or "delivered_at" in fields


@pytest.mark.parametrize(
    ("phone", "channels"),
    [
        ("0912345678", ["zalo", "sms"]),
        ("+84 912 345 678", ["zalo", "sms"]),
        ("0237 3851 234", []),
        ("", []),
    ],
)
def test_only_mobile_numbers_open_sms_and_zalo(phone, channels):
    rec = record(contact={"phone": phone} if phone else {})

    assert contact_channels(rec.contact) == channels


GRANT = TokenGrant(
    invitation_id=uuid7(),
    campaign_id="c2026",
    unit="ht-nx-xuan-hoi",
    stratum="organisation",
    instrument_id="sipas-1001-2023",
    expires_at=NOW + timedelta(days=1),
)


def test_answers_are_checked_against_the_invitations_instrument():
    submission = ResponseSubmission(token="t" * 22, answers={"HL.DV.E1.1": 7, "C01": 4})

    with pytest.raises(ResponseRejectedError) as info:
        to_response_recorded(
            submission,
            GRANT,
            catalogue=load_catalogue("sipas-1001-2023"),
            response_id=uuid7(),
            now=NOW,
        )

    assert [e["field"] for e in info.value.errors] == ["answers.HL.DV.E1.1", "answers.C01"]


def test_a_response_carries_the_grant_not_the_token():
    submission = ResponseSubmission(token="t" * 22, answers={"HL.DV.E1.1": 5, "NC.1": "na"})

    event = to_response_recorded(
        submission, GRANT, catalogue=load_catalogue("sipas-1001-2023"), response_id=uuid7(), now=NOW
    )

    assert event.applicant_kind == "organisation"
    assert event.invitation_id == GRANT.invitation_id
    assert "t" * 22 not in event.model_dump_json()
