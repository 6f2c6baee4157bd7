"""Rules on one recorded response: low ratings, perception red flags, negative comments.

Each rule returns at most one hit per response. Perception rules read the catalogue: by
default any code that is not the item's favourable answer is flagged (ND.6 "Có một số
người" or "Có nhiều người"; ND.X1 "3 lần trở lên"; ND.X2 "Trễ hẹn"), or the rule's own
``flag_codes``. A comment arrives opened (to classify) and sealed (to keep): the hit keeps
only the sealed one, and neither its summary nor its details quote the comment, so no
alert event or notification carries what the respondent wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from sipas_alerts.domain.alerts import Hit
from sipas_alerts.domain.comments import CommentClassifier
from sipas_alerts.domain.policy import AnswerRule, LowRatingRule, RuleSet
from sipas_alerts.domain.windows import Window, local_date, window_key
from sipas_contracts.events import ResponseRecorded, Severity
from sipas_contracts.instrument import Catalogue


@dataclass(frozen=True)
class Comment:
    """A respondent's comment: its text (to classify) and its sealed form (to keep)."""

    text: str
    sealed: str | None


def evaluate_response(
    response: ResponseRecorded,
    catalogue: Catalogue,
    rules: RuleSet,
    *,
    comment: Comment | None,
    classifier: CommentClassifier,
    tz: tzinfo,
) -> list[Hit]:
    """Every hit ``response`` triggers under ``rules``."""
    hits: list[Hit | None] = [low_rating(response, catalogue, rules.low_rating, tz)]
    for rule_id, rule in rules.answer_rules().items():
        hits.append(flagged_answer(response, catalogue, rule_id, rule, tz))
    if rules.negative_comment.enabled and comment is not None:
        window = rules.negative_comment.window
        hits.append(negative_comment(response, comment, classifier, window, tz))
    return [hit for hit in hits if hit is not None]


def _hit(
    response: ResponseRecorded,
    rule: str,
    *,
    severity: Severity,
    window: Window,
    tz: tzinfo,
    summary: tuple[str, str],
    details: dict[str, str | int | float | None],
) -> Hit:
    return Hit(
        rule=rule,
        severity=severity,
        unit=response.unit,
        campaign_id=response.campaign_id,
        window=window_key(local_date(response.occurred_at, tz), window),
        occurred_at=response.occurred_at,
        source_event_id=response.event_id,
        summary_vi=summary[0],
        summary_en=summary[1],
        details={"instrument_id": response.instrument_id, **details},
        sealed_callback=response.sealed_callback,
    )


def low_rating(
    response: ResponseRecorded, catalogue: Catalogue, rule: LowRatingRule, tz: tzinfo
) -> Hit | None:
    """Satisfaction items answered at or below ``rule.max_level``."""
    if not rule.enabled:
        return None
    low = {
        item_id: answer
        for item_id, answer in response.answers.items()
        if isinstance(answer, int)
        and item_id in catalogue.items
        and catalogue.items[item_id].section == "satisfaction"
        and answer <= rule.max_level
    }
    if not low:
        return None
    lowest = min(low.values())
    summary = (
        f"Người dân đánh giá không hài lòng ({len(low)} tiêu chí, thấp nhất mức {lowest}).",
        f"Dissatisfied rating on {len(low)} item(s), lowest level {lowest}.",
    )
    severity: Severity = "critical" if lowest <= rule.critical_level else "warning"
    details: dict[str, str | int | float | None] = {
        "items": ", ".join(sorted(low)),
        "lowest": lowest,
        "count": len(low),
    }
    return _hit(
        response,
        "low_rating",
        severity=severity,
        window=rule.window,
        tz=tz,
        summary=summary,
        details=details,
    )


def flagged_answer(
    response: ResponseRecorded, catalogue: Catalogue, rule_id: str, rule: AnswerRule, tz: tzinfo
) -> Hit | None:
    """A perception item of ``rule`` answered with a flagged code."""
    if not rule.enabled:
        return None
    for item_id in rule.items:
        answer = response.answers.get(item_id)
        item = catalogue.items.get(item_id)
        if not isinstance(answer, int) or item is None:
            continue
        flagged = answer in rule.flag_codes if rule.flag_codes else answer not in item.positive
        if flagged:
            label_vi = catalogue.scale_of(item_id).label(answer, "vi")
            label_en = catalogue.scale_of(item_id).label(answer, "en")
            summary = (f"{item.vi} — {label_vi}", f"{item.en} — {label_en}")
            details: dict[str, str | int | float | None] = {"item": item_id, "answer": answer}
            return _hit(
                response,
                rule_id,
                severity=rule.severity,
                window=rule.window,
                tz=tz,
                summary=summary,
                details=details,
            )
    return None


def negative_comment(
    response: ResponseRecorded,
    comment: Comment,
    classifier: CommentClassifier,
    window: Window,
    tz: tzinfo,
) -> Hit | None:
    """The free-text comment reads as a complaint (the hit keeps it sealed)."""
    verdict = classifier.classify(comment.text)
    if not verdict.negative:
        return None
    matched = ", ".join(verdict.matched)
    summary = (f"Ý kiến tiêu cực (từ khóa: {matched})", f"Negative comment (keywords: {matched})")
    severity: Severity = "critical" if verdict.grave else "warning"
    hit = _hit(
        response,
        "negative_comment",
        severity=severity,
        window=window,
        tz=tz,
        summary=(summary[0][:500], summary[1][:500]),
        details={"matched": matched},
    )
    return hit.model_copy(update={"sealed_comment": comment.sealed})
