"""Alert rules as pure functions of events. The first rule: a low satisfaction rating."""

from __future__ import annotations

from sipas_contracts.events import AlertRaised, ResponseRecorded
from sipas_contracts.ids import uuid7_for
from sipas_contracts.instrument import Catalogue

PRODUCER = "alerts"
LOW_RATING = "low_rating"


def low_ratings(response: ResponseRecorded, catalogue: Catalogue, threshold: int) -> dict[str, int]:
    """Satisfaction items answered at or below ``threshold`` (1-2 by default)."""
    return {
        item_id: answer
        for item_id, answer in response.answers.items()
        if isinstance(answer, int)
        and item_id in catalogue.items
        and catalogue.items[item_id].section == "satisfaction"
        and answer <= threshold
    }


def evaluate(
    response: ResponseRecorded, catalogue: Catalogue, *, threshold: int
) -> list[AlertRaised]:
    """Alerts a response raises; ids are derived from the response so replays give the same."""
    low = low_ratings(response, catalogue, threshold)
    if not low:
        return []
    alert_id = uuid7_for(f"alert:{LOW_RATING}:{response.response_id}", response.occurred_at)
    worst = min(low.values())
    items = ", ".join(sorted(low))
    return [
        AlertRaised(
            event_id=alert_id,
            occurred_at=response.occurred_at,
            producer=PRODUCER,
            alert_id=alert_id,
            rule=LOW_RATING,
            severity="critical" if worst == 1 else "warning",
            unit=response.unit,
            campaign_id=response.campaign_id,
            source_event_id=response.event_id,
            summary_vi=(
                f"Người dân đánh giá không hài lòng ({len(low)} tiêu chí, thấp nhất mức {worst})."
            ),
            summary_en=f"Dissatisfied rating on {len(low)} item(s), lowest level {worst}.",
            details={"items": items, "lowest": worst, "count": len(low)},
        )
    ]
