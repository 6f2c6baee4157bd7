from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from sipas_contracts.ids import uuid7, uuid7_for, uuid7_time

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
