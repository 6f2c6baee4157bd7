"""The rules as configured: the policy, the instrument catalogues and the comment classifier.

Comment classifiers are pluggable: a package can register a factory in the entry-point
group ``sipas_alerts.comment_classifiers`` (``factory(rule: CommentRule) -> classifier``)
and ``SIPAS_ALERTS_COMMENT_CLASSIFIER`` names the one to use; the default is the lexicon.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import cache
from importlib.metadata import entry_points
from uuid import UUID

from sipas_alerts.domain.alerts import Hit
from sipas_alerts.domain.comments import (
    GRAVE_TERMS,
    NEGATIVE_TERMS,
    CommentClassifier,
    LexiconClassifier,
)
from sipas_alerts.domain.index_rules import Figure, UnitKey, evaluate_index
from sipas_alerts.domain.policy import CommentRule, Policy
from sipas_alerts.domain.response_rules import Comment, evaluate_response
from sipas_alerts.domain.windows import previous_period
from sipas_contracts.events import IndexUpdated, ResponseRecorded
from sipas_contracts.instrument import Catalogue, load_catalogue

ClassifierFactory = Callable[[CommentRule], CommentClassifier]
CLASSIFIER_GROUP = "sipas_alerts.comment_classifiers"


def lexicon(rule: CommentRule) -> CommentClassifier:
    """The built-in Vietnamese lexicon, extended with the rule's own terms."""
    return LexiconClassifier(
        (*NEGATIVE_TERMS, *rule.extra_terms),
        (*GRAVE_TERMS, *rule.extra_grave_terms),
        min_matches=rule.min_matches,
    )


def classifier_factory(name: str) -> ClassifierFactory:
    """The classifier factory called ``name`` (``lexicon`` or a registered plug-in)."""
    if name == "lexicon":
        return lexicon
    found = {ep.name: ep for ep in entry_points(group=CLASSIFIER_GROUP)}
    if name not in found:
        known = ", ".join(["lexicon", *sorted(found)])
        raise ValueError(f"comment classifier {name!r} is not installed (known: {known})")
    factory: ClassifierFactory = found[name].load()
    return factory


class RuleBook:
    """Evaluates responses and index figures under the policy of their campaign."""

    def __init__(self, policy: Policy, classifier: ClassifierFactory = lexicon) -> None:
        self.policy = policy
        self._factory = classifier
        self._classifiers: dict[CommentRule, CommentClassifier] = {}

    def _classifier(self, rule: CommentRule) -> CommentClassifier:
        if rule not in self._classifiers:
            self._classifiers[rule] = self._factory(rule)
        return self._classifiers[rule]

    def on_response(self, response: ResponseRecorded, comment: Comment | None) -> list[Hit]:
        """The hits of one response (``comment``: its comment, opened and sealed)."""
        rules = self.policy.rules_for(response.campaign_id)
        return evaluate_response(
            response,
            catalogue(response.instrument_id),
            rules,
            comment=comment,
            classifier=self._classifier(rules.negative_comment),
            tz=self.policy.calendar.tz,
        )

    def on_figure(
        self,
        current: Figure,
        known: dict[str, Figure],
        *,
        source_event_id: UUID,
        occurred_at: datetime,
        previous_campaign: Figure | None = None,
    ) -> list[Hit]:
        """The hits of a new index figure, given the periods already known for its unit."""
        rules = self.policy.rules_for(current.campaign_id)
        before = known.get(current.period)
        earlier = previous_period(current.period, known)
        previous = known[earlier] if earlier else previous_campaign
        return evaluate_index(
            current,
            rules,
            source_event_id=source_event_id,
            occurred_at=occurred_at,
            before=before,
            previous=previous,
        )

    def figure_units(self, events: Sequence[IndexUpdated]) -> set[UnitKey]:
        """The (campaign, unit)s whose figures :meth:`on_figures` needs for ``events``."""
        units: set[UnitKey] = set()
        for event in events:
            units.add((event.campaign_id, event.unit))
            other = self.policy.rules_for(event.campaign_id).previous_campaign
            if other and event.period == "campaign":
                units.add((other, event.unit))
        return units

    def on_figures(
        self, events: Sequence[IndexUpdated], known: Mapping[UnitKey, Mapping[str, Figure]]
    ) -> tuple[list[Hit], list[Figure]]:
        """The hits of a batch of index events, and the figures to keep.

        ``known``: the figures stored for :meth:`figure_units` (periods by (campaign, unit)).
        Events are judged in order, each against what the ones before it kept, as if each
        had been stored before the next was read; a version no newer than the known one
        changes nothing (an older version arriving late). The figures to keep are the
        last kept per (campaign, unit, period).
        """
        view = {key: dict(periods) for key, periods in known.items()}
        kept: dict[tuple[str, str, str], Figure] = {}
        hits: list[Hit] = []
        for event in events:
            current = Figure.of(event)
            periods = view.setdefault((event.campaign_id, event.unit), {})
            same = periods.get(event.period)
            if same is not None and same.version >= current.version:
                continue
            other = self.policy.rules_for(event.campaign_id).previous_campaign
            previous = None
            if other and event.period == "campaign":
                previous = view.get((other, event.unit), {}).get("campaign")
            hits += self.on_figure(
                current, periods, source_event_id=event.event_id,
                occurred_at=event.occurred_at, previous_campaign=previous,
            )  # fmt: skip
            periods[event.period] = current
            kept[event.campaign_id, event.unit, event.period] = current
        return hits, list(kept.values())


@cache
def catalogue(instrument_id: str) -> Catalogue:
    """An instrument catalogue (loaded once)."""
    return load_catalogue(instrument_id)
