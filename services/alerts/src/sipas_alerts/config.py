"""Reading the alert policy and the API users from YAML, with errors that name the field.

Both files are validated whole at start-up: a service with a broken policy refuses to
start (and ``sipas alerts check`` says why) rather than alerting wrongly.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sipas_alerts.domain.access import Principal
from sipas_alerts.domain.policy import Policy


class ConfigError(ValueError):
    """Raised when a policy or users file cannot be read or is invalid."""


def _read(path: Path | None, default: str) -> tuple[Any, str]:
    if path is None:
        text = (resources.files("sipas_alerts") / "defaults" / default).read_text(encoding="utf-8")
        return yaml.safe_load(text), f"<shipped {default}>"
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")), str(path)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc


def describe(exc: ValidationError) -> str:
    """``field: reason; ...`` of a validation error."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}" for e in exc.errors()
    )


def load_policy(path: Path | None = None) -> Policy:
    """The policy in ``path`` (the shipped default when None)."""
    document, origin = _read(path, "policy.yaml")
    try:
        return Policy.model_validate(document or {})
    except ValidationError as exc:
        raise ConfigError(f"{origin}: invalid alert policy: {describe(exc)}") from exc


def load_users(path: Path | None) -> list[Principal]:
    """The API users in ``path`` (nobody when None)."""
    if path is None:
        return []
    document, origin = _read(path, "")
    raw = (document or {}).get("users", []) if isinstance(document, dict) else None
    if not isinstance(raw, list):
        raise ConfigError(f"{origin}: expected a mapping with a 'users' list")
    users: list[Principal] = []
    for index, entry in enumerate(raw):
        try:
            users.append(Principal.model_validate(entry))
        except ValidationError as exc:
            raise ConfigError(f"{origin}: users[{index}]: {describe(exc)}") from exc
    for attr in ("id", "key_sha256"):
        values = [getattr(u, attr) for u in users]
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            what = "ids" if attr == "id" else "keys"
            raise ConfigError(f"{origin}: duplicate user {what}: {len(dupes)}")
    return users
