from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipas_alerts.domain.comments import LexiconClassifier, fold

CLASSIFIER = LexiconClassifier()


@pytest.mark.parametrize(
    "text",
    [
        "Tôi không hài lòng với cách làm việc",
        "KHÔNG HÀI LÒNG",
        "khong hai long, cho qua lau",
        "Phải đi lại nhiều lần mới xong",
        "Thái độ kém",
        "Trả kết quả trễ hẹn 3 ngày",
        "Cán bộ gây khó khăn",
    ],
)
def test_complaints_are_negative(text):
    assert CLASSIFIER.classify(text).negative


@pytest.mark.parametrize(
    "text",
    [
        "Rất hài lòng, cán bộ nhiệt tình",
        "Không gây phiền hà gì cả",
        "không chậm, nhanh gọn",
        "Kem ngon",  # "kem" without diacritics is not "kém"
        "",
    ],
)
def test_praise_and_negated_complaints_are_not_negative(text):
    assert not CLASSIFIER.classify(text).negative


def test_bribery_and_harassment_terms_are_grave():
    verdict = CLASSIFIER.classify("Phải đưa tiền bồi dưỡng mới được làm nhanh")

    assert verdict.negative
    assert verdict.grave
    assert verdict.matched == ("đưa tiền", "bồi dưỡng")


def test_the_longest_phrase_wins_over_its_words():
    assert CLASSIFIER.classify("chờ quá lâu").matched == ("quá lâu",)


def test_extra_terms_and_a_higher_bar_are_configurable():
    strict = LexiconClassifier(["ùn tắc"], [], min_matches=2)

    assert not strict.classify("ùn tắc").negative
    assert strict.classify("ùn tắc rồi lại ùn tắc").negative


def test_fold_removes_diacritics_and_d_stroke():
    assert fold("Đan Trường, Cổ Đạm") == "dan truong, co dam"


@given(st.text(max_size=300))
def test_any_text_is_classified_without_error(text):
    verdict = CLASSIFIER.classify(text)

    assert verdict.negative == bool(verdict.matched)
