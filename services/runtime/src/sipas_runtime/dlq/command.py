"""``sipas dlq``: inspect dead letters and replay them once their cause is fixed.

A dead letter keeps the original bytes and, in headers, where it came from (stream,
sequence, subject), which consumer gave up on it, the kind of failure and the reason.

Replaying never re-publishes anything. For each letter the CLI asks the service that
owns it (``sipas.replay.<service>``) to apply the source message again to the consumer
that failed it; the service reads the message back from its stream by sequence and
applies it only if that consumer recorded the letter, taking the record in the same
transaction (``sipas_runtime.dlq.replay``): exactly once, to that consumer alone, and a
forged letter names no record. The report says, per letter and consumer, what happened.
A letter whose source message is gone is replayed from its own body only with
``--from-letter-body --by NAME --reason TEXT``, recorded first on ``SIPAS_OVERRIDES``
(append-only: who, when, why). ``--delete`` removes a letter once applied.
"""

from __future__ import annotations

import asyncio
import base64
import getpass
import json
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import nats
import typer
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.js import JetStreamContext
from nats.js.api import StreamState
from nats.js.errors import NotFoundError
from rich.console import Console
from rich.table import Table

from sipas_contracts import subjects
from sipas_contracts.streams import DEAD_LETTERS, OVERRIDES
from sipas_runtime.dlq.letters import decode_reason
from sipas_runtime.dlq.replay import Override, ReplayAnswer, ReplayRequest

app = typer.Typer(
    help="Dead letters: list them with their reasons, replay them.", no_args_is_help=True
)
console = Console()
UrlOption = Annotated[str, typer.Option(envvar="SIPAS_NATS_URL", help="NATS server(s)")]
UserOption = Annotated[str | None, typer.Option(envvar="SIPAS_NATS_ADMIN_USER")]
PasswordOption = Annotated[str | None, typer.Option(envvar="SIPAS_NATS_ADMIN_PASSWORD")]
T = TypeVar("T")
REPLAY_SECONDS = 30.0  # for one service to apply one letter
DONE = ("applied", "already_applied")
SAID = {
    "applied": "đã áp dụng / applied",
    "already_applied": "đã có từ trước, không áp dụng lại / already applied, not again",
    "not_dead": "không còn là thư lỗi của consumer này / not (or no longer) its dead letter",
    "source_gone": "bản gốc không còn trong stream / the source message is gone",
    "unknown_consumer": "không phải consumer của dịch vụ / not a consumer of the service",
    "failed": "vẫn lỗi / failed again",
    "service_not_running": "dịch vụ không chạy / the service is not running",
    "no_such_letter": "không có thư lỗi này / no such dead letter",
    "body_withheld": "bản gốc không còn, thư lỗi không giữ dữ liệu cá nhân: đề nghị hệ thống "
    "TTHC gửi lại / the source is gone and the letter keeps no personal data: ask the TTHC "
    "system to send the record again",
}


