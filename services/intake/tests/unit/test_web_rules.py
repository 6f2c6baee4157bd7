from __future__ import annotations

import pytest

from sipas_contracts.instrument import load_catalogue
from sipas_intake.domain.paper import is_blank
from sipas_intake.questionnaire import build
from sipas_intake.security import CsrfTokens, DraftCipher, derive_key
from sipas_intake.web.forms import localise
from sipas_runtime.i18n import Catalogue


def test_a_csrf_token_is_bound_to_its_session_and_nonce():
    tokens = CsrfTokens(derive_key(b"m" * 32, "csrf"))
    plain, with_nonce = tokens.issue("session-a"), tokens.issue("session-a", "n1")

    assert tokens.check("session-a", plain) == ""
    assert tokens.check("session-a", with_nonce) == "n1"
    assert tokens.check("session-b", plain) is None
    assert tokens.check("session-a", with_nonce.replace("n1", "n2")) is None
    assert tokens.check("session-a", None) is None


def test_derived_keys_differ_by_purpose():
    assert derive_key(b"m" * 32, "csrf") != derive_key(b"m" * 32, "kiosk")


def test_the_kiosk_form_is_one_satisfaction_group_per_element():
    questionnaire = build(load_catalogue("sipas-1001-2023"), "kiosk", "en")

    assert [s.id for s in questionnaire.sections] == ["satisfaction"]
    assert len(questionnaire.sections[0].groups) == 5
    assert (
        questionnaire.sections[0].groups[0].items[0].options[-1].label.startswith("Not applicable")
    )


def test_an_unknown_profile_names_the_known_ones():
    with pytest.raises(KeyError, match="kiosk, tthc_user"):
        build(load_catalogue("sipas-2640-2017"), "phone")


def test_problems_become_respondent_friendly_messages_linked_to_their_question():
    problems = [
        {"field": "answers.HL.DV.E1.1", "reason": "x", "code": "invalid"},
        {"field": "callback_phone", "reason": "x", "code": "missing"},
        {"field": "comment", "reason": "x", "code": "too_many"},
    ]
    catalogue = Catalogue.of("sipas_intake")

    errors = localise(
        problems, lambda m: catalogue.gettext("vi", m), {"HL.DV.E1.1": "Biển hiệu rõ ràng"}
    )

    assert errors.summary == [
        ("q-HL.DV.E1.1", "Biển hiệu rõ ràng: Câu trả lời không hợp lệ."),
        ("callback_phone", "Xin ghi số điện thoại hoặc thư điện tử để được liên hệ lại."),
        ("comment", "Ý kiến quá dài (tối đa 2000 ký tự)."),
    ]
    assert errors.by_field["HL.DV.E1.1"] == "Câu trả lời không hợp lệ."


def test_a_draft_sealed_for_one_token_opens_only_with_that_token():
    cipher = DraftCipher(derive_key(b"m" * 32, "draft"))

    sealed = cipher.seal("token-a", b'{"comment": "0912 345 678"}')

    assert cipher.open("token-a", sealed) == b'{"comment": "0912 345 678"}'
    assert cipher.open("token-b", sealed) is None
    assert b"0912" not in sealed
    assert DraftCipher(derive_key(b"n" * 32, "draft")).open("token-a", sealed) is None


def test_a_template_row_with_only_the_prefilled_columns_is_blank():
    assert is_blank({"campaign_id": "ht-2026", "unit": "Xã Cổ Đạm"})
    assert is_blank({"so_phieu": " ", "campaign_id": "ht-2026"})
    assert not is_blank({"campaign_id": "ht-2026", "C01": 5})
