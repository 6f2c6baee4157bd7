from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipas_contracts.ids import check_visible, uuid7, uuid7_for, uuid7_time

# hypothesis takes naive bounds and attaches the timezone itself
moments = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def test_uuid7_has_version_7_and_rfc_variant():
    value = uuid7()

    assert value.version == 7
    assert value.variant == "specified in RFC 4122"


def test_uuid7_sorts_by_time():
    earlier, later = uuid7(1_700_000_000_000), uuid7(1_700_000_000_001)

    assert earlier < later


@given(key=st.text(max_size=50), at=moments)
def test_uuid7_for_is_deterministic_and_embeds_the_time(key, at):
    first, second = uuid7_for(key, at), uuid7_for(key, at)

    assert first == second
    assert first.version == 7
    assert uuid7_time(first) == int(at.timestamp() * 1000)


@given(a=st.text(max_size=20), b=st.text(max_size=20), at=moments)
def test_uuid7_for_differs_for_different_keys(a, b, at):
    if a != b:
        assert uuid7_for(a, at) != uuid7_for(b, at)


@pytest.mark.parametrize(
    ("value", "code"),
    [("H42\x00001", "0000"), ("H42\r\n1", "000D"), ("H42\u202e1", "202E"), ("H4\u200b2", "200B")],
)
def test_identifiers_refuse_control_and_invisible_characters(value, code):
    with pytest.raises(ValueError, match=f"U\\+{code}"):
        check_visible(value)


def test_identifiers_must_be_composed_vietnamese():
    decomposed = unicodedata.normalize("NFD", "Hồ sơ-Đà")

    with pytest.raises(ValueError, match="NFC"):
        check_visible(decomposed)
    assert check_visible(unicodedata.normalize("NFC", decomposed)) == "Hồ sơ-Đà"


@given(st.text(alphabet=st.characters(categories=["L", "N", "P", "S", "Zs"]), max_size=40))
def test_visible_composed_text_is_accepted_as_is(text):
    composed = unicodedata.normalize("NFC", text)

    assert check_visible(composed) == composed