class DlqError(RuntimeError):
    """Raised when the DLQ cannot be reached (the message says why, for the operator)."""


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter as stored on the DLQ stream."""

    seq: int
    service: str
    kind: str
    reason: str
    consumer: str
    source_subject: str
    source_stream: str
    source_seq: str
    at: str
    data: bytes
    withheld: bool = False
    """The body was not copied (personal data in clear): it lives only in the source."""


async def read_letter(js: JetStreamContext, seq: int) -> DeadLetter | None:
    """The dead letter at ``seq`` of the DLQ stream (None if there is none)."""
    try:
        raw = await js.get_msg(DEAD_LETTERS.name, seq)
    except NotFoundError:
        return None
    headers = raw.headers or {}
    return DeadLetter(
        seq=seq,
        service=(raw.subject or "").rsplit(".", 1)[-1],
        kind=headers.get("Sipas-Dlq-Kind", "?"),
        reason=decode_reason(headers.get("Sipas-Dlq-Reason", "")),
        consumer=headers.get("Sipas-Dlq-Consumer", "?"),
        source_subject=headers.get("Sipas-Dlq-Subject", ""),
        source_stream=headers.get("Sipas-Dlq-Stream", ""),
        source_seq=headers.get("Sipas-Dlq-Stream-Seq", ""),
        at=headers.get("Sipas-Dlq-At", ""),
        data=raw.data or b"",
        withheld=headers.get("Sipas-Dlq-Body") == "withheld",
    )


async def read_dead_letters(
    js: JetStreamContext, *, service: str | None = None, limit: int = 100
) -> list[DeadLetter]:
    """The newest ``limit`` dead letters (optionally of one service), oldest first."""
    state = await _dlq_state(js)
    if state is None:
        return []
    letters: list[DeadLetter] = []
    seq = state.last_seq
    while state.messages and seq >= state.first_seq and len(letters) < limit:
        letter = await read_letter(js, seq)  # None: deleted after a replay
        if letter is not None and service in (None, letter.service):
            letters.append(letter)
        seq -= 1
    return list(reversed(letters))


async def _dlq_state(js: JetStreamContext) -> StreamState | None:
    """The DLQ stream's state; None before any service has created it."""
    try:
        return (await js.stream_info(DEAD_LETTERS.name)).state
    except NotFoundError:
        return None


async def replay(nc: Client, letter: DeadLetter, override: Override | None = None) -> ReplayAnswer:
    """Ask the letter's service to apply it again to the consumer that failed it."""
    request = ReplayRequest(
        letter=letter.seq,
        consumer=letter.consumer,
        stream=letter.source_stream,
        seq=int(letter.source_seq or 0),
        subject=letter.source_subject,
        body=base64.b64encode(letter.data).decode() if override else None,
        override=override,
    )
    try:
        reply = await nc.request(
            subjects.replay_request(letter.service),
            request.model_dump_json().encode(),
            timeout=REPLAY_SECONDS,
        )
    except NoRespondersError:
        return ReplayAnswer(letter=letter.seq, consumer=letter.consumer,
                            outcome="service_not_running", detail=letter.service)  # fmt: skip
    return ReplayAnswer.model_validate_json(reply.data)


async def record_override(js: JetStreamContext, letter: DeadLetter, by: str, why: str) -> Override:
    """Record, append-only, that ``by`` replays ``letter`` from its body, and why."""
    at = datetime.now(UTC)
    record = {
        "kind": "dlq_replay_from_letter_body",
        "by": by,
        "os_user": getpass.getuser(),
        "why": why,
        "at": at.isoformat(),
        "letter": letter.seq,
        "service": letter.service,
        "consumer": letter.consumer,
        "source": f"{letter.source_stream} #{letter.source_seq}",
        "subject": letter.source_subject,
    }
    ack = await js.publish(
        subjects.DLQ_REPLAY_OVERRIDE, json.dumps(record, ensure_ascii=False).encode()
    )
    if ack.stream != OVERRIDES.name:
        msg = f"the override was stored on {ack.stream}, not {OVERRIDES.name}"
        raise DlqError(msg)
    return Override(by=by, why=why, at=at, record=ack.seq)


async def _connect(url: str, user: str | None, password: str | None) -> Client:
    """Connect once, no retries: wrong credentials or a server that is down fail at once."""
    refused: list[str] = []

    async def on_error(error: Exception) -> None:
        refused.append(str(error))

    try:
        return await nats.connect(
            url.split(","), user=user, password=password, inbox_prefix="_INBOX_admin",
            allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=5,
            error_cb=on_error,
        )  # fmt: skip
    except Exception as exc:
        why = "; ".join(refused) or f"{type(exc).__name__}: {exc}"
        msg = f"Không kết nối được NATS / cannot connect to NATS at {url}: {why}"
        raise DlqError(msg) from exc


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except DlqError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc


