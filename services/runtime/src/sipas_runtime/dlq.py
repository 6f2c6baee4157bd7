"""``sipas dlq``: inspect dead letters and replay them once their cause is fixed.

A dead letter keeps the original bytes and, in headers, where it came from (stream,
sequence, subject), which consumer gave up on it, the kind of failure and the reason.
Replaying publishes the original bytes to the original subject with the de-duplication id
``replay:<stream>:<seq>`` (a dead letter replayed twice within the window is stored once);
``--delete`` removes the dead letter after a successful replay.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

import nats
import typer
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from rich.console import Console
from rich.table import Table

from sipas_contracts.streams import DEAD_LETTERS
from sipas_runtime.consumer import decode_reason

app = typer.Typer(
    help="Dead letters: list them with their reasons, replay them.", no_args_is_help=True
)
console = Console()
UrlOption = Annotated[str, typer.Option(envvar="SIPAS_NATS_URL", help="NATS server(s)")]
UserOption = Annotated[str | None, typer.Option(envvar="SIPAS_NATS_ADMIN_USER")]
PasswordOption = Annotated[str | None, typer.Option(envvar="SIPAS_NATS_ADMIN_PASSWORD")]


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


async def read_dead_letters(
    js: JetStreamContext, *, service: str | None = None, limit: int = 100
) -> list[DeadLetter]:
    """The newest ``limit`` dead letters (optionally of one service), oldest first."""
    info = await js.stream_info(DEAD_LETTERS.name)
    letters: list[DeadLetter] = []
    seq = info.state.last_seq
    while seq >= info.state.first_seq and len(letters) < limit:
        try:
            raw = await js.get_msg(DEAD_LETTERS.name, seq)
        except NotFoundError:  # deleted after a replay
            seq -= 1
            continue
        owner = (raw.subject or "").rsplit(".", 1)[-1]
        headers = raw.headers or {}
        if service is None or owner == service:
            letters.append(
                DeadLetter(
                    seq=seq,
                    service=owner,
                    kind=headers.get("Sipas-Dlq-Kind", "?"),
                    reason=decode_reason(headers.get("Sipas-Dlq-Reason", "")),
                    consumer=headers.get("Sipas-Dlq-Consumer", "?"),
                    source_subject=headers.get("Sipas-Dlq-Subject", ""),
                    source_stream=headers.get("Sipas-Dlq-Stream", ""),
                    source_seq=headers.get("Sipas-Dlq-Stream-Seq", ""),
                    at=headers.get("Sipas-Dlq-At", ""),
                    data=raw.data or b"",
                )
            )
        seq -= 1
    return list(reversed(letters))


async def replay(js: JetStreamContext, letter: DeadLetter, *, delete: bool) -> int:
    """Publish the dead letter's original bytes to its original subject; return the new seq."""
    ack = await js.publish(
        letter.source_subject,
        letter.data,
        headers={"Nats-Msg-Id": f"replay:{letter.source_stream}:{letter.source_seq}"},
    )
    if delete:
        await js.delete_msg(DEAD_LETTERS.name, letter.seq)
    return int(ack.seq)


async def _connect(url: str, user: str | None, password: str | None) -> Client:
    return await nats.connect(
        url.split(","), user=user, password=password, inbox_prefix="_INBOX_admin"
    )


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

    letters = asyncio.run(show())
    table = Table(title=f"Hàng đợi lỗi / dead letters ({len(letters)})")
    for column in ("seq", "service", "kind", "reason", "source"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        table.add_row(
            str(letter.seq),
            letter.service,
            letter.kind,
            letter.reason,
            f"{letter.source_subject} #{letter.source_seq}",
        )
    console.print(table)


@app.command("replay")
def replay_letters(
    seq: Annotated[list[int], typer.Argument(help="Sequence numbers shown by `sipas dlq list`")],
    url: UrlOption = "nats://127.0.0.1:4222",
    delete: Annotated[bool, typer.Option(help="Remove each dead letter once replayed")] = False,
    user: UserOption = None,
    password: PasswordOption = None,
) -> None:
    """Re-publish dead letters to their original subjects (after fixing the cause)."""

    async def run() -> list[tuple[int, int]]:
        nc = await _connect(url, user, password)
        try:
            js = nc.jetstream()
            letters = {letter.seq: letter for letter in await read_dead_letters(js, limit=100_000)}
            missing = [s for s in seq if s not in letters]
            if missing:
                console.print(f"[red]No dead letter with seq {missing}[/]")
                raise typer.Exit(1)
            return [(s, await replay(js, letters[s], delete=delete)) for s in seq]
        finally:
            await nc.close()

    for old, new in asyncio.run(run()):
        console.print(f"dead letter {old} replayed as {new}")
