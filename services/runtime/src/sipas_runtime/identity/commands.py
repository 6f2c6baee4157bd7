"""``sipas keys``, ``sipas identity``, ``sipas audit``: keys at run time, docs, audit logs.

Machine keys live in the identity bucket on NATS (``SIPAS_NATS_URL``, the admin user of a
deployment: ``SIPAS_NATS_ADMIN_USER``/``_PASSWORD``); every instance of every service sees a
new or revoked key within seconds. ``create`` prints the key once; only its hash is stored.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import nats
import typer
from nats.js.kv import KeyValue
from pymongo import AsyncMongoClient
from rich.console import Console
from rich.table import Table

from sipas_runtime.audit import AuditEntry, AuditLog, verify
from sipas_runtime.generated import write_or_check
from sipas_runtime.identity.bucket import create_key, ensure_bucket, list_records, revoke_key
from sipas_runtime.identity.keys import KeyRecord
from sipas_runtime.identity.roles import ROLES
from sipas_runtime.identity.tables import route_tables, updated
from sipas_runtime.nats_access import inbox_prefix
from sipas_runtime.privacy import KeyPair
from sipas_runtime.stack import deployment_secrets

T = TypeVar("T")
keys_app = typer.Typer(
    help="Machine keys (create, list, revoke at run time) and a deployment's secrets.",
    no_args_is_help=True,
)
identity_app = typer.Typer(help="Identity: roles, permissions, route tables.", no_args_is_help=True)
console = Console()
DOCS = Path(__file__).resolve().parents[5] / "docs" / "identity.md"

NatsUrl = Annotated[str, typer.Option("--nats-url", envvar="SIPAS_NATS_URL")]
NatsUser = Annotated[str | None, typer.Option("--nats-user", envvar="SIPAS_NATS_ADMIN_USER")]
NatsPassword = Annotated[
    str | None, typer.Option("--nats-password", envvar="SIPAS_NATS_ADMIN_PASSWORD")
]


def _on_bucket(
    url: str, user: str | None, password: str | None, work: Callable[[KeyValue], Awaitable[T]]
) -> T:
    async def run() -> T:
        nc = await nats.connect(
            url.split(","), user=user, password=password, inbox_prefix=inbox_prefix("admin")
        )
        try:
            return await work(await ensure_bucket(nc.jetstream()))
        finally:
            await nc.close()

    return asyncio.run(run())


@keys_app.command("create")
def keys_create(
    *,
    name: Annotated[str, typer.Option(help="Who uses it, e.g. 'Một cửa Hà Tĩnh'")],
    role: Annotated[list[str], typer.Option(help=f"Role(s): {', '.join(ROLES)}")],
    unit: Annotated[list[str] | None, typer.Option(help="Unit code(s) of its scope")] = None,
    days: Annotated[int, typer.Option(min=1, max=3650, help="Valid for this many days")] = 365,
    by: Annotated[str, typer.Option(help="Who creates it (recorded)")] = "sipas keys",
    url: NatsUrl = "nats://127.0.0.1:4222",
    user: NatsUser = None,
    password: NatsPassword = None,
) -> None:
    """Make a machine key; prints it ONCE (only its hash is kept)."""

    async def work(kv: KeyValue) -> tuple[str, KeyRecord]:
        return await create_key(
            kv,
            name=name,
            roles=role,
            units=unit or (),
            created_by=by,
            lifetime=timedelta(days=days),
        )

    try:
        key, record = _on_bucket(url, user, password, work)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    console.print(f"key {record.id} for {record.name}: {', '.join(record.roles)}, "
                  f"until {record.expires_at:%Y-%m-%d}. Copy it now, it is not shown again:",
                  style="bold")  # fmt: skip
    sys.stdout.write(key + "\n")


@keys_app.command("list")
def keys_list(
    url: NatsUrl = "nats://127.0.0.1:4222",
    user: NatsUser = None,
    password: NatsPassword = None,
) -> None:
    """Every machine key's record: id, name, roles, units, status, dates."""
    records = _on_bucket(url, user, password, list_records)
    now = datetime.now(UTC)
    table = Table("id", "name", "roles", "units", "status", "created", "expires")
    for r in sorted(records, key=lambda r: r.created_at):
        table.add_row(r.id, r.name, ", ".join(r.roles), ", ".join(r.units), r.status(now),
                      f"{r.created_at:%Y-%m-%d}", f"{r.expires_at:%Y-%m-%d}")  # fmt: skip
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (sipas keys list)")],
    by: Annotated[str, typer.Option(help="Who revokes it (recorded)")] = "sipas keys",
    url: NatsUrl = "nats://127.0.0.1:4222",
    user: NatsUser = None,
    password: NatsPassword = None,
) -> None:
    """Revoke a key: every service refuses it within seconds."""
    revoked = _on_bucket(url, user, password, lambda kv: revoke_key(kv, key_id, by=by))
    if revoked is None:
        console.print(f"[red]no key {key_id!r}[/]")
        raise typer.Exit(1)
    console.print(f"key {key_id} revoked at {revoked.revoked_at:%Y-%m-%d %H:%M} UTC")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a fresh set of secrets as an env file (keys, key pairs, NATS passwords, hook key)."""
    sys.stdout.write("# SIPAS Live secrets — keep out of version control\n")
    for name, value in deployment_secrets().items():
        sys.stdout.write(f"{name}={value}\n")


@keys_app.command("pair")
def keys_pair() -> None:
    """Print one Curve25519 key pair (base64)."""
    pair = KeyPair.generate()
    sys.stdout.write(f"secret_key={pair.secret_key}\npublic_key={pair.public_key}\n")


@identity_app.command("docs")
def identity_docs(
    output: Annotated[Path, typer.Option(help="The document to update")] = DOCS,
    check: Annotated[bool, typer.Option(help="Only check that the tables are current")] = False,
) -> None:
    """Write the roles, permissions and every route table into docs/identity.md."""
    current = output.read_text() if output.is_file() else "# Identity\n"
    write_or_check(
        output, updated(current, route_tables()), check=check, command="sipas identity docs"
    )


audit_app = typer.Typer(
    help="The audit logs: verify their hash chains, export them.", no_args_is_help=True
)
ServiceArg = Annotated[
    str, typer.Argument(help="Whose log: intake | sampling | scoring | alerts | console")
]
MongoUrl = Annotated[str, typer.Option("--mongo-url", envvar="SIPAS_MONGO_URL")]
Database = Annotated[str | None, typer.Option(help="Database (default: sipas_<service>)")]


def _log(service: str, url: str, database: str | None) -> tuple[AsyncMongoClient[Any], AuditLog]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(url, tz_aware=True)
    return client, AuditLog(lambda: client, database or f"sipas_{service}", service)


async def _read(service: str, url: str, database: str | None) -> tuple[list[AuditEntry], Any]:
    client, log = _log(service, url, database)
    try:
        return await log.entries(), await log.head()
    finally:
        await client.close()


@audit_app.command("verify")
def audit_verify(
    service: ServiceArg,
    url: MongoUrl = "mongodb://127.0.0.1:27017/?directConnection=true",
    database: Database = None,
    export: Annotated[
        Path | None, typer.Option("--file", help="Verify an export (JSON lines) instead")
    ] = None,
) -> None:
    """Re-compute a log's hash chain; exit 1 naming the first entry that does not hold."""
    if export is not None:
        lines = [line for line in export.read_text(encoding="utf-8").splitlines() if line]
        entries = [AuditEntry.model_validate_json(line) for line in lines]
        head = (entries[-1].seq, entries[-1].hash) if entries else None
    else:
        entries, head = asyncio.run(_read(service, url, database))
    breaches = verify(entries, head)
    for breach in breaches:
        console.print(f"[red]entry {breach.seq}: {breach.reason}[/]")
    if breaches:
        raise typer.Exit(1)
    console.print(f"{service}: {len(entries)} entries, chain intact", style="green")


@audit_app.command("export")
def audit_export(
    service: ServiceArg,
    url: MongoUrl = "mongodb://127.0.0.1:27017/?directConnection=true",
    database: Database = None,
) -> None:
    """Write a log as JSON lines (oldest first) to standard output."""
    entries, _head = asyncio.run(_read(service, url, database))
    for entry in entries:
        sys.stdout.write(entry.model_dump_json() + "\n")
