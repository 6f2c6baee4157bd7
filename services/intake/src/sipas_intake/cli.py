"""``sipas import ...`` and ``sipas intake ...``: operators' commands, over intake's HTTP API.

The commands talk to a running intake (``--url``, default ``SIPAS_INTAKE_URL`` or
http://127.0.0.1:8081) with a machine key that carries the operator role (``sipas keys
create``; ``--api-key``, default ``SIPAS_INTAKE_API_KEY``), so an operator's machine needs
no database or NATS access and every record goes through the service's one validation path.

Exit codes: 0 everything accepted; 1 some rows rejected (listed, and written to
``--errors`` as CSV); 2 the file or the service could not be used.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from sipas_intake.spreadsheets import Row, SpreadsheetError, read_table

import_app = typer.Typer(
    help="Import dossier lists and paper forms into intake.", no_args_is_help=True
)
app = typer.Typer(help="Intake administration: kiosks, paper templates.", no_args_is_help=True)
kiosk_app = typer.Typer(help="Counter tablets (kiosks).", no_args_is_help=True)
app.add_typer(kiosk_app, name="kiosk")
console = Console(stderr=True)

Url = Annotated[str, typer.Option(envvar="SIPAS_INTAKE_URL", help="Intake's base URL")]
ApiKey = Annotated[
    str,
    typer.Option(
        envvar="SIPAS_INTAKE_API_KEY",
        help="Machine key (sipas keys create) with the operator or tthc-feed role",
    ),
]
DEFAULT_URL = "http://127.0.0.1:8081"
SHOWN_ERRORS = 20


def _client(url: str, api_key: str) -> httpx.Client:
    return httpx.Client(
        base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {api_key}"}, timeout=120
    )


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]{message}[/]")
    return typer.Exit(2)


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    return f"HTTP {response.status_code}: {body.get('detail', body)}"


def _request(
    url: str,
    api_key: str,
    method: str,
    path: str,
    expect: int,
    *,
    params: dict[str, str] | None = None,
    body: dict[str, str] | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    headers = {"Content-Type": "application/octet-stream"} if content is not None else None
    try:
        with _client(url, api_key) as client:
            response = client.request(
                method, path, params=params, json=body, content=content, headers=headers
            )
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach intake at {url}: {exc}") from exc
    if response.status_code != expect:
        raise _fail(f"intake refused: {_problem(response)}")
    return response


def _send_batch(
    client: httpx.Client, rows: list[Row], params: dict[str, str]
) -> list[dict[str, Any]]:
    response = client.post("/v1/dossiers/batch", params=params, json=[r.cells for r in rows])
    if response.status_code != 200:  # noqa: PLR2004
        raise _fail(f"intake refused the batch: {_problem(response)}")
    return list(response.json()["results"])


def _read(path: Path, sheet: str | None) -> list[Row]:
    try:
        return list(read_table(path.read_bytes(), path.name, sheet=sheet))
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror}") from exc
    except SpreadsheetError as exc:
        raise _fail(f"{path}: {exc}") from exc


def _report(rejected: list[tuple[int, dict[str, Any]]], errors_path: Path | None) -> None:
    table = Table(title="Dòng bị từ chối / rejected rows")
    for column in ("row", "dossier", "field", "reason"):
        table.add_column(column)
    flat = [
        (row, r.get("dossier_id") or "", e["field"], e["reason"])
        for row, r in rejected
        for e in r["errors"]
    ]
    for entry in flat[:SHOWN_ERRORS]:
        table.add_row(str(entry[0]), *entry[1:])
    console.print(table)
    if len(flat) > SHOWN_ERRORS:
        console.print(f"… {len(flat) - SHOWN_ERRORS} more")
    if errors_path is not None:
        with errors_path.open("w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "dossier_id", "field", "reason"])
            writer.writerows(flat)
        console.print(f"All problems written to {errors_path}")


@import_app.command("dossiers")
def import_dossiers(
    file: Annotated[Path, typer.Argument(help="CSV or XLSX export of completed dossiers")],
    *,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
    fmt: Annotated[
        str, typer.Option("--format", help="auto, generic, hoso or a field map (motcua-excel)")
    ] = "auto",
    sheet: Annotated[str | None, typer.Option(help="XLSX sheet (default: the first)")] = None,
    batch: Annotated[int, typer.Option(min=1, max=1000, help="Rows per request")] = 500,
    dry_run: Annotated[bool, typer.Option(help="Validate only; nothing is queued")] = False,
    errors: Annotated[Path | None, typer.Option(help="Write every problem to this CSV")] = None,
) -> None:
    """Validate and queue every row of a dossier list, with a progress bar."""
    rows = _read(file, sheet)
    params = {"format": fmt, "source": "import", "dry_run": str(dry_run).lower()}
    counts = {"accepted": 0, "ignored": 0, "rejected": 0}
    rejected: list[tuple[int, dict[str, Any]]] = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with _client(url, api_key) as client, Progress(*columns, console=console) as progress:
        task = progress.add_task(f"Nhập / importing {file.name}", total=len(rows))
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            try:
                results = _send_batch(client, chunk, params)
            except httpx.HTTPError as exc:
                raise _fail(f"cannot reach intake at {url}: {exc}") from exc
            for row, result in zip(chunk, results, strict=True):
                counts[result["status"]] += 1
                if result["status"] == "rejected":
                    rejected.append((row.number, result))
            progress.advance(task, len(chunk))
    verb = "would be queued" if dry_run else "queued"
    console.print(
        f"{len(rows)} rows: {counts['accepted']} accepted ({verb}), "
        f"{counts['ignored']} ignored (not completed), {counts['rejected']} rejected"
    )
    if rejected:
        _report(rejected, errors)
        raise typer.Exit(1)


@import_app.command("responses")
def import_responses(
    file: Annotated[Path, typer.Argument(help="Filled paper-form template (XLSX)")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
    errors: Annotated[Path | None, typer.Option(help="Write every problem to this CSV")] = None,
) -> None:
    """Import coded paper forms; every rejected row is reported with its column and reason."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}") from exc
    with console.status(f"Nhập phiếu giấy / importing {file.name}"):
        response = _request(
            url,
            api_key,
            "POST",
            "/v1/paper/import",
            200,
            content=data,
        )
    report = response.json()
    console.print(
        f"{report['rows']} rows: {report['recorded']} recorded, "
        f"{report['duplicates']} already imported, {report['rejected']} rejected"
    )
    if report["errors"]:
        _report(
            [(e["row"], {"errors": [e]}) for e in report["errors"]],
            errors,
        )
        raise typer.Exit(1)


