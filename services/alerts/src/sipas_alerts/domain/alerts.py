"""A rule hit: one rule firing on one event, before it is attached to a case.

A hit becomes an :class:`~sipas_contracts.events.AlertRaised` event once the case it joins
is known. Its id is derived from the rule and the triggering event, so a redelivered event
yields the same alert. Hits of one unit, rule and window are grouped into one case
(``group_key``). A sealed call-back contact travels with the hit into the alerts store and
never into an event.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from sipas_contracts.events import AlertRaised, Severity
from sipas_contracts.ids import uuid7_for

PRODUCER = "alerts"

RULE_LABELS: dict[str, tuple[str, str]] = {
    "low_rating": ("Đánh giá không hài lòng", "Dissatisfied rating"),
    "extra_payment": ("Phản ánh phải trả tiền ngoài quy định", "Payment beyond regulated fees"),
    "harassment": ("Phản ánh công chức gây phiền hà, sách nhiễu", "Harassment by officials"),
    "too_many_trips": ("Phải đi lại nhiều lần", "Too many trips"),
    "late_result": ("Trả kết quả trễ hẹn", "Result later than promised"),
    "negative_comment": ("Ý kiến tiêu cực", "Negative comment"),
    "index_below_threshold": ("Chỉ số hài lòng dưới ngưỡng", "Index below threshold"),
    "index_drop": ("Chỉ số hài lòng giảm so với kỳ trước", "Index dropped versus last period"),
    "response_rate_collapse": ("Tỷ lệ phản hồi giảm mạnh", "Response rate collapsed"),
    "silent_unit": ("Có lời mời nhưng không có phản hồi", "Invitations but no responses"),
}
SEVERITY_ORDER: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


def rule_label(rule: str, lang: str = "vi") -> str:
    """The human name of a rule."""
    vi, en = RULE_LABELS.get(rule, (rule, rule))
    return en if lang == "en" else vi


def worst(a: Severity, b: Severity) -> Severity:
    """The more severe of two severities."""
    return a if SEVERITY_ORDER[a] >= SEVERITY_ORDER[b] else b


class Hit(BaseModel):
    """One rule firing on one event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str = Field(min_length=1, max_length=64)
    severity: Severity
    unit: str
    campaign_id: str | None
    window: str = Field(description="Grouping window label, e.g. 2026-W47 or c2026:2026-11")
    occurred_at: AwareDatetime
    source_event_id: UUID
    summary_vi: str = Field(max_length=500)
    summary_en: str = Field(max_length=500)
    details: dict[str, str | int | float | None] = Field(default_factory=dict)
    sealed_callback: str | None = Field(default=None, repr=False)
    sealed_comment: str | None = Field(default=None, repr=False)

    @property
    def alert_id(self) -> UUID:
        """Stable id: the same rule on the same event always gives the same alert."""
        return uuid7_for(f"alert:{self.rule}:{self.source_event_id}", self.occurred_at)

    @property
    def group_key(self) -> str:
        """Hits with the same key share a case: (unit, rule, window)."""
        return f"{self.unit}|{self.rule}|{self.window}"

    def event(self, case_id: UUID) -> AlertRaised:
        """The alert-raised event of this hit, attached to ``case_id``."""
        return AlertRaised(
            event_id=self.alert_id,
            occurred_at=self.occurred_at,
            producer=PRODUCER,
            alert_id=self.alert_id,
            rule=self.rule,
            severity=self.severity,
            unit=self.unit,
            campaign_id=self.campaign_id,
            source_event_id=self.source_event_id,
            summary_vi=self.summary_vi,
            summary_en=self.summary_en,
            details=self.details,
            case_id=case_id,
        )
