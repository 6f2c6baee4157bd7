"""Files generated from code (NATS accounts, permission tables): written, or checked."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()


def write_or_check(path: Path, wanted: str, *, check: bool, command: str) -> None:
    """Write ``wanted`` to ``path``; with ``check``, exit 1 when the file differs instead."""
    if check:
        if not path.is_file() or path.read_text() != wanted:
            console.print(f"[red]{path} is stale[/]; run: {command}")
            raise typer.Exit(1)
        console.print(f"{path} is current.")
        return
    path.write_text(wanted)
    console.print(f"wrote {path}")
