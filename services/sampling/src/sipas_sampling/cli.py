"""``sipas sampling ...``: check campaign files, fetch and verify draws, verify decisions.

``verify`` needs no server and no personal data: an observer (MTTQ, Veterans' Association)
gets the draw export (``GET /v1/campaigns/<id>/draw`` or ``sipas sampling fetch``) and
re-runs the draw from its seed and population snapshot; the lists must match byte for
byte and the substitution log must be an unbroken chain that always took the next reserve.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from sipas_contracts.units import load_hierarchy_file, load_sample_hierarchy
from sipas_sampling.campaigns import CampaignFileError, load_campaign_file
from sipas_sampling.domain.audit import verify_export
from sipas_sampling.domain.continuous import verify_decision
from sipas_sampling.domain.plan import continuous_quotas
from sipas_sampling.domain.scope import units_in_scope
from sipas_sampling.settings import VIETNAM

app = typer.Typer(help="Sampling: campaigns, draws and their verification.", no_args_is_help=True)
console = Console()


def _read_json(path: Path) -> Any:  # noqa: ANN401 - arbitrary JSON document
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        console.print(f"[red]{path}: cannot read JSON: {exc}[/]")
        raise typer.Exit(2) from exc


@app.command()
def verify(export: Annotated[Path, typer.Argument(help="Draw export (JSON) to re-run")]) -> None:
    """Re-run a batch draw from its seed and population; check lists and substitutions."""
    report = verify_export(_read_json(export))
    table = Table(title="Kiểm tra kết quả chọn mẫu / draw verification", show_header=False)
    table.add_row("Population digest (SHA-256)", report.population_digest)
    table.add_row("Lists digest (SHA-256)", report.lists_digest)
    table.add_row("Official / reserve", f"{report.official} / {report.reserve}")
    table.add_row("Substitutions checked", str(report.substitutions))
    console.print(table)
    if not report.ok:
        for problem in report.problems:
            console.print(f"[red]✗ {problem}[/]")
        console.print(
            "[red bold]KHÔNG KHỚP / MISMATCH[/]: the lists were not produced by this draw."
        )
        raise typer.Exit(1)
    console.print(
        "[green bold]KHỚP / MATCH[/]: identical lists re-created from the seed and snapshot."
    )


@app.command("verify-decisions")
def verify_decisions(
    log: Annotated[Path, typer.Argument(help="Decision log (JSON) of a continuous campaign")],
) -> None:
    """Recompute every draw of a continuous campaign and check each logged outcome."""
    document = _read_json(log)
    seed = document["seed"]
    problems = []
    checked = 0
    for dossier, _unit, value, rate, outcome in document["decisions"]:
        if value is None:
            continue
        checked += 1
        problem = verify_decision(seed, dossier, value, rate, outcome)
        if problem:
            problems.append(f"{dossier}: {problem}")
    console.print(f"{checked} draws recomputed for campaign {document.get('campaign_id')}")
    for problem in problems[:20]:
        console.print(f"[red]✗ {problem}[/]")
    if problems:
        raise typer.Exit(1)
    console.print("[green bold]KHỚP / MATCH[/]")


@app.command()
def fetch(
    url: Annotated[str, typer.Option(help="Sampling base URL")],
    campaign: Annotated[str, typer.Option(help="Campaign id")],
    key: Annotated[
        str,
        typer.Option(
            envvar="SIPAS_SAMPLING_API_KEY",
            help="Machine key (sipas keys create) with the observer role",
        ),
    ],
    out: Annotated[Path, typer.Option(help="Where to write the export")] = Path("draw.json"),
    decisions: Annotated[bool, typer.Option(help="Fetch the decision log instead")] = False,
) -> None:
    """Download a draw export (or a decision log) for ``verify``."""
    path = "decisions" if decisions else "draw"
    response = httpx.get(
        f"{url.rstrip('/')}/v1/campaigns/{campaign}/{path}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    if response.status_code != 200:  # noqa: PLR2004
        console.print(f"[red]{response.status_code}: {response.text[:300]}[/]")
        raise typer.Exit(1)
    out.write_text(json.dumps(response.json(), ensure_ascii=False, indent=1), encoding="utf-8")
    console.print(f"wrote {out}")


@app.command()
def check(
    campaign_file: Annotated[Path, typer.Argument(help="Campaign YAML")],
    hierarchy: Annotated[
        Path | None, typer.Option(help="Unit hierarchy YAML (default: shipped sample)")
    ] = None,
    sample: Annotated[
        str | None, typer.Option(help="Name of a shipped hierarchy, e.g. dong-nai-example")
    ] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="Day a template (a file with as_of) is instantiated for (default: today)",
        ),
    ] = None,
) -> None:
    """Validate a campaign file and show its units, dates and (continuous) quotas."""
    units_file = (
        load_hierarchy_file(hierarchy)
        if hierarchy
        else load_sample_hierarchy(sample or "ha-tinh-nghi-xuan")
    )
    try:
        campaign = load_campaign_file(
            campaign_file, units_file, as_of=as_of.date() if as_of else datetime.now(VIETNAM).date()
        )
    except CampaignFileError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    units = units_in_scope(campaign, units_file)
    window = campaign.window
    console.print(
        f"{campaign.id}: {campaign.name_vi}\n"
        f"results delivered {window.start} → {window.end}; fieldwork until {campaign.closes_on}"
        + (f"; ranked on {campaign.n_min_unit} forms per unit" if campaign.n_min_unit else "")
    )
    table = Table(title=f"{campaign.id} — {campaign.mode}")
    table.add_column("Unit")
    table.add_column("Name")
    table.add_column("Quota", justify="right")
    quotas, _ = continuous_quotas(campaign, units) if campaign.mode == "continuous" else ({}, {})
    for unit in units:
        quota = quotas.get(unit)
        table.add_row(unit, units_file.get(unit).name_vi, "" if quota is None else str(quota))
    console.print(table)
    total = sum(q for q in quotas.values() if q is not None)
    console.print(f"{len(units)} units; total quota {total or '(drawn at batch time)'}")
