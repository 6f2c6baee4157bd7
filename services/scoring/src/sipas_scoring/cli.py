"""Scoring's commands: ``sipas scoring rebuild`` and ``sipas report``.

Both read the scoring database (``SIPAS_MONGO_URL``, ``SIPAS_SCORING_DATABASE``) and,
for the rebuild, the RESPONSES stream (``SIPAS_NATS_URL``); they never write the live
counts.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import nats
import typer
from rich.console import Console
from rich.table import Table

from sipas_runtime.mongo import create_mongo_client
from sipas_scoring.domain import ScoringError
from sipas_scoring.funnel_store import FunnelStore
from sipas_scoring.labels import Lang
from sipas_scoring.profiles import ProfileStore
from sipas_scoring.publication_store import PublicationRecord, PublicationStore
from sipas_scoring.rebuild import RebuildResult, rebuild
from sipas_scoring.report import render_html, render_pdf
from sipas_scoring.settings import Settings
from sipas_scoring.store import AggregateStore
from sipas_scoring.views import NotFoundError, Views

T = TypeVar("T")
app = typer.Typer(help="Scoring: counts, indices and their audit.", no_args_is_help=True)
report_app = typer.Typer(help="The campaign report (HTML + PDF), in Vietnamese by default.")
console = Console()


@app.callback()
def scoring() -> None:
    """Scoring: counts, indices and their audit."""


def _run(work: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(work())  # type: ignore[arg-type]


def _result_table(result: RebuildResult) -> Table:
    """The JSON summary as rows: every figure, then one row per listed example."""
    summary = result.summary()
    table = Table(title="sipas scoring rebuild", show_header=False)
    for key, value in summary.items():
        if not isinstance(value, list):
            table.add_row(key, str(value))
    for example in summary["not_counted_examples"]:
        table.add_row("not counted", f"seq {example['seq']}: {example['reason']}")
    for line in summary["differences"]:
        table.add_row("difference", line)
    return table


@app.command("rebuild")
def rebuild_command(
    write: Annotated[bool, typer.Option(help="Write the fresh copy to aggregates_rebuild")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
) -> None:
    """Replay RESPONSES from the start into fresh counts and compare them with the live ones."""
    settings = Settings()

    async def work() -> RebuildResult:
        nc = await nats.connect(settings.nats_url, pending_size=64 * 1024 * 1024)
        client = create_mongo_client(settings.mongo_url, app_name="sipas-scoring-rebuild")
        try:
            return await rebuild(
                nc, client, settings.database_name, offset=settings.utc_offset, write=write
            )
        finally:
            await nc.close()
            await client.close()

    result = _run(work)
    if as_json:
        sys.stdout.write(json.dumps(result.summary(), ensure_ascii=False, indent=2) + "\n")
    else:
        console.print(_result_table(result))
    if not result.equal:
        raise typer.Exit(1)


async def _snapshot_for(
    views: Views, publications: PublicationStore, campaign: str, *, period: str,
    publication: str | None, preview: bool,
) -> tuple[dict[str, Any], str, PublicationRecord | None]:  # fmt: skip
    if preview:
        table = await views.table(campaign, period)
        return {"table": table, "funnel": await views.funnel(campaign)}, "preview", None
    record = await (
        publications.get(publication)
        if publication
        else publications.latest_published(campaign, period)
    )
    if record is None:
        listed = [r for r in await publications.listing(campaign) if r.period == period]
        record = listed[0] if listed and not publication else None
    if record is None:
        msg = f"no publication for {campaign} {period}; use --preview for live figures"
        raise NotFoundError(msg)
    return await publications.snapshot(record.id) or {}, record.state, record


@report_app.callback(invoke_without_command=True)
def report(  # noqa: PLR0917 - typer maps each parameter to a command-line option
    campaign: Annotated[str, typer.Option(help="Campaign id")],
    period: Annotated[str, typer.Option(help="campaign, YYYY, YYYY-Qn or YYYY-MM")] = "campaign",
    publication: Annotated[
        str | None,
        typer.Option(help="Publication id (default: the published one, else the latest)"),
    ] = None,
    preview: Annotated[bool, typer.Option(help="Live figures, marked as not published")] = False,
    out: Annotated[Path, typer.Option(help="Output folder")] = Path(),
    lang: Annotated[str, typer.Option(help="vi or en")] = "vi",
    pdf: Annotated[bool, typer.Option(help="Also write the PDF")] = True,
) -> None:
    """Write the report of a campaign period as HTML and PDF."""  # fmt: skip
    if lang not in ("vi", "en"):
        console.print(f"[red]lang: {lang!r} is not one of vi, en[/]")
        raise typer.Exit(2)
    settings = Settings()

    async def work() -> tuple[dict[str, Any], str, PublicationRecord | None]:
        client = create_mongo_client(settings.mongo_url, app_name="sipas-report")
        db = client[settings.database_name]
        views = Views(
            client=lambda: client,
            aggregates=lambda: AggregateStore(db),
            funnel=lambda: FunnelStore(db),
            profiles=lambda: ProfileStore(db, settings.profile_defaults()),
            hierarchy=settings.load_hierarchy(),
            settings=settings,
        )
        try:
            return await _snapshot_for(
                views, PublicationStore(db), campaign,
                period=period, publication=publication, preview=preview,
            )  # fmt: skip
        finally:
            await client.close()

    try:
        snapshot, state, record = _run(work)
    except (ScoringError, NotFoundError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    language: Lang = "vi" if lang == "vi" else "en"
    html = render_html(snapshot, state=state, record=record, lang=language)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"sipas-{campaign}-{snapshot['table']['period']}-{state}"
    stem.with_suffix(".html").write_text(html, encoding="utf-8")
    console.print(f"wrote {stem.with_suffix('.html')}")
    if pdf:
        stem.with_suffix(".pdf").write_bytes(render_pdf(html))
        console.print(f"wrote {stem.with_suffix('.pdf')}")
