from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipas_contracts.ids import uuid7
from sipas_contracts.instrument import load_catalogue
from sipas_intake.domain.errors import ResponseRejectedError
from sipas_intake.domain.responses import (
    COMMENT_LIMIT,
    ResponseContext,
    TokenGrant,
    applicant_kind,
    build_response,
    callback_contact,
    clean_comment,
    parse_form_answers,
)
from sipas_runtime.privacy import KeyPair, seal, unseal

NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)
ALERTS = KeyPair.generate()
C1001 = load_catalogue("sipas-1001-2023")
FORM = C1001.form("tthc_user")
GRANT = TokenGrant(
    invitation_id=uuid7(),
    campaign_id="c2026",
    unit="ht-nx-xuan-hoi",
    stratum="organisation",
    instrument_id="sipas-1001-2023",
    expires_at=NOW + timedelta(days=1),
)


def respond(answers, *, context=None, allowed=FORM.items, comment=None, callback=None):
    return build_response(
        context or ResponseContext.invited(GRANT),
        answers,
        catalogue=C1001,
        allowed=allowed,
        comment=comment,
        seal_comment=lambda text: seal(ALERTS.public_key, {"comment": text}),
        sealed_callback=callback,
        response_id=uuid7(),
        now=NOW,
    )


def test_an_invited_response_carries_the_grant_and_no_identity():
    event = respond({"HL.DV.E1.1": 5, "NC.1": "na"}, callback="c2VhbGVk")

    assert (event.campaign_id, event.unit, event.applicant_kind) == (
        "c2026",
        "ht-nx-xuan-hoi",
        "organisation",
    )
    assert event.collection_mode == "online"
    assert event.invitation_id == GRANT.invitation_id
    assert event.sealed_callback == "c2VhbGVk"
    assert event.interviewer_id is None


def test_an_enumerator_response_is_marked_with_mode_and_interviewer():
    context = ResponseContext.invited(GRANT, "phone", "dtv-07")

    event = respond({"HL.DV.E1.1": 4}, context=context)

    assert (event.collection_mode, event.interviewer_id) == ("phone", "dtv-07")


def test_answers_off_the_form_or_off_the_scale_are_named():
    with pytest.raises(ResponseRejectedError) as info:
        respond({"HL.DV.E1.1": 7, "HL.CS.A1": 4, "NOPE": 1})

    assert [(e["field"], e["code"]) for e in info.value.errors] == [
        ("answers.HL.DV.E1.1", "invalid"),
        ("answers.NOPE", "invalid"),
        ("answers.HL.CS.A1", "unexpected"),
    ]


def test_an_empty_response_is_refused():
    with pytest.raises(ResponseRejectedError, match="no question was answered"):
        respond({})


def test_without_a_form_any_item_of_the_instrument_is_accepted():
    assert respond({"HL.CS.A1": 4}, allowed=None).answers == {"HL.CS.A1": 4}


def test_form_fields_become_coded_answers_and_blanks_stay_absent():
    fields = {"a.HL.DV.E1.1": "5", "a.HL.DV.E1.2": "na", "a.HL.DV.E1.3": "", "a.ND.5": "9"}

    answers, problems = parse_form_answers(fields, FORM.items, C1001)

    assert answers == {"HL.DV.E1.1": 5, "HL.DV.E1.2": "na"}
    assert problems == [
        {"field": "answers.ND.5", "reason": "is not one of the offered answers", "code": "invalid"}
    ]


def test_comments_are_normalised_and_limited():
    decomposed = "Tho\u0302\u0301ng tin\x00 ro\u0303\u200b  \n\n"

    assert clean_comment(decomposed) == "Thống tin rõ"
    assert clean_comment("   ") is None
    with pytest.raises(ResponseRejectedError, match=f"at most {COMMENT_LIMIT}"):
        clean_comment("ả" * (COMMENT_LIMIT + 1))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("1", "individual"),
        ("Cá nhân", "individual"),
        ("tổ  chức", "organisation"),
        ("2", "organisation"),
    ],
)
def test_applicant_kind_from_codes_and_words(text, kind):
    assert applicant_kind(text) == kind


def test_an_unknown_applicant_kind_names_the_field():
    with pytest.raises(ResponseRejectedError, match="applicant_kind: must be individual"):
        applicant_kind("robot")


def test_a_callback_takes_a_mobile_or_a_landline_or_an_email():
    assert callback_contact("+84 912 345 678", None) == {"phone": "0912345678"}
    assert callback_contact("0237 3851 234", "A@B.VN") == {
        "phone": "02373851234",
        "email": "a@b.vn",
    }
    with pytest.raises(ResponseRejectedError) as info:
        callback_contact("12", "nope")
    assert [e["field"] for e in info.value.errors] == ["callback_phone", "callback_email"]


@given(st.dictionaries(st.text(max_size=30), st.text(max_size=5), max_size=40))
def test_any_form_post_gives_answers_or_field_problems(fields):
    answers, problems = parse_form_answers(fields, FORM.items, C1001)

    assert set(answers) <= set(FORM.items)
    assert all(p["field"].startswith("answers.") for p in problems)


def test_the_comment_leaves_intake_only_sealed_for_alerts():
    event = respond({"HL.DV.E1.1": 5}, comment="Liên hệ chị Lan 0912 345 678")

    assert event.comment is None
    assert "0912" not in event.model_dump_json()
    assert unseal(ALERTS.secret_key, event.sealed_comment) == {
        "comment": "Liên hệ chị Lan 0912 345 678"
    }
