"""Builders shared by the sampling tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sipas_sampling.domain.campaign import Campaign


def campaign(**overrides: Any) -> Campaign:
    fields: dict[str, Any] = {
        "id": "c-test",
        "name_vi": "Chiến dịch thử",
        "instrument_id": "sipas-1001-2023",
        "mode": "continuous",
        "seed": "seed-for-tests",
        "window": {"start": "2026-01-01", "end": "2026-12-31"},
        "scope": {"units": ["ht-nx-xuan-hoi", "ht-nx-co-dam"]},
        "sample_size": {"rate": 0.5},
        "channels": ["zalo", "sms", "email"],
    }
    return Campaign.model_validate({**fields, **overrides})


@pytest.fixture
def make_campaign() -> Callable[..., Campaign]:
    return campaign
