"""``sipas alerts ...``: API users, policy checks and working-time deadlines."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from sipas_alerts.config import ConfigError, describe, load_policy, load_users
from sipas_alerts.domain.access import KEY_PREFIX, Principal, Role, hash_key
from sipas_alerts.domain.alerts import rule_label

app = typer.Typer(help="Alerts: API users, policy checks, deadlines.", no_args_is_help=True)
console = Console()
PolicyOption = Annotated[
    Path | None, typer.Option("--policy", help="Policy YAML (default: the shipped policy)")
]


@app.command("add-user")
def add_user(
    user_id: Annotated[str, typer.Argument(help="Login id, e.g. cb-codam-1")],
    role: Annotated[Role, typer.Option(help="handler | supervisor | observer")],
    unit: Annotated[str | None, typer.Option(help="The handler's unit code")] = None,
    name: Annotated[str, typer.Option(help="Full name or post")] = "",
    users_file: Annotated[Path | None, typer.Option("--file", help="Append to this file")] = None,
) -> None:
    """Create an API user: prints the key ONCE (only its hash is stored)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    try:
        principal = Principal(id=user_id, name=name, role=role, unit=unit, key_sha256=hash_key(key))
        existing = load_users(users_file) if users_file and users_file.exists() else []
    except ValidationError as exc:
        console.print(f"[red]{describe(exc)}[/]")
        raise typer.Exit(1) from exc
    except ConfigError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    if any(u.id == user_id for u in existing):
        console.print(f"[red]user {user_id!r} already exists in {users_file}[/]")
        raise typer.Exit(1)
    entry: dict[str, Any] = principal.model_dump(exclude_none=True)
    if users_file is not None:
        document = {"users": [u.model_dump(exclude_none=True) for u in existing] + [entry]}
        users_file.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
        users_file.chmod(0o600)
        console.print(f"added {user_id} to {users_file}", style="green")
    else:
        console.print(yaml.safe_dump({"users": [entry]}, allow_unicode=True, sort_keys=False))
    console.print("API key (give it to the user, it is not stored):", style="bold")
    typer.echo(key)


@app.command()
def check(
    policy: PolicyOption = None,
    users: Annotated[Path | None, typer.Option("--users", help="Users YAML to check")] = None,
) -> None:
    """Validate a policy (and users file); print the rules, SLAs and calendar."""
    try:
        loaded = load_policy(policy)
        people = load_users(users)
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
    console.print(f"Units with contacts: {len(loaded.routing.units)}; users: {len(people)}")
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
