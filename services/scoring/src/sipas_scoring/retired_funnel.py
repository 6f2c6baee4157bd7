"""The retired funnel durable: its last marks written, then it is deleted (issue #22).

Earlier versions read every response twice: the counts' durable (``scoring-responses``)
and the funnel's (``scoring-funnel-responses``), which marked the invitations answered.
Now the counts' checkpoints write the marks (``sipas_scoring.counts``). On a deployment
upgraded from such a version, the old durable stopped somewhere: the responses after its
position are counted (up to the counts' checkpoint) but perhaps not marked.

So each new owner of the counts, right after taking them over (it has claimed the
position, so no other instance checkpoints meanwhile), looks for the old durable or its
stored position and, if either is there, reads back the responses from the lower of the
two (its ack floor, its stored floor) up to the highest sequence of the checkpoint it
loaded, and marks their invitations in the funnel. Marks are idempotent, so marking again
what the old durable had marked changes nothing, and nothing is counted: the counts
already hold these responses. Then the durable and its position are deleted. Responses
above the checkpoint are the owner's own to fold, and their marks go with its next
checkpoint. If the owner dies half-way, the durable is still there and the next owner does
it again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import structlog
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from sipas_contracts.streams import SCORING_FUNNEL_RESPONSES, SCORING_RESPONSES
from sipas_runtime.messages import StreamMessage
from sipas_runtime.mongo import Document, in_transaction
from sipas_runtime.positions import WATERMARKS
from sipas_runtime.resume import replay
from sipas_runtime.sequences import AppliedSequences
from sipas_scoring.domain.funnel import Answered
from sipas_scoring.handlers import decode_answered
from sipas_scoring.store.funnel import FunnelStore

RETIRED = SCORING_FUNNEL_RESPONSES
log = structlog.get_logger(__name__)


async def retired_floor(
    js: JetStreamContext, client: AsyncMongoClient[Document], db: str
) -> int | None:
    """Where the retired durable stopped (its ack floor or stored floor, the lower), if there."""
    floors = []
    with contextlib.suppress(NotFoundError):
        info = await js.consumer_info(RETIRED.stream, RETIRED.durable)
        floors.append(int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0)
    stored = await client[db][WATERMARKS].find_one({"_id": RETIRED.durable})
    if stored is not None:
        floors.append(AppliedSequences.from_document(stored).floor)
    return min(floors) if floors else None


async def finish_retired_marks(
    js: JetStreamContext,
    client: AsyncMongoClient[Document],
    db: str,
    funnel: FunnelStore,
    checkpoint: AppliedSequences,
) -> int:
    """Mark what the retired durable left unmarked, then delete it; returns responses read."""
    floor = await retired_floor(js, client, db)
    if floor is None:
        return 0

    async def mark(messages: Sequence[StreamMessage]) -> None:
        answers: list[Answered] = []
        for message in messages:
            try:
                answers.append(decode_answered(message.data))
            except ValidationError:  # the old durable dead-lettered it: nothing to mark
                log.warning("retired_marks_unreadable", seq=message.seq)
        if not any(a.invitation_id for a in answers):
            return

        async def work(session: AsyncClientSession) -> None:
            await funnel.mark_responded(answers, session)

        await in_transaction(client, work)

    read = await replay(js, SCORING_RESPONSES, floor + 1, checkpoint.highest, mark)
    with contextlib.suppress(NotFoundError):  # deleted already (an operator, another owner)
        await js.delete_consumer(RETIRED.stream, RETIRED.durable)
    await client[db][WATERMARKS].delete_one({"_id": RETIRED.durable})
    log.info(
        "retired_durable_deleted", durable=RETIRED.durable, first=floor + 1,
        last=checkpoint.highest, responses=read,
    )  # fmt: skip
    return read
