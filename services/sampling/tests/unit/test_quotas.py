"""The quota book a partition's owner keeps in memory (sipas_sampling.domain.quotas, #22).

Batches are decided as ``selection._continuous`` does (count what was seen, reserve
slots for the drawn, log one row per dossier); lapses free slots as other stages record
them, read by the owner late or not at all. No unit ever holds more slots than its quota,
and a book rebuilt from any checkpoint plus the decision-log rows written after it holds
exactly what the live book held (its quotas read again from the campaign, as a new
owner does).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sipas_sampling.domain.eligibility import REASONS
from sipas_sampling.domain.quotas import ELIGIBLE, REACHED, QuotaBook

CAMPAIGN = "c2026"
UNITS = ("ht-nx-a", "ht-nx-b", "ht-nx-c")
SCREENED = ("online", "duplicate_applicant", "no_usable_contact", "not_drawn", "opted_out")
DRAWN = "drawn"  # drawn and contactable: invited if a slot is left, else quota_full


@dataclass
class Run:
    """A live book, the store's copy of its checkpoints, the log, and the true lapses."""

    book: QuotaBook = field(default_factory=QuotaBook)
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: list[list[Any]] = field(default_factory=list)
    logged_at_checkpoint: int = 0
    released: Counter[str] = field(default_factory=Counter)

    def decide(self, batch: list[tuple[str, str]]) -> None:
        rows: list[list[Any]] = []
        drawn: Counter[str] = Counter()
        for n, (unit, outcome) in enumerate(batch):
            dossier = f"d{len(self.log)}-{n}"
            if outcome == DRAWN:
                drawn[unit] += 1
                rows.append([dossier, unit, 0.1, 0.5, None])
            else:
                rows.append([dossier, unit, None, None, outcome])
        for unit in UNITS:
            outcomes = [r[4] for r in rows if r[1] == unit]
            self.book.seen(
                CAMPAIGN,
                unit,
                eligible=sum(o is None or o in ELIGIBLE for o in outcomes),
                reachable=sum(o is None or o in REACHED for o in outcomes),
            )
        granted = {unit: self.book.reserve(CAMPAIGN, unit, n) for unit, n in drawn.items()}
        for row in rows:
            if row[4] is None:
                row[4] = "invited" if granted[row[1]] > 0 else "quota_full"
                granted[row[1]] -= row[4] == "invited"
        self.log.extend(rows)

    def lapse(self, unit: str, seen_by_owner: bool) -> None:
        if self.book.unit(CAMPAIGN, unit).invited > self.released[unit]:  # an open slot
            self.released[unit] += 1
        if seen_by_owner:
            self.settle(unit)

    def settle(self, unit: str) -> None:
        self.book.settled(CAMPAIGN, unit, answered=0, lapsed=0, released=self.released[unit])

    def checkpoint(self) -> None:
        documents = self.book.changed()
        self.stored.update({d["_id"]: d for d in documents})
        self.logged_at_checkpoint = len(self.log)
        self.book.saved(documents)


outcomes = st.sampled_from((*SCREENED, DRAWN, DRAWN))
batches = st.lists(st.tuples(st.sampled_from(UNITS), outcomes), max_size=8)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("decide"), batches),
        st.tuples(st.just("lapse"), st.tuples(st.sampled_from(UNITS), st.booleans())),
        st.tuples(st.just("checkpoint"), st.none()),
    ),
    max_size=20,
)
quotas = st.fixed_dictionaries({u: st.one_of(st.none(), st.integers(0, 6)) for u in UNITS})


@settings(max_examples=60)
@given(quotas=quotas, steps=steps)
def test_no_unit_passes_its_quota_and_a_checkpoint_plus_the_log_rebuilds_the_book(quotas, steps):
    run = Run()
    for unit, quota in quotas.items():
        run.book.set_quota(CAMPAIGN, unit, quota, expected_total=40.0)
    for action, argument in steps:
        if action == "decide":
            run.decide(argument)
        elif action == "lapse":
            run.lapse(*argument)
        else:
            run.checkpoint()
        for unit, quota in quotas.items():
            invited = sum(1 for r in run.log if r[1] == unit and r[4] == "invited")
            assert run.book.unit(CAMPAIGN, unit).invited == invited
            if quota is not None:  # against the true lapses, not the owner's late view
                assert invited - run.released[unit] <= quota

    rebuilt = QuotaBook()
    rebuilt.load(run.stored.values())
    for unit, quota in quotas.items():  # the campaign's allocation, as its owner reads it
        rebuilt.set_quota(CAMPAIGN, unit, quota, expected_total=40.0)
    rebuilt.replay(CAMPAIGN, run.log[run.logged_at_checkpoint :])
    for unit in UNITS:
        run.settle(unit)
        rebuilt.settled(CAMPAIGN, unit, answered=0, lapsed=0, released=run.released[unit])
        assert rebuilt.unit(CAMPAIGN, unit) == run.book.unit(CAMPAIGN, unit)


def test_outcomes_are_classified_as_the_selection_counts_them():
    assert {"no_usable_contact"} == ELIGIBLE - REACHED
    assert {"invited", "quota_full", "not_drawn"} <= REACHED
    excluded = {"out_of_scope", "outside_window", "online", "postal", "non_resident", "minor"}
    assert set(REASONS) - ELIGIBLE == excluded | {"other_field", "duplicate_applicant", "repeat"}


def test_a_unit_changed_while_its_checkpoint_was_written_is_written_again():
    book = QuotaBook()
    book.set_quota(CAMPAIGN, "ht-nx-a", 2)
    documents = book.changed()
    assert book.reserve(CAMPAIGN, "ht-nx-a", 5) == 2  # folded while the write awaited
    book.saved(documents)
    assert [d["invited"] for d in book.changed()] == [2]
    book.saved(book.changed())
    assert book.changed() == []
    assert book.reserve(CAMPAIGN, "ht-nx-a", 1) == 0
    book.settled(CAMPAIGN, "ht-nx-a", answered=0, lapsed=1, released=1)
    assert book.reserve(CAMPAIGN, "ht-nx-a", 3) == 1
    assert book.unit(CAMPAIGN, "ht-nx-b").room(3) == 3  # no quota said: unlimited
    assert len(book.all_documents()) == 1
