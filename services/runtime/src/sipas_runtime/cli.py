"""The ``sipas`` command line.

Core commands live here; services add their own sub-commands (``sipas sampling verify``,
``sipas scoring rebuild``...) through the ``sipas.cli`` entry-point group, and are started
through the ``sipas.services`` group, so this module never imports a service directly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path
from types import FrameType
from typing import Annotated

import nats
import typer
from rich.console import Console
from rich.table import Table

import sipas_contracts
from sipas_contracts.schemas import stale_schema_files, write_schema_files
from sipas_runtime.dlq.command import app as dlq_app
from sipas_runtime.generated import write_or_check
from sipas_runtime.i18n_commands import app as i18n_app
from sipas_runtime.identity.bucket import ensure_bucket, register_key
from sipas_runtime.identity.commands import audit_app, identity_app, keys_app
from sipas_runtime.launcher import SERVICES
from sipas_runtime.nats_access import inbox_prefix, render_accounts
from sipas_runtime.stack import ALERTMANAGER_KEY, Stack, StackError
from sipas_runtime.streams import ensure_streams

app = typer.Typer(
    name="sipas",
    help="SIPAS Live: event-driven measurement of satisfaction with public services.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
contracts_app = typer.Typer(
    help="Event contracts: JSON Schema and AsyncAPI export.", no_args_is_help=True
)
nats_app = typer.Typer(
    help="NATS users, permissions and stream provisioning.", no_args_is_help=True
)
app.add_typer(contracts_app, name="contracts")
app.add_typer(keys_app, name="keys")
app.add_typer(identity_app, name="identity")
app.add_typer(audit_app, name="audit")
app.add_typer(nats_app, name="nats")
app.add_typer(dlq_app, name="dlq")
app.add_typer(i18n_app, name="i18n")
console = Console()

DEFAULT_WORKDIR = Path(".sipas")
SCHEMA_DIR = Path(sipas_contracts.__file__).resolve().parents[2] / "schemas"
ACCOUNTS_FILE = (
    Path(sipas_contracts.__file__).resolve().parents[3] / "deploy" / "nats" / "accounts.conf"
)


def _terminate_on_sigterm() -> None:
    """SIGTERM stops the stack as Ctrl-C does, and Ctrl-C always does.

    A shell without job control starts background commands with SIGINT ignored, and the
    ignoring is inherited: ``sipas up &`` from a script could then not be stopped with SIGINT.
    """

    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _service_entry_points() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group="sipas.services")}


@app.command()
def run(
    service: Annotated[str, typer.Argument(help="intake | sampling | scoring | alerts | console")],
) -> None:
    """Run one service in this process (configured by SIPAS_* environment variables)."""
    available = _service_entry_points()
    if service not in available:
        console.print(
            f"[red]Unknown service {service!r}[/]; choose one of: {', '.join(sorted(available))}"
        )
        raise typer.Exit(2)
    main = available[service].load()  # type: ignore[attr-defined]
    main()


def _url_table(stack: Stack) -> Table:
    table = Table(title="SIPAS Live — địa chỉ dịch vụ / service URLs", show_lines=False)
    table.add_column("Dịch vụ / Service")
    table.add_column("Trang / API docs")
    table.add_column("Metrics")
    for name in stack.services:
        page = stack.url(name) if name == "console" else f"{stack.url(name)}/docs"
        table.add_row(name, page, f"{stack.url(name)}/metrics")
    return table


@app.command()
def up(
    workdir: Annotated[
        Path, typer.Option(help="Where logs, secrets and embedded data live")
    ] = DEFAULT_WORKDIR / "up",
    dev_outbox: Annotated[
        bool, typer.Option(help="Keep invitations readable at /dev/outbox")
    ] = True,
) -> None:
    """Start the whole system (embedded NATS + Mongo unless SIPAS_NATS_URL/_MONGO_URL are set)."""
    _terminate_on_sigterm()
    extra = {"SIPAS_SAMPLING_DEV_OUTBOX": "true" if dev_outbox else "false"}
    stack = Stack(workdir.resolve(), extra_env=extra)
    try:
        with console.status("Starting NATS, Mongo, the four services and the console…"):
            stack.start()
        console.print(_url_table(stack))
        console.print(f"NATS: {stack.nats_url}   Mongo: {stack.mongo_url}")
        console.print(f"Logs: {workdir / 'logs'}   Secrets (dev): {workdir / 'secrets.env'}")
        console.print(
            f"Console sign-in (dev): {workdir / 'dev-supervisor.txt'}   "
            f"machine keys (dev): {workdir / 'dev-keys.json'}"
        )
        console.print("Ctrl-C to stop.")
        while True:
            time.sleep(1)
            stack.check()
    except KeyboardInterrupt:
        console.print("Stopping…")
    except StackError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    finally:
        stack.stop()


@app.command()
def demo(
    duration: Annotated[
        float,
        typer.Option(
            help="Seconds to simulate, then print the summary and exit (0 = until Ctrl-C)"
        ),
    ] = 60.0,
    rate: Annotated[
        float, typer.Option(help="Dossiers completed per second across the province")
    ] = 4.0,
    seed: Annotated[int, typer.Option(help="Seed of the simulated province")] = 2020,
    workdir: Annotated[
        Path, typer.Option(help="Where logs, secrets and embedded data live")
    ] = DEFAULT_WORKDIR / "demo",
    free_ports: Annotated[
        bool, typer.Option(help="Let the services take free ports instead of 8080-8084")
    ] = False,
) -> None:
    """Run the system against a simulated province (seed 002's 17 communes).

    The previous period is replayed quickly (the seed 002 plan for today: export, draw,
    425 interviews, every commune ranked on its 25 forms) while today's dossiers and
    answers flow live.
    """
    from sipas_runtime.demo import run_demo  # noqa: PLC0415 - rich/httpx loaded only for the demo

    _terminate_on_sigterm()
    code = run_demo(
        workdir=workdir.resolve(),
        duration=duration,
        rate=rate,
        seed=seed,
        console=console,
        free_ports=free_ports,
    )
    raise typer.Exit(code)


@contracts_app.command("export")
def contracts_export(
    directory: Annotated[Path, typer.Option(help="Output folder")] = SCHEMA_DIR,
    check: Annotated[bool, typer.Option(help="Only check that the files are current")] = False,
) -> None:
    """Write JSON Schema for every event (and asyncapi.json) to contracts/schemas/."""
    if check:
        stale = stale_schema_files(directory)
        if stale:
            console.print(f"[red]Stale schema files in {directory}:[/] {', '.join(stale)}")
            console.print("Run: sipas contracts export")
            raise typer.Exit(1)
        console.print(f"Schemas in {directory} are current.")
        return
    for path in write_schema_files(directory):
        console.print(f"wrote {path}")


@nats_app.command("config")
def nats_config(
    output: Annotated[Path, typer.Option(help="Where to write the accounts block")] = ACCOUNTS_FILE,
    check: Annotated[bool, typer.Option(help="Only check that the file is current")] = False,
    partitions: Annotated[int, typer.Option(envvar="SIPAS_PARTITIONS")] = 0,
) -> None:
    """Render NATS users and per-service permissions from the contracts (accounts.conf)."""
    accounts = render_accounts(partitions)
    write_or_check(output, accounts, check=check, command="sipas nats config")


@nats_app.command("provision")
def nats_provision(
    url: Annotated[str, typer.Option(envvar="SIPAS_NATS_URL")] = "nats://127.0.0.1:4222",
    user: Annotated[str | None, typer.Option(envvar="SIPAS_NATS_ADMIN_USER")] = None,
    password: Annotated[str | None, typer.Option(envvar="SIPAS_NATS_ADMIN_PASSWORD")] = None,
    replicas: Annotated[int, typer.Option(envvar="SIPAS_STREAM_REPLICAS")] = 1,
    partitions: Annotated[int, typer.Option(envvar="SIPAS_PARTITIONS")] = 0,
) -> None:
    """Create or update every JetStream stream and the identity bucket (as the admin user).

    With ``SIPAS_ALERTMANAGER_KEY`` in the environment, that key is registered for the
    Alertmanager hook (role alertmanager), as a deployment's env file provides it.
    """
    hook_key = os.environ.get(ALERTMANAGER_KEY)

    async def provision() -> None:
        nc = await nats.connect(
            url.split(","), user=user, password=password, inbox_prefix=inbox_prefix("admin")
        )
        try:
            await ensure_streams(nc.jetstream(), replicas=replicas, partitions=partitions)
            kv = await ensure_bucket(nc.jetstream(), replicas=replicas)
            if hook_key:
                await register_key(
                    kv,
                    hook_key,
                    name="Alertmanager",
                    roles=["alertmanager"],
                    created_by="provision",
                )
        finally:
            await nc.close()

    asyncio.run(provision())
    console.print(f"streams provisioned on {url} with {replicas} replica(s)")


def _core_commands() -> set[str]:
    groups = {group.name for group in app.registered_groups}
    commands = {
        command.name or command.callback.__name__.replace("_", "-")
        for command in app.registered_commands
        if command.callback is not None
    }
    return {name for name in groups | commands if name}


def _install_plugins(argv: list[str]) -> None:
    """Add the services' sub-commands: only the one asked for when there is one.

    Loading a plugin imports its service (about a second each: ``sipas alerts`` loads the
    holiday calendars), so ``sipas sampling verify`` loads sampling's alone, a core command
    none, and help or an unknown command all of them (to list them).
    """
    plugins = {ep.name: ep for ep in entry_points(group="sipas.cli")}
    asked = argv[1] if len(argv) > 1 else ""
    if asked in plugins:
        plugins = {asked: plugins[asked]}
    elif asked in _core_commands():
        plugins = {}
    for name, ep in plugins.items():
        try:
            app.add_typer(ep.load(), name=name)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the CLI
            console.print(f"[yellow]warning: cannot load sipas {name}: {exc}[/]")


def main() -> None:
    """Entry point of the ``sipas`` script."""
    _install_plugins(sys.argv)
    app()


__all__ = ["SERVICES", "app", "main"]


if __name__ == "__main__":
    main()
