"""``sipas alerts ...``: policy checks and working-time deadlines."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sipas_alerts.config import ConfigError, load_policy
from sipas_alerts.domain.alerts import rule_label

app = typer.Typer(help="Alerts: policy checks, deadlines.", no_args_is_help=True)
console = Console()
PolicyOption = Annotated[
    Path | None, typer.Option("--policy", help="Policy YAML (default: the shipped policy)")
]


@app.command()
def check(policy: PolicyOption = None) -> None:
    """Validate a policy; print the rules, SLAs and calendar."""
    try:
        loaded = load_policy(policy)
    except ConfigError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    table = Table("rule", "enabled", "window / settings", title="Rules (defaults)")
    for rule_id, rule in loaded.rules.model_dump().items():
        if isinstance(rule, dict):
            settings = ", ".join(f"{k}={v}" for k, v in rule.items() if k != "enabled")
            table.add_row(f"{rule_id} ({rule_label(rule_id)})", str(rule["enabled"]), settings)
    console.print(table)
    sla = loaded.sla
    console.print(
        f"SLA: acknowledge {sla.acknowledge_days:g} / resolve {sla.resolve_days:g} working days; "
        f"escalate to {', '.join(sla.escalate_acknowledge_to)} / {', '.join(sla.escalate_resolve_to)}"  # noqa: E501
    )
    calendar = loaded.calendar
    national = "Vietnamese public holidays (holidays library) + " * calendar.national_holidays
    console.print(
        f"Calendar: {calendar.timezone}, {national}"
        f"{len(calendar.holidays)} holiday ranges and {len(calendar.makeup_days)} make-up days "
        f"from the file, {calendar.day_seconds / 3600:g} h/day"
    )
    console.print(f"Campaign overrides: {', '.join(loaded.campaigns) or 'none'}")
    console.print(f"Units with contacts: {len(loaded.routing.units)}")
    console.print("policy OK", style="green")


@app.command()
def due(
    start: Annotated[
        datetime, typer.Argument(help="ISO time with offset, e.g. 2026-11-20T16:00+07:00")
    ],
    days: Annotated[float, typer.Option(help="Working days to add")] = 1,
    policy: PolicyOption = None,
) -> None:
    """When a deadline of ``days`` working days starting at ``start`` falls."""
    try:
        calendar = load_policy(policy).calendar
    except ConfigError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    if start.tzinfo is None:
        start = start.replace(tzinfo=calendar.tz)
    when = calendar.add_days(start, days).astimezone(calendar.tz)
    typer.echo(when.isoformat())
