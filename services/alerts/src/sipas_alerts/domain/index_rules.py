"""Rules on published indices: below a threshold, or a significant drop versus last period.

Both rules fire on the *transition* into the condition: when the previous version of the
same (campaign, unit, period) already met it, a new index version raises nothing, so a
unit stuck below the threshold gets one alert per period, not one per recomputation.
Both need a sufficient sample; the drop rule also needs the new confidence interval to
exclude the old value (the drop is not sampling noise).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from sipas_alerts.domain.alerts import Hit
from sipas_alerts.domain.policy import IndexBelowRule, IndexDropRule, RuleSet
from sipas_contracts.events import IndexUpdated, Severity

UnitKey = tuple[str, str]
"""(campaign, unit): whose figures the index rules compare."""


class Figure(BaseModel):
    """The SIPAS figure of one (campaign, unit, period) at one version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    campaign_id: str
    unit: str
    period: str
    version: int
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    sufficient: bool

    @classmethod
    def of(cls, event: IndexUpdated) -> Figure:
        """The figure an index-updated event publishes."""
        sipas = event.sipas
        return cls(
            campaign_id=event.campaign_id,
            unit=event.unit,
            period=event.period,
            version=event.version,
            value=sipas.value,
            ci_low=sipas.ci_low,
            ci_high=sipas.ci_high,
            n=sipas.n,
            sufficient=sipas.sufficient,
        )

    @property
    def usable(self) -> bool:
        """Sufficient n and a value."""
        return self.sufficient and self.value is not None


def evaluate_index(
    current: Figure,
    rules: RuleSet,
    *,
    source_event_id: UUID,
    occurred_at: datetime,
    before: Figure | None = None,
    previous: Figure | None = None,
) -> list[Hit]:
    """Hits of ``current`` (``before``: same period's last version; ``previous``: last period)."""
    hits: list[Hit] = []
    below = rules.index_below_threshold
    if below.enabled and is_below(current, below) and not (before and is_below(before, below)):
        hits.append(_below_hit(current, below, source_event_id, occurred_at))
    drop = rules.index_drop
    if (
        drop.enabled
        and previous is not None
        and dropped(current, previous, drop)
        and not (before and dropped(before, previous, drop))
    ):
        hits.append(_drop_hit(current, previous, drop, source_event_id, occurred_at))
    return hits


def is_below(figure: Figure, rule: IndexBelowRule) -> bool:
    """The figure is usable and under the threshold."""
    return figure.usable and figure.value is not None and figure.value < rule.threshold


def dropped(current: Figure, previous: Figure, rule: IndexDropRule) -> bool:
    """A drop of more than ``max_drop`` points whose CI excludes the previous value."""
    if not (current.usable and previous.usable) or current.ci_high is None:
        return False
    assert current.value is not None
    assert previous.value is not None
    return previous.value - current.value > rule.max_drop and current.ci_high < previous.value


def _hit(
    figure: Figure,
    rule: str,
    *,
    severity: Severity,
    summary: tuple[str, str],
    details: dict[str, str | int | float | None],
    source_event_id: UUID,
    occurred_at: datetime,
) -> Hit:
    return Hit(
        rule=rule,
        severity=severity,
        unit=figure.unit,
        campaign_id=figure.campaign_id,
        window=f"{figure.campaign_id}:{figure.period}",
        occurred_at=occurred_at,
        source_event_id=source_event_id,
        summary_vi=summary[0],
        summary_en=summary[1],
        details={"period": figure.period, "value": figure.value, "n": figure.n, **details},
    )


def _below_hit(figure: Figure, rule: IndexBelowRule, source: UUID, at: datetime) -> Hit:
    value = figure.value or 0.0
    certain = figure.ci_high is not None and figure.ci_high < rule.threshold
    summary = (
        f"Chỉ số hài lòng kỳ {figure.period} là {value:.2f}%, dưới ngưỡng {rule.threshold:g}%.",
        f"Satisfaction index for {figure.period} is {value:.2f}%, below {rule.threshold:g}%.",
    )
    details: dict[str, str | int | float | None] = {
        "threshold": rule.threshold,
        "ci_high": figure.ci_high,
    }
    severity: Severity = "critical" if certain else "warning"
    return _hit(
        figure,
        "index_below_threshold",
        severity=severity,
        summary=summary,
        details=details,
        source_event_id=source,
        occurred_at=at,
    )


def _drop_hit(
    figure: Figure, previous: Figure, rule: IndexDropRule, source: UUID, at: datetime
) -> Hit:
    now, before = figure.value or 0.0, previous.value or 0.0
    drop = before - now
    change = f"{before:.2f}% ({previous.period}) → {now:.2f}% ({figure.period})"
    summary = (
        f"Chỉ số hài lòng giảm {drop:.2f} điểm: {change}.",
        f"Satisfaction index fell {drop:.2f} points: {change}.",
    )
    details: dict[str, str | int | float | None] = {
        "previous_period": previous.period,
        "previous_value": previous.value,
        "drop": round(drop, 6),
        "ci_high": figure.ci_high,
    }
    severity: Severity = "critical" if drop > 2 * rule.max_drop else "warning"
    return _hit(
        figure,
        "index_drop",
        severity=severity,
        summary=summary,
        details=details,
        source_event_id=source,
        occurred_at=at,
    )
