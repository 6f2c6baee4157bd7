"""Replaying a dead letter, exactly once, to the consumer that failed it.

``sipas dlq replay`` (an operator, NATS user ``admin``) sends one request per letter on
``sipas.replay.<service>``; one instance of the service answers. The service trusts
nothing the letter says beyond *which* (consumer, stream sequence) to look at:

- the consumer must be one of the service's own, and the stream its stream;
- the message is read back from the source stream by its sequence, never taken from the
  letter's body (anyone allowed to publish the DLQ subject could have written that);
- the consumer must hold its own record of having dead-lettered that sequence, and the
  record is taken in the transaction that applies the message
  (``IdempotentConsumer.replay_dead_letter``): a letter is applied at most once, and only
  to that consumer; its usual de-duplication (event id, sequence set, handler) still
  refuses an event it has applied another way;
- when the source message is gone (its stream's age limit, a purge), the letter's body is
  used only with an operator's override, which the CLI records first, append-only, on
  ``SIPAS_OVERRIDES`` (who, when, why); the request names that record.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Literal, Protocol

import structlog
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel, ConfigDict, ValidationError

from sipas_contracts.streams import ConsumerSpec
from sipas_runtime.consumer import NotDeadError
from sipas_runtime.messages import StreamMessage, subject_matches

log = structlog.get_logger(__name__)
Outcome = Literal[
    "applied",
    "already_applied",
    "not_dead",
    "source_gone",
    "unknown_consumer",
    "failed",
    "service_not_running",  # said by the CLI: nobody answered
    "no_such_letter",  # said by the CLI: no letter at that sequence
    "body_withheld",  # said by the CLI: source gone, and the letter kept no personal data
]


class Override(BaseModel):
    """An operator's decision to replay a letter from its own body, as recorded."""

    model_config = ConfigDict(extra="forbid")
    by: str
    why: str
    at: datetime
    record: int
    """Sequence of the record on ``SIPAS_OVERRIDES``."""


class ReplayRequest(BaseModel):
    """Replay the dead letter of ``consumer`` for ``stream`` sequence ``seq``."""

    model_config = ConfigDict(extra="forbid")
    letter: int
    consumer: str
    stream: str
    seq: int
    subject: str = ""
    body: str | None = None
    """The letter's body (base64), used only when the source is gone, with ``override``."""
    override: Override | None = None


class ReplayAnswer(BaseModel):
    """What the service did with one letter."""

    letter: int
    consumer: str
    outcome: Outcome
    detail: str = ""


class _RefusedError(Exception):
    """A request this service will not (or cannot) carry out, and why."""

    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome: Outcome = outcome
        self.detail = detail


class Replayable(Protocol):
    """A consumer that can apply one of its dead letters again."""

    spec: ConsumerSpec

    async def replay_dead_letter(self, msg: StreamMessage) -> Literal["applied", "already_applied"]:
        """Apply the message again, once; ``NotDeadError`` when it is not a dead letter."""


class ReplayDesk:
    """Answers replay requests for the consumers of one service."""

    def __init__(self, js: JetStreamContext, consumers: Mapping[str, Replayable]) -> None:
        self._js = js
        self._consumers = consumers

    async def answer(self, data: bytes) -> ReplayAnswer:
        """Apply one letter again, if and only if it is this service's to apply."""
        try:
            request = ReplayRequest.model_validate_json(data)
        except ValidationError as exc:
            return ReplayAnswer(letter=0, consumer="", outcome="failed", detail=str(exc))
        try:
            outcome = await self._replay(request)
        except _RefusedError as refused:
            return self._answer(request, refused.outcome, refused.detail)
        return self._answer(request, outcome, "")

    async def _replay(self, request: ReplayRequest) -> Outcome:
        consumer = self._consumers.get(request.consumer)
        if consumer is None or consumer.spec.stream != request.stream:
            raise _RefusedError("unknown_consumer", "not a consumer of this service")
        message = await self._source(request)
        if not any(subject_matches(f, message.subject) for f in consumer.spec.filter_subjects):
            raise _RefusedError("unknown_consumer", "the subject is not the consumer's")
        try:
            return await consumer.replay_dead_letter(message)
        except NotDeadError as exc:
            raise _RefusedError("not_dead", str(exc)) from exc
        except Exception as exc:
            raise _RefusedError("failed", f"{type(exc).__name__}: {exc}") from exc

    async def _source(self, request: ReplayRequest) -> StreamMessage:
        try:
            raw = await self._js.get_msg(request.stream, request.seq)
        except NotFoundError:
            if request.body is None or request.override is None:
                raise _RefusedError("source_gone", f"{request.stream} #{request.seq}") from None
            log.warning("dead_letter_replayed_from_its_body", consumer=request.consumer,
                        seq=request.seq, by=request.override.by, why=request.override.why,
                        record=request.override.record)  # fmt: skip
            data = base64.b64decode(request.body)
            return StreamMessage(request.stream, request.seq, request.subject, data, None)
        return StreamMessage(
            request.stream, request.seq, raw.subject or "", raw.data or b"", raw.headers,
            stored_at=raw.time,
        )  # fmt: skip

    @staticmethod
    def _answer(request: ReplayRequest, outcome: Outcome, detail: str) -> ReplayAnswer:
        log.info("dead_letter_replay", consumer=request.consumer, seq=request.seq,
                 letter=request.letter, outcome=outcome, detail=detail)  # fmt: skip
        return ReplayAnswer(
            letter=request.letter, consumer=request.consumer, outcome=outcome, detail=detail
        )
