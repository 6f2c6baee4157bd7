"""``sipas i18n``: keep every package's Vietnamese catalogue complete."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

import sipas_contracts
from sipas_runtime import i18n

app = typer.Typer(
    help="The message catalogue: Vietnamese translations of every user-facing text.",
    no_args_is_help=True,
)
console = Console()
ROOT = Path(sipas_contracts.__file__).resolve().parents[3]


def _text_packages() -> list[Path]:
    """Every workspace package (sipas_*) with sources to translate."""
    candidates = [ROOT / "services" / "runtime" / "src" / "sipas_runtime"]
    candidates += sorted((ROOT / "services").glob("*/src/sipas_*"))
    return sorted(set(candidates))


@app.command("extract")
def i18n_extract() -> None:
    """Add newly marked messages to each package's Vietnamese catalogue (locale/vi/...po)."""
    for package in _text_packages():
        total, missing = i18n.update_po(package)
        if total:
            console.print(f"{package.name}: {total} messages, {missing} without translation")


@app.command("check")
def i18n_check() -> None:
    """Fail when a marked message has no Vietnamese translation or lost a placeholder."""
    problems = [p for package in _text_packages() for p in i18n.check(package)]
    for problem in problems:
        console.print(f"[red]{problem.package}[/]: {problem.reason}: {problem.message!r}")
    if problems:
        console.print("Run `sipas i18n extract`, then translate the new entries.")
        raise typer.Exit(1)
    console.print("catalogue complete")
