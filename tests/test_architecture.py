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


# One shape for every service (STYLE.md): a reader who knows one service knows them all.
SHARED_PACKAGES = {"api", "domain", "store"}
SHARED_MODULES = {"__main__", "app", "cli", "handlers", "metrics", "settings"}
# Packages a service has beyond the shared ones, each for a reason of its own.
EXTRA_PACKAGES = {
    "intake": {"web", "fieldmaps"},  # respondents' pages (survey, kiosk); shipped field maps
    # the shipped campaign files and their loader; decisions folded in memory (state,
    # book, ownership of partitions: #22), beside the store path while both exist
    "sampling": {"campaigns", "deciding"},
    "scoring": set(),
    "alerts": set(),
}
# The console is a web app over the other services' APIs: routes and templates in ``web``,
# the staff's own accounts in ``people``, no ``api``, ``domain`` or ``store`` of domain data
# and no consumers (so no ``handlers``).
CONSOLE_PACKAGES = {"web", "people"}
CONSOLE_MODULES = {"__main__", "app", "cli", "settings"}


def packages(service: str) -> set[str]:
    src = ROOT / "services" / service / "src" / f"sipas_{service}"
    return {p.parent.name for p in src.glob("*/__init__.py")}


def modules(service: str) -> set[str]:
    src = ROOT / "services" / service / "src" / f"sipas_{service}"
    return {p.stem for p in src.glob("*.py")}


@pytest.mark.parametrize("service", sorted(EXTRA_PACKAGES))
def test_every_service_has_the_same_top_level_packages(service):
    assert packages(service) == SHARED_PACKAGES | EXTRA_PACKAGES[service]
    assert modules(service) >= SHARED_MODULES, SHARED_MODULES - modules(service)


def test_the_console_has_the_packages_of_a_web_app():
    assert packages("console") == CONSOLE_PACKAGES
    assert modules("console") >= CONSOLE_MODULES, CONSOLE_MODULES - modules("console")


def classes(path: Path) -> dict[str, list[str]]:
    """The classes a module defines, with the names of their bases."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name: [ast.unparse(base) for base in node.bases]
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    }


@pytest.mark.parametrize("service", sorted(EXTRA_PACKAGES))
def test_every_mongo_store_implements_a_protocol_beside_it_and_stores_builds_them_all(service):
    store = ROOT / "services" / service / "src" / f"sipas_{service}" / "store"
    built: set[str] = set()
    for module in sorted(store.glob("*.py")):
        defined = classes(module)
        for name in (n for n in defined if n.startswith("Mongo")):
            protocol = name.removeprefix("Mongo")
            assert any("Protocol" in base for base in defined.get(protocol, [])), (module, name)
            # Subclassed explicitly: its docstrings live on the protocol, mypy checks the match.
            assert defined[name] == ["MongoStore", protocol], (module, name)
            built.add(name)
    stores = (store / "__init__.py").read_text(encoding="utf-8")
    assert "class Stores" in stores
    assert {name for name in built if f"{name}(db" not in stores} == set()


MAX_MODULE_LINES = 300
# Source modules allowed over MAX_MODULE_LINES, each with why (paths from the repository root).
LONG_MODULES = {
    "contracts/src/sipas_contracts/events.py": "every event of the contract in one place",
    "services/runtime/src/sipas_runtime/memory.py": "one class: fold, checkpoint, resume",
    "services/runtime/src/sipas_runtime/checkpoints.py": "fenced writer and its reader together",
    "services/runtime/src/sipas_runtime/dlq/command.py": "the whole `sipas dlq` command line",
    "services/runtime/src/sipas_runtime/channels/zalo.py": "ZNS sending with its OAuth refresh",
    "services/intake/src/sipas_intake/domain/dossiers.py": "each rule of a dossier, one place",
    "services/sampling/src/sipas_sampling/dispatch.py": "leases, quiet hours, retries: one loop",
    "services/sampling/src/sipas_sampling/app.py": "wires both decision paths until one goes",
}


def source_modules() -> list[Path]:
    roots = [ROOT / "contracts" / "src", *(ROOT / "services").glob("*/src")]
    return sorted(p for root in roots for p in root.rglob("*.py"))


def test_no_source_module_exceeds_300_lines_unless_listed_with_a_reason():
    lengths = {
        str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
        for p in source_modules()
    }
    too_long = {p for p, n in lengths.items() if n > MAX_MODULE_LINES}

    assert too_long <= LONG_MODULES.keys(), sorted(too_long - LONG_MODULES.keys())
    assert LONG_MODULES.keys() <= too_long, (
        f"listed but short now: {LONG_MODULES.keys() - too_long}"
    )


def bare_multi_writes(path: Path) -> list[str]:
    """``update_many`` / ``delete_many`` calls in ``path`` without a ``session``."""
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"update_many", "delete_many"}
        and not any(k.arg == "session" for k in node.keywords)
    ]


def test_multi_document_writes_run_in_a_transaction():
    """They take a session, or go through the runtime's helpers.

    A bare one can stop SecantusDB altogether (``sipas_runtime.mongo.update_many``).
    """
    helpers = ROOT / "services" / "runtime" / "src" / "sipas_runtime" / "mongo.py"
    bare = [where for p in source_modules() if p != helpers for where in bare_multi_writes(p)]
    assert bare == []