@app.command("paper-template")
def paper_template(
    out: Annotated[Path, typer.Argument(help="Where to write the XLSX template")],
    *,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
    instrument: str = "sipas-1001-2023",
    profile: str = "tthc_user",
    campaign_id: str = "",
    unit: str = "",
) -> None:
    """Download the template operators fill with coded paper forms."""
    params = {
        "instrument": instrument,
        "profile": profile,
        "campaign_id": campaign_id,
        "unit": unit,
    }
    response = _request(url, api_key, "GET", "/v1/paper/template", 200, params=params)
    out.write_bytes(response.content)
    console.print(f"wrote {out}")


@kiosk_app.command("add")
def kiosk_add(
    device_id: Annotated[str, typer.Argument(help="Your name for the tablet, e.g. xh-quay-1")],
    *,
    unit: Annotated[str, typer.Option(help="Unit code or name the tablet rates")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
    counter: Annotated[str | None, typer.Option(help="Counter name shown on the tablet")] = None,
    campaign_id: str = "kiosk",
    instrument: str = "sipas-1001-2023",
    profile: str = "counter",
) -> None:
    """Register a tablet; prints the one-time pairing URL to open on it."""
    body = {
        "device_id": device_id,
        "unit": unit,
        "campaign_id": campaign_id,
        "instrument_id": instrument,
        "profile": profile,
    } | ({"counter": counter} if counter else {})
    response = _request(url, api_key, "POST", "/v1/kiosks", 201, body=body)
    sys.stdout.write(response.json()["pairing_url"] + "\n")
    console.print("Open this URL once on the tablet; it is not shown again.")


@kiosk_app.command("list")
def kiosk_list(url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Registered tablets."""
    response = _request(url, api_key, "GET", "/v1/kiosks", 200)
    sys.stdout.write(json.dumps(response.json(), ensure_ascii=False, indent=2) + "\n")


@kiosk_app.command("revoke")
def kiosk_revoke(device_id: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Stop a tablet's key from working."""
    _request(url, api_key, "DELETE", f"/v1/kiosks/{device_id}", 204)
    console.print(f"{device_id} revoked")
