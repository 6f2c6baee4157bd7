from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipas_intake.domain.phones import (
    CONVERSION_2018,
    NumberingPlan,
    PhoneNumbers,
    classify,
    msisdn,
    normalise,
    parse_phones,
    read_national,
    read_with_library,
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


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("0896123456", "mobile"),  # MobiFone's 089 starts at 0896
        ("0521234567", "invalid"),  # not assigned
        ("0559123456", "mobile"),  # Reddi
        ("02438261234", "landline"),  # Hà Nội
        ("19001234", "service"),
        ("18001234", "service"),
        ("0912", "invalid"),
        ("1662345678", "invalid"),  # a retired number before conversion
    ],
)
def test_numbers_are_classified_by_the_numbering_plan(number, kind):
    assert classify(number) == kind


def test_a_number_from_another_country_is_not_taken_for_a_vietnamese_one():
    numbers = parse_phones("+1 650 253 0000, +66 81 234 5678")

    assert numbers.mobiles == ()
    assert numbers.landlines == ()
    assert numbers.unusable == 2


def test_msisdn_is_the_international_form_without_plus():
    assert msisdn("0912345678") == "84912345678"


MOBILE_PREFIXES = (  # the networks' ranges, as the numbering plan assigns them
    *(f"03{d}" for d in range(2, 10)),  # Viettel
    "070", "076", "077", "078", "079", "090", "093",  # MobiFone
    "081", "082", "083", "084", "085", "088", "091", "094",  # VinaPhone
    "086", "096", "097", "098",  # Viettel
    "056", "058", "092",  # Vietnamobile
    "059",  # Gmobile (its 099 is assigned only in part)
    "087",  # iTel
)  # fmt: skip
national_mobiles = st.builds(
    lambda prefix, rest: f"{prefix}{rest:07d}",
    st.sampled_from(MOBILE_PREFIXES),
    st.integers(min_value=0, max_value=9_999_999),
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


@given(st.from_regex(r"(\+84|0)[1-9]\d{7,10}", fullmatch=True))
def test_a_mobile_or_landline_is_written_as_the_numbering_plan_formats_it(text):
    # parse_phones writes mobiles and landlines as 0 + the significant number without
    # asking the library to format them: that is what the plan's national format gives.
    numbers = parse_phones(text)

    for national in (*numbers.mobiles, *numbers.landlines):
        written = phonenumbers.format_number(
            phonenumbers.parse(national, "VN"), phonenumbers.PhoneNumberFormat.NATIONAL
        )
        assert national == "".join(ch for ch in written if ch.isdigit())


def test_digits_that_only_parse_with_the_country_code_in_front_are_not_a_national_number():
    # +84 84 810 000 000 is no number; its digits 84810000000 read as +84 810 000 000, a
    # mobile, but msisdn() of them would be 844810000000 (found by the test above in CI)
    assert parse_phones("+8484810000000") == PhoneNumbers((), (), 1)
    assert parse_phones("+84 81 000 0000") == PhoneNumbers(("0810000000",), (), 0)


@pytest.mark.parametrize("length", [7, 8, 9, 10, 11])
def test_the_plan_types_every_four_digit_prefix_as_the_library_does(length):
    plan = NumberingPlan.of("VN")
    tails = [("0" * length)[: length - 4], ("9" * length)[: length - 4], "5173924"[: length - 4]]

    for prefix in range(1000, 10_000):
        for tail in tails:
            significant = f"{prefix}{tail}"
            number = phonenumbers.PhoneNumber(country_code=84, national_number=int(significant))

            assert plan.number_type(significant) == phonenumbers.number_type(number), significant


national_forms = st.from_regex(r"0[0-9]{8,10}", fullmatch=True)
digit_forms = st.from_regex(r"(\+84|84|0084|0|00|)[0-9]{7,11}", fullmatch=True)


@given(digit_forms | st.text(alphabet="0123456789+ .-()x", max_size=14) | st.text(max_size=20))
def test_a_number_read_from_the_plan_is_read_as_the_library_reads_it(candidate):
    fast = read_national(candidate)

    assert fast is None or fast == read_with_library(candidate)


@given(national_forms)
def test_a_mobile_or_landline_in_national_form_never_needs_the_library(candidate):
    expected = read_with_library(candidate)

    if expected is not None and expected[0] == candidate and expected[1] in {"mobile", "landline"}:
        assert read_national(candidate) == expected
