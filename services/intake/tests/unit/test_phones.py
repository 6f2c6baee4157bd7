from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipas_intake.domain.phones import (
    CONVERSION_2018,
    classify,
    msisdn,
    normalise,
    parse_phones,
    split_candidates,
)


@pytest.mark.parametrize(
    ("raw", "mobiles", "landlines"),
    [
        ("0912 345 678", ("0912345678",), ()),
        ("+84 912.345.678", ("0912345678",), ()),
        ("(+84) 98 765 4321", ("0987654321",), ()),
        ("912345678", ("0912345678",), ()),
        ("84987654321", ("0987654321",), ()),
        ("0084 912 345 678", ("0912345678",), ()),
        ("01662345678", ("0362345678",), ()),
        ("84-1662345678", ("0362345678",), ()),
        ("1662345678", ("0362345678",), ()),
        ("0237.3851234", (), ("02373851234",)),
        ("+84 237 3851 234", (), ("02373851234",)),
        ("0912345678 - 0987654321", ("0912345678", "0987654321"), ()),
        ("0912345678 / 0912345678", ("0912345678",), ()),
        ("0912-045-678", ("0912045678",), ()),
        ("0237 3851 234 hoặc 0912345678", ("0912345678",), ("02373851234",)),
        ("0912", (), ()),
        ("1900 1234", (), ()),
        ("", (), ()),
    ],
)
def test_free_text_phone_fields_are_read_as_the_reference_table_says(raw, mobiles, landlines):
    numbers = parse_phones(raw)

    assert numbers.mobiles == mobiles
    assert numbers.landlines == landlines


def test_the_first_valid_mobile_is_primary_and_the_others_are_alternates():
    numbers = parse_phones("0237 3851 234; 0987 654 321; 0912.345.678")

    assert numbers.primary == "0987654321"
    assert numbers.alternates == ("0912345678",)


def test_unusable_candidates_are_counted():
    assert parse_phones("0912, abc, 1900 1234").unusable == 3


@pytest.mark.parametrize(("old", "new"), sorted(CONVERSION_2018.items()))
def test_every_2018_prefix_is_converted(old, new):
    assert normalise(f"{old}1234567") == f"{new}1234567"


def test_msisdn_is_the_international_form_without_plus():
    assert msisdn("0912345678") == "84912345678"


national_mobiles = st.builds(
    lambda prefix, rest: f"0{prefix}{rest:08d}",
    st.sampled_from("35789"),
    st.integers(min_value=0, max_value=99_999_999),
)


@given(national_mobiles, st.sampled_from(["{}", "+84{}", "84{}", "0084{}", "{} "]))
def test_any_mobile_in_any_common_spelling_normalises_to_itself(number, template):
    written = template.format(number[1:] if template != "{}" else number)
    spaced = " ".join([written[:4], written[4:7], written[7:]])

    assert parse_phones(spaced).primary == number
    assert classify(number) == "mobile"


@given(st.text(max_size=300))
def test_the_normaliser_never_fails_and_returns_only_classified_numbers(text):
    numbers = parse_phones(text)

    assert all(classify(m) == "mobile" for m in numbers.mobiles)
    assert all(classify(n) == "landline" for n in numbers.landlines)
    assert len(split_candidates(text)) <= 8
