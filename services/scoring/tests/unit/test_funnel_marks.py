"""The funnel's "responded" marks ride with the counts' checkpoints (issue #22)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from sipas_runtime.batches import Delivery
from sipas_runtime.writes import Writes
from sipas_scoring.counts import Counts
from sipas_scoring.domain.periods import VIETNAM_OFFSET
from sipas_scoring.store.funnel import INVITATIONS
from sipas_scoring.testing import C2640, answers_for, resp

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def answering(seq: int, invitation: UUID | None, mode: str = "online") -> Delivery:
    event = resp(
        answers_for(C2640, 5), unit="ht-nx-co-dam", occurred_at=NOW,
        invitation_id=invitation, collection_mode=mode,
    )  # fmt: skip
    return Delivery(event, seq, "s", 1)


def marks(counts: Counts) -> dict[str, dict]:
    writes = Writes("sipas")
    counts.contents(writes)
    return {
        model._filter["_id"]: model._doc
        for collection, model in zip(writes._collections, writes._models, strict=True)
        if collection == INVITATIONS
    }


def test_a_checkpoint_marks_each_invitation_its_responses_answered():
    counts = Counts(VIETNAM_OFFSET, clock=lambda: NOW)
    sms, zalo = uuid4(), uuid4()

    counts.fold([answering(1, sms), answering(2, None, "kiosk"), answering(3, zalo, "phone")])

    assert marks(counts) == {
        str(sms): {
            "$set": {"responded": True, "response_mode": "online"},
            "$setOnInsert": {"campaign_id": "c2026", "unit": "ht-nx-co-dam"},
        },
        str(zalo): {
            "$set": {"responded": True, "response_mode": "phone"},
            "$setOnInsert": {"campaign_id": "c2026", "unit": "ht-nx-co-dam"},
        },
    }


def test_a_mark_written_is_not_written_again_but_one_folded_meanwhile_is():
    counts = Counts(VIETNAM_OFFSET, clock=lambda: NOW)
    first, later = uuid4(), uuid4()
    counts.fold([answering(1, first)])
    marks(counts)  # the checkpoint is in flight...

    counts.fold([answering(2, later)])  # ...while another batch is folded
    counts.saved()

    assert set(marks(counts)) == {str(later)}


def test_marks_of_a_checkpoint_that_failed_are_written_by_the_next():
    counts = Counts(VIETNAM_OFFSET, clock=lambda: NOW)
    invitation = uuid4()
    counts.fold([answering(1, invitation)])

    marks(counts)  # its transaction fails: saved() is never called

    assert set(marks(counts)) == {str(invitation)}


def test_an_instance_that_loses_the_counts_forgets_their_marks():
    counts = Counts(VIETNAM_OFFSET, clock=lambda: NOW)
    counts.fold([answering(1, uuid4())])

    counts.clear()

    assert marks(counts) == {}
