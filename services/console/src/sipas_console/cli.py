"""``sipas console ...``: the first supervisor, before anyone can sign in.

``bootstrap`` creates a supervisor account in the console's database (``SIPAS_MONGO_URL``,
``SIPAS_CONSOLE_DATABASE``): the person who then signs in to the console and creates
everyone else. With ``SIPAS_ENV=production`` the console refuses to start until one exists.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from pymongo import AsyncMongoClient
from rich.console import Console

from sipas_console.people.accounts import AccountError, AccountStore, Person
from sipas_console.people.signin import PasswordRejectedError, hash_password
from sipas_console.settings import Settings
from sipas_runtime.audit import AuditLog
from sipas_runtime.mongo import ensure_collections

app = typer.Typer(help="Console: the first supervisor account.", no_args_is_help=True)
console = Console(stderr=True)


@app.command()
def bootstrap(
    username: Annotated[str, typer.Option(help="Sign-in name, e.g. snv.quantri")],
    name: Annotated[str, typer.Option(help="Full name and post")],
    unit: Annotated[str, typer.Option(help="Scope root (default: the province)")] = "",
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input (scripts)")
    ] = False,
) -> None:
    """Create a supervisor account (asks for the password twice unless --password-stdin)."""
    password = (
        sys.stdin.readline().rstrip("\n")
        if password_stdin
        else typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    )
    settings = Settings()
    try:
        person = Person(
            id=username.strip().lower(),
            username=username,
            name=name,
            roles=("supervisor",),
            units=(unit or settings.load_hierarchy().province,),
            password=hash_password(password),
            created_at=datetime.now(UTC),
            updated_at=datetime.now(UTC),
        )
        asyncio.run(_create(settings, person))
    except (AccountError, PasswordRejectedError, ValueError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    console.print(f"supervisor {person.username} created; sign in at {settings.public_url}")


async def _create(settings: Settings, person: Person) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        settings.mongo_url, tz_aware=True
    )
    try:
        db = client[settings.database_name]
        await ensure_collections(db, ["people", "audit", "audit_head"])
        accounts = AccountStore(db)
        await accounts.create_indexes()
        await accounts.add(person)
        audit = AuditLog(lambda: client, settings.database_name, "console")
        await audit.record(
            "person_created", actor="bootstrap", target=person.id, roles="supervisor"
        )
    finally:
        await client.close()
