"""The dependency rules of STYLE.md, checked mechanically on the import graph."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("intake", "sampling", "scoring", "alerts", "console")
STDLIB = set(sys.stdlib_module_names)


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def domain_modules(service: str) -> list[Path]:
    src = ROOT / "services" / service / "src" / f"sipas_{service}"
    return [p for p in [src / "domain.py", *sorted((src / "domain").glob("*.py"))] if p.is_file()]


# Rule data that goes stale, kept by maintained libraries (ARCHITECTURE.md): pure, no I/O.
RULE_DATA = {"holidays", "phonenumbers"}


@pytest.mark.parametrize("service", SERVICES)
def test_domain_code_imports_only_stdlib_pydantic_and_contracts(service):
    allowed = STDLIB | RULE_DATA | {"pydantic", "sipas_contracts", f"sipas_{service}", "__future__"}
    for path in domain_modules(service):
        forbidden = imports(path) - allowed
        assert not forbidden, f"{path.relative_to(ROOT)} imports {sorted(forbidden)}"


def modules_imported(path: Path) -> set[str]:
    """Full dotted names of the absolute imports of ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


# The one crossing, and why: an observer re-runs a draw in the console with the very function
# `sipas sampling verify` runs, so the browser and the CLI can never disagree. It is pure domain
# code (the domain test above holds it to no I/O); the console still reaches sampling's data
# only through its API.
PURE_CROSSINGS = {"console": {"sipas_sampling.domain.audit"}}


@pytest.mark.parametrize("service", SERVICES)
def test_services_never_import_each_other(service):
    others = {f"sipas_{s}" for s in SERVICES if s != service}
    for path in (ROOT / "services" / service).rglob("*.py"):
        crossing = {
            module
            for module in modules_imported(path) - PURE_CROSSINGS.get(service, set())
            if module.split(".")[0] in others
        }
        assert not crossing, f"{path.relative_to(ROOT)} imports {sorted(crossing)}"


def test_runtime_and_contracts_import_no_service():
    services = {f"sipas_{s}" for s in SERVICES}
    for folder in (ROOT / "services" / "runtime", ROOT / "contracts"):
        for path in folder.rglob("*.py"):
            assert not imports(path) & services, path


def test_contracts_stay_pure():
    allowed = STDLIB | {"pydantic", "yaml", "sipas_contracts", "__future__"}
    for path in (ROOT / "contracts" / "src").rglob("*.py"):
        assert not imports(path) - allowed, path


def test_no_module_is_a_dumping_ground():
    names = {p.stem for p in ROOT.glob("**/src/**/*.py")}
    assert not names & {"utils", "helpers", "common", "misc"}
