"""Builders of responses and tallies for scoring's tests and benchmarks (no I/O).

``synthetic_responses`` generates a reproducible province's worth of answers whose
counts the caller can also compute independently.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sipas_contracts.events import ResponseRecorded
from sipas_contracts.ids import uuid7_for
from sipas_contracts.instrument import Catalogue, load_catalogue
from sipas_contracts.testing import response
from sipas_scoring.domain.counting import Accumulator, group_sets
from sipas_scoring.domain.tally import Tally

C2640 = load_catalogue("sipas-2640-2017")
C1001 = load_catalogue("sipas-1001-2023")
AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def answers_for(catalogue: Catalogue, level: int | str) -> dict[str, int | str]:
    """Every satisfaction item of ``catalogue`` answered with ``level``."""
    return dict.fromkeys(catalogue.satisfaction_items(), level)


def resp(answers: dict[str, Any], **overrides: object) -> ResponseRecorded:
    """A 2640 response in campaign ``c2026`` (keyword arguments replace fields)."""
    fields: dict[str, Any] = {"instrument_id": C2640.id, "campaign_id": "c2026"}
    return response(answers=answers, **{**fields, **overrides})


def tally_of(catalogue: Catalogue, answer_sets: Sequence[dict[str, Any]]) -> Tally:
    """A tally of ``answer_sets`` recorded in order (sequence numbers 1, 2, ...)."""
    accumulator = Accumulator()
    groups = group_sets(catalogue)
    for seq, answers in enumerate(answer_sets, start=1):
        accumulator.record(answers, groups, AT, seq)
    return accumulator.tally()


def synthetic_responses(
    count: int,
    *,
    units: Sequence[str],
    campaign_id: str = "bench",
    seed: int = 2026,
    start: datetime = AT,
    spread: timedelta = timedelta(days=90),
) -> Iterator[ResponseRecorded]:
    """Reproducible 2640 responses: each unit has its own quality, answers vary per item."""
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not secrets
    quality = {unit: 0.55 + 0.4 * rng.random() for unit in units}
    items = C2640.satisfaction_items()
    modes = ("online", "online", "online", "face_to_face", "paper", "kiosk")
    step = spread / max(count, 1)
    for i in range(count):
        unit = units[i % len(units)]
        at = start + step * i
        answers: dict[str, Any] = {}
        for item in items:
            roll = rng.random()
            if roll < 0.04:  # noqa: PLR2004 - 4% not applicable, 2% blank
                answers[item] = "na"
            elif roll < 0.06:  # noqa: PLR2004
                continue
            else:
                good = rng.random() < quality[unit]
                answers[item] = rng.choice((4, 5)) if good else rng.choice((1, 2, 3))
        event_id = uuid7_for(f"{campaign_id}:{seed}:{i}", at)
        yield ResponseRecorded(
            event_id=event_id,
            occurred_at=at,
            producer="bench",
            response_id=event_id,
            campaign_id=campaign_id,
            unit=unit,
            instrument_id=C2640.id,
            collection_mode=modes[i % len(modes)],
            applicant_kind="organisation" if i % 3 == 0 else "individual",
            answers=answers,
        )