@app.command("list")
def list_letters(
    url: UrlOption = "nats://127.0.0.1:4222",
    service: Annotated[str | None, typer.Option(help="Only this service's dead letters")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    user: UserOption = None,
    password: PasswordOption = None,
) -> None:
    """Show the newest dead letters with the reason each was set aside."""

    async def show() -> list[DeadLetter]:
        nc = await _connect(url, user, password)
        try:
            return await read_dead_letters(nc.jetstream(), service=service, limit=limit)
        finally:
            await nc.close()

    letters = _run(show())
    if not letters:
        console.print("Không có thư lỗi nào / no dead letters.")
        return
    table = Table(title=f"Hàng đợi lỗi / dead letters ({len(letters)})")
    for column in ("seq", "service", "consumer", "kind", "reason", "source"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        table.add_row(
            str(letter.seq), letter.service, letter.consumer, letter.kind, letter.reason,
            f"{letter.source_subject} ({letter.source_stream} #{letter.source_seq})",
        )  # fmt: skip
    console.print(table)


@app.command("replay")
def replay_letters(  # noqa: PLR0917 - typer: each parameter is an option
    seq: Annotated[list[int], typer.Argument(help="Sequence numbers shown by `sipas dlq list`")],
    url: UrlOption = "nats://127.0.0.1:4222",
    delete: Annotated[bool, typer.Option(help="Remove each letter once applied")] = False,
    from_letter_body: Annotated[
        bool, typer.Option(help="If the source message is gone, apply the letter's own body")
    ] = False,
    by: Annotated[str | None, typer.Option(help="Who decides (with --from-letter-body)")] = None,
    reason: Annotated[str | None, typer.Option(help="Why (with --from-letter-body)")] = None,
    user: UserOption = None,
    password: PasswordOption = None,
) -> None:
    """Apply dead letters again, each to the consumer that failed it (after fixing the cause)."""
    if from_letter_body and not (by and reason):
        console.print("[red]--from-letter-body cần --by và --reason / needs --by and --reason[/]")
        raise typer.Exit(2)
    override = (by or "", reason or "") if from_letter_body else None
    answers = _run(_replay_all(url, user, password, seq, override=override, delete=delete))
    table = Table(title="Phát lại thư lỗi / dead letters replayed")
    for column in ("letter", "consumer", "outcome", "detail"):
        table.add_column(column, overflow="fold")
    for answer in answers:
        table.add_row(str(answer.letter), answer.consumer, SAID.get(answer.outcome,
                      answer.outcome), answer.detail)  # fmt: skip
    console.print(table)
    if any(a.outcome not in DONE for a in answers):
        raise typer.Exit(1)


async def _replay_all(
    url: str, user: str | None, password: str | None, seqs: list[int], *,
    override: tuple[str, str] | None, delete: bool,
) -> list[ReplayAnswer]:  # fmt: skip
    nc = await _connect(url, user, password)
    try:
        js = nc.jetstream()
        state = await _dlq_state(js)
        if state is None or not state.messages:
            msg = "Hàng đợi lỗi trống / the dead-letter queue is empty"
            raise DlqError(msg)
        return [await _replay_one(js, nc, s, override=override, delete=delete) for s in seqs]
    finally:
        await nc.close()


async def _replay_one(
    js: JetStreamContext, nc: Client, seq: int, *, override: tuple[str, str] | None,
    delete: bool,
) -> ReplayAnswer:  # fmt: skip
    letter = await read_letter(js, seq)
    if letter is None:
        return ReplayAnswer(letter=seq, consumer="", outcome="no_such_letter")
    answer = await replay(nc, letter)
    if answer.outcome == "source_gone" and letter.withheld:
        return answer.model_copy(update={"outcome": "body_withheld"})
    if answer.outcome == "source_gone" and override is not None:
        answer = await replay(nc, letter, await record_override(js, letter, *override))
    if delete and answer.outcome in DONE:
        await js.delete_msg(DEAD_LETTERS.name, letter.seq)
    return answer
