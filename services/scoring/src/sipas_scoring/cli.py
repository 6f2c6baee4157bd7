"""Scoring's commands: ``sipas scoring rebuild``, ``sipas scoring migrate``, ``sipas report``.

``migrate`` converts the counts an earlier version stored (JSON text slices inside one
document per unit and month) into slice documents, once, before scoring starts again.
The rebuild reads the scoring database (``SIPAS_MONGO_URL``, ``SIPAS_SCORING_DATABASE``)
and the RESPONSES stream (``SIPAS_NATS_URL``) and never writes the live counts. The
report asks the scoring API (``--url`` / ``SIPAS_SCORING_URL``, an operator ``--key`` /
``SIPAS_SCORING_KEY``), which renders it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import nats
import typer
from rich.console import Console
from rich.table import Table

from sipas_runtime.mongo import create_mongo_client
from sipas_scoring.rebuild import RebuildResult, rebuild
from sipas_scoring.settings import Settings
from sipas_scoring.store.aggregates import migrate

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


@app.command("migrate")
def migrate_command() -> None:
    """Convert counts stored by earlier versions (JSON text slices) into slice documents."""
    settings = Settings()

    async def work() -> dict[str, int]:
        client = create_mongo_client(settings.mongo_url, app_name="sipas-scoring-migrate")
        try:
            return await migrate(client[settings.database_name])
        finally:
            await client.close()

    done = _run(work)
    table = Table(title="sipas scoring migrate", show_header=False)
    for key, value in done.items():
        table.add_row(key, str(value))
    console.print(table)


class ReportError(RuntimeError):
    """Raised when the scoring API cannot give the report (the message says why and what to do)."""


def _problem(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:300]
    return str(body.get("detail") or body.get("title") or body)[:300]


class ReportClient:
    """Fetches reports from the scoring API (operator routes)."""

    def __init__(self, url: str, key: str | None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=120)

    def get(self, path: str, **params: str) -> httpx.Response:
        """A successful answer, else :class:`ReportError` with the reason and the fix."""
        try:
            answer = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            msg = (
                f"cannot reach scoring at {self.url} ({exc}); start the system (sipas up) "
                "or give its address with --url or SIPAS_SCORING_URL"
            )
            raise ReportError(msg) from exc
        if answer.status_code in {401, 403}:
            msg = (
                f"scoring refused the request ({answer.status_code}: {_problem(answer)}); "
                "give an operator key with --key or SIPAS_SCORING_KEY"
            )
            raise ReportError(msg)
        if answer.status_code != 200:  # noqa: PLR2004
            raise ReportError(f"{answer.status_code}: {_problem(answer)}")
        return answer

    def publication(self, campaign: str, period: str) -> dict[str, Any]:
        """The published publication of a campaign period, else its latest one."""
        listed = [
            p
            for p in self.get("/v1/publications", campaign=campaign).json()
            if p["period"] == period
        ]
        published = [p for p in listed if p["state"] == "published"]
        if published or listed:
            return dict((published or listed)[0])
        msg = (
            f"no publication for {campaign} {period}: draft one (POST /v1/publications) "
            "or use --preview for the live figures"
        )
        raise ReportError(msg)

    def close(self) -> None:
        """Close the connection."""
        self._http.close()


def _write_report(
    client: ReportClient,
    *,
    campaign: str,
    period: str,
    publication: str | None,
    preview: bool,
    lang: str,
    pdf: bool,
    out: Path,
) -> list[Path]:
    if preview:
        base, params = "/v1/reports/preview", {"campaign": campaign, "period": period}
        stem = f"sipas-{campaign}-{period}-preview"
    else:
        record = (
            client.get(f"/v1/publications/{publication}").json()
            if publication
            else client.publication(campaign, period)
        )
        base, params = f"/v1/publications/{record['id']}/report", {}
        stem = f"sipas-{record['campaign_id']}-{record['period']}-{record['state']}"
    stem += "" if lang == "vi" else f".{lang}"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in ("html", "pdf") if pdf else ("html",):
        path = out / f"{stem}.{fmt}"
        path.write_bytes(client.get(f"{base}.{fmt}", lang=lang, **params).content)
        written.append(path)
    return written


@report_app.callback(invoke_without_command=True)
def report(  # noqa: PLR0917 - typer maps each parameter to a command-line option
    campaign: Annotated[str, typer.Option(help="Campaign id, e.g. ht-nx-2026")],
    period: Annotated[str, typer.Option(help="campaign, YYYY, YYYY-Qn or YYYY-MM")] = "campaign",
    publication: Annotated[
        str | None,
        typer.Option(help="Publication id (default: the published one, else the latest)"),
    ] = None,
    preview: Annotated[bool, typer.Option(help="Live figures, marked as not published")] = False,
    out: Annotated[Path, typer.Option(help="Output folder")] = Path(),
    lang: Annotated[str, typer.Option(help="vi or en")] = "vi",
    pdf: Annotated[bool, typer.Option(help="Also write the PDF")] = True,
    url: Annotated[
        str, typer.Option(envvar="SIPAS_SCORING_URL", help="Scoring API address")
    ] = "http://127.0.0.1:8083",
    key: Annotated[
        str | None,
        typer.Option(
            envvar="SIPAS_SCORING_KEY", help="Machine key (sipas keys create) with the reader role"
        ),
    ] = None,
) -> None:
    """Write the report of a campaign period (HTML and PDF) from the scoring API."""  # fmt: skip
    if lang not in ("vi", "en"):
        console.print(f"[red]lang: {lang!r} is not one of vi, en[/]")
        raise typer.Exit(2)
    client = ReportClient(url, key)
    try:
        written = _write_report(
            client, campaign=campaign, period=period, publication=publication,
            preview=preview, lang=lang, pdf=pdf, out=out,
        )  # fmt: skip
    except ReportError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    finally:
        client.close()
    for path in written:
        console.print(f"wrote {path}")
